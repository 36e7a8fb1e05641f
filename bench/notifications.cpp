// notifications.cpp - real-time signals and eventfd: a wake-up that carries
// one 8-byte word (a signal's sigval, an eventfd's counter), both checked.
// No buffer to copy: what is left is the system calls and the wake-ups.
#include "mechanisms.hpp"

#include "errors.hpp"
#include "fd.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <sys/eventfd.h>
#include <unistd.h>

namespace bench {

namespace {

// --- real-time signals: sigqueue() with a value, sigwaitinfo() ----------

class SignalLink : public Link {
  public:
    explicit SignalLink(const Side& side) : peer_(side.peer_pid()) {
        // Blocked, the signal waits in the queue for sigwaitinfo() instead of
        // running a handler (or killing us: the default action of SIGRTMIN).
        // Both sides block it before either sends.
        sigemptyset(&signals_);
        sigaddset(&signals_, SIGRTMIN);
        if (::sigprocmask(SIG_BLOCK, &signals_, nullptr) < 0) {
            throw lab::sys_error("sigprocmask");
        }
        side.tell_peer();
        side.wait_for_peer();
    }

    void send(std::span<const std::byte> message) override {
        sigval value{};
        static_assert(sizeof value == sizeof(std::uint64_t));
        std::memcpy(&value, message.data(), sizeof value);
        // sigqueue, not kill: real-time signals queue (none is merged) and
        // carry a value. EAGAIN would mean the queue limit (RLIMIT_SIGPENDING).
        if (::sigqueue(peer_, SIGRTMIN, value) < 0) {
            throw lab::sys_error("sigqueue");
        }
    }
    std::span<const std::byte> receive() override {
        siginfo_t info{};
        while (::sigwaitinfo(&signals_, &info) < 0) {
            if (errno != EINTR) {
                throw lab::sys_error("sigwaitinfo");
            }
        }
        if (info.si_code != SI_QUEUE || info.si_pid != peer_) {
            throw lab::Failure("a signal not sent by the other side (from pid " +
                               std::to_string(info.si_pid) + ")");
        }
        std::memcpy(&value_, &info.si_value, sizeof value_);
        return std::as_bytes(std::span(&value_, 1));
    }

  private:
    pid_t peer_;
    sigset_t signals_{};
    std::uint64_t value_ = 0;
};

class SignalPair : public LinkPair {
  protected:
    std::unique_ptr<Link> open(Side& side) override { return std::make_unique<SignalLink>(side); }
};

// --- eventfd: a 64-bit counter behind a descriptor -----------------------

class EventfdLink : public Link {
  public:
    EventfdLink(int out_fd, int in_fd) : out_fd_(out_fd), in_fd_(in_fd) {}

    void send(std::span<const std::byte> message) override {
        // write() adds the 8-byte value to the counter and wakes the reader.
        while (::write(out_fd_, message.data(), message.size()) < 0) {
            if (errno != EINTR) {
                throw lab::sys_error("write eventfd");
            }
        }
    }
    std::span<const std::byte> receive() override {
        // read() waits for a non-zero counter, returns it and resets it to 0.
        while (::read(in_fd_, &value_, sizeof value_) < 0) {
            if (errno != EINTR) {
                throw lab::sys_error("read eventfd");
            }
        }
        return std::as_bytes(std::span(&value_, 1));
    }

  private:
    int out_fd_;
    int in_fd_;
    std::uint64_t value_ = 0;
};

class EventfdPair : public LinkPair {
  public:
    EventfdPair() : a_to_b_(make_eventfd()), b_to_a_(make_eventfd()) {}

  protected:
    std::unique_ptr<Link> open(Side& side) override {
        if (side.role() == Role::a) {
            return std::make_unique<EventfdLink>(a_to_b_.get(), b_to_a_.get());
        }
        return std::make_unique<EventfdLink>(b_to_a_.get(), a_to_b_.get());
    }

  private:
    static lab::Fd make_eventfd() {
        lab::Fd fd(::eventfd(0, EFD_CLOEXEC));
        if (!fd) {
            throw lab::sys_error("eventfd");
        }
        return fd;
    }
    lab::Fd a_to_b_;
    lab::Fd b_to_a_;
};

} // namespace

std::unique_ptr<Pair> make_signal(const Job& /*job*/, const Placement& /*placement*/) {
    return std::make_unique<SignalPair>();
}

std::unique_ptr<Pair> make_eventfd(const Job& /*job*/, const Placement& /*placement*/) {
    return std::make_unique<EventfdPair>();
}

} // namespace bench
