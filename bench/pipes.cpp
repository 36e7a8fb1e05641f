// pipes.cpp - pipe and FIFO: the kernel's ring of pages between a writer
// and a reader. A pipe is one-way and nameless (the two sides share it
// through fork()); a FIFO is the same pipe reached through a name.
#include "fd_links.hpp"
#include "mechanisms.hpp"
#include "objects.hpp"

#include "errors.hpp"

#include <cerrno>
#include <fcntl.h>
#include <optional>
#include <unistd.h>

namespace bench {

namespace {

class PipePair : public FdPair {
  public:
    explicit PipePair(const Job& job) {
        make_pipe(a_to_b_);
        a_out_ = a_to_b_[1].get();
        b_in_ = a_to_b_[0].get();
        if (job.metric == Metric::latency) { // a pipe is one-way: answers need a second
            make_pipe(b_to_a_);
            b_out_ = b_to_a_[1].get();
            a_in_ = b_to_a_[0].get();
        }
    }

  private:
    static void make_pipe(lab::Fd (&ends)[2]) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) < 0) {
            throw lab::sys_error("pipe2");
        }
        ends[0].reset(fds[0]);
        ends[1].reset(fds[1]);
    }
    lab::Fd a_to_b_[2];
    lab::Fd b_to_a_[2];
};

// A FIFO is a pipe with a name: each side open()s it by path, and open()
// waits until the other end is opened too.
class FifoPair : public LinkPair {
  public:
    explicit FifoPair(const Job& job) : a_to_b_("a-to-b") {
        if (job.metric == Metric::latency) {
            b_to_a_.emplace("b-to-a");
        }
    }

  protected:
    std::unique_ptr<Link> open(Side& side) override {
        return std::make_unique<FifoLink>(side.role(), a_to_b_, b_to_a_ ? &*b_to_a_ : nullptr,
                                          side.job().message_bytes);
    }

  private:
    class FifoLink : public StreamLink {
      public:
        FifoLink(Role role, const Fifo& a_to_b, const Fifo* b_to_a, std::size_t bytes)
            : StreamLink(-1, -1, bytes) {
            // Both sides open a_to_b first: opposite orders would leave each
            // side waiting in open() for the other.
            if (role == Role::a) {
                out_.reset(open_fifo(a_to_b.path(), O_WRONLY));
                in_.reset(b_to_a ? open_fifo(b_to_a->path(), O_RDONLY) : -1);
            } else {
                in_.reset(open_fifo(a_to_b.path(), O_RDONLY));
                out_.reset(b_to_a ? open_fifo(b_to_a->path(), O_WRONLY) : -1);
            }
            out_fd_ = out_.get();
            in_fd_ = in_.get();
        }

      private:
        static int open_fifo(const std::string& path, int mode) {
            int fd = -1;
            do {
                fd = ::open(path.c_str(), mode | O_CLOEXEC);
            } while (fd < 0 && errno == EINTR);
            if (fd < 0) {
                throw lab::sys_error("open " + path);
            }
            return fd;
        }
        lab::Fd out_;
        lab::Fd in_;
    };

    Fifo a_to_b_;
    std::optional<Fifo> b_to_a_;
};

// A connected pair of sockets, A's end and B's end, each used both ways.
} // namespace

std::unique_ptr<Pair> make_pipe(const Job& job, const Placement& /*placement*/) {
    return std::make_unique<PipePair>(job);
}

std::unique_ptr<Pair> make_fifo(const Job& job, const Placement& /*placement*/) {
    return std::make_unique<FifoPair>(job);
}

} // namespace bench
