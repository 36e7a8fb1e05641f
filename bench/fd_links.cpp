// fd_links.cpp - the mechanisms reached through a file descriptor and
// read()/write() or send()/recv(): pipe, FIFO, Unix stream and datagram
// sockets, TCP and UDP on loopback.
//
// Each message costs two system calls and two copies (user to kernel on
// write, kernel to user on read), and a wake-up of the reader when it was
// asleep. What differs is the kernel path between: a pipe's ring of pages,
// a socket buffer queue, or the whole TCP/IP stack through loopback.
#include "mechanisms.hpp"
#include "objects.hpp"

#include "errors.hpp"
#include "io.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace bench {

namespace {

std::span<char> as_chars(std::span<std::uint64_t> words) {
    return {reinterpret_cast<char*>(words.data()), words.size_bytes()};
}

// A byte stream keeps no message boundaries: write() all of the message,
// read() until all of it has arrived (one read may return part of it).
class StreamLink : public Link {
  public:
    StreamLink(int out_fd, int in_fd, std::size_t message_bytes)
        : out_fd_(out_fd), in_fd_(in_fd), buffer_(message_bytes / sizeof(std::uint64_t)) {}

    void send(std::span<const std::byte> message) override {
        lab::write_all(out_fd_, {reinterpret_cast<const char*>(message.data()), message.size()});
    }
    std::span<const std::byte> receive() override {
        std::size_t got = lab::read_full(in_fd_, as_chars(buffer_));
        if (got != buffer_.size() * sizeof(std::uint64_t)) {
            throw lab::Failure("end of file after " + std::to_string(got) +
                               " bytes of a message: the other side is gone");
        }
        return std::as_bytes(std::span(buffer_));
    }

  protected:
    int out_fd_;
    int in_fd_;
    std::vector<std::uint64_t> buffer_;
};

// A datagram socket keeps boundaries: one send() is one message, one recv()
// takes it whole. With a window (UDP throughput), the receiver acknowledges
// every `ack_every` datagrams and the sender keeps at most twice that many
// unacknowledged: UDP drops what does not fit in the receive buffer, and a
// benchmark that lets it would time datagrams that never arrive.
class DatagramLink : public Link {
  public:
    DatagramLink(int fd, std::size_t message_bytes, std::size_t ack_every)
        : fd_(fd), buffer_(message_bytes / sizeof(std::uint64_t)), ack_every_(ack_every) {}

    void send(std::span<const std::byte> message) override {
        ssize_t sent = 0;
        do {
            sent = ::send(fd_, message.data(), message.size(), 0);
        } while (sent < 0 && errno == EINTR);
        if (sent < 0) {
            throw lab::sys_error("send");
        }
        if (static_cast<std::size_t>(sent) != message.size()) {
            throw lab::Failure("send: datagram cut to " + std::to_string(sent) + " bytes");
        }
        if (ack_every_ > 0 && ++unacknowledged_ == 2 * ack_every_) {
            wait_for_ack();
            unacknowledged_ -= ack_every_;
        }
    }
    std::span<const std::byte> receive() override {
        // MSG_TRUNC: recv() returns the datagram's real length, so one longer
        // than the buffer shows as a mismatch instead of passing cut short.
        ssize_t got = 0;
        do {
            got = ::recv(fd_, buffer_.data(), buffer_.size() * sizeof(std::uint64_t), MSG_TRUNC);
        } while (got < 0 && errno == EINTR);
        if (got < 0) {
            throw lab::sys_error("recv");
        }
        std::size_t kept = std::min(static_cast<std::size_t>(got), buffer_.size() * 8);
        return std::as_bytes(std::span(buffer_)).first(kept);
    }
    void release() override {
        if (ack_every_ > 0 && ++received_ % ack_every_ == 0) {
            std::uint64_t ack = received_;
            if (::send(fd_, &ack, sizeof ack, 0) != sizeof ack) {
                throw lab::sys_error("send (acknowledgement)");
            }
        }
    }

  private:
    void wait_for_ack() const {
        std::uint64_t ack = 0;
        ssize_t got = 0;
        do {
            got = ::recv(fd_, &ack, sizeof ack, 0);
        } while (got < 0 && errno == EINTR);
        if (got != sizeof ack) {
            throw lab::sys_error("recv (acknowledgement)");
        }
    }

    int fd_;
    std::vector<std::uint64_t> buffer_;
    std::size_t ack_every_;
    std::size_t unacknowledged_ = 0;
    std::size_t received_ = 0;
};

// Two descriptors per side at most: what A writes to and reads from, and
// the same for B. A socket is one descriptor used both ways.
class FdPair : public LinkPair {
  protected:
    std::unique_ptr<Link> open(Side& side) override {
        bool is_a = side.role() == Role::a;
        int out_fd = is_a ? a_out_ : b_out_;
        int in_fd = is_a ? a_in_ : b_in_;
        if (datagrams_) {
            return std::make_unique<DatagramLink>(out_fd, side.job().message_bytes, ack_every_);
        }
        return std::make_unique<StreamLink>(out_fd, in_fd, side.job().message_bytes);
    }

    int a_out_ = -1, a_in_ = -1, b_out_ = -1, b_in_ = -1;
    bool datagrams_ = false;
    std::size_t ack_every_ = 0;
};

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
class SocketPair : public FdPair {
  protected:
    void use(lab::Fd a_end, lab::Fd b_end, bool datagrams) {
        a_end_ = std::move(a_end);
        b_end_ = std::move(b_end);
        a_out_ = a_in_ = a_end_.get();
        b_out_ = b_in_ = b_end_.get();
        datagrams_ = datagrams;
    }
    lab::Fd a_end_;
    lab::Fd b_end_;
};

class UnixPair : public SocketPair {
  public:
    explicit UnixPair(int type) {
        // socketpair(): connected Unix sockets with no name in the file
        // system, as lmbench's lat_unix/bw_unix use; a bound path costs the
        // same once connected.
        int fds[2];
        if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) < 0) {
            throw lab::sys_error("socketpair");
        }
        use(lab::Fd(fds[0]), lab::Fd(fds[1]), type == SOCK_DGRAM);
    }
};

sockaddr_in loopback_any_port() {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = 0; // the kernel picks a free port
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

lab::Fd bound_socket(int type) {
    lab::Fd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
    if (!fd) {
        throw lab::sys_error("socket");
    }
    sockaddr_in address = loopback_any_port();
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) < 0) {
        throw lab::sys_error("bind 127.0.0.1");
    }
    return fd;
}

sockaddr_in local_address(int fd) {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) < 0) {
        throw lab::sys_error("getsockname");
    }
    return address;
}

void connect_to(int fd, const sockaddr_in& address) {
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) < 0) {
        throw lab::sys_error("connect 127.0.0.1:" + std::to_string(ntohs(address.sin_port)));
    }
}

void set_option(int fd, int level, int option, int value, const char* what) {
    if (::setsockopt(fd, level, option, &value, sizeof value) < 0) {
        throw lab::sys_error(std::string("setsockopt ") + what);
    }
}

class TcpPair : public SocketPair {
  public:
    TcpPair() {
        // The connection is made here, once: connect() to our own listening
        // socket completes through loopback, then accept() takes B's end.
        lab::Fd listener = bound_socket(SOCK_STREAM);
        if (::listen(listener.get(), 1) < 0) {
            throw lab::sys_error("listen");
        }
        lab::Fd a_end(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!a_end) {
            throw lab::sys_error("socket");
        }
        connect_to(a_end.get(), local_address(listener.get()));
        lab::Fd b_end(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!b_end) {
            throw lab::sys_error("accept4");
        }
        // Nagle's algorithm would hold a small message back while an earlier
        // one is unacknowledged; a latency benchmark wants it sent at once.
        set_option(a_end.get(), IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
        set_option(b_end.get(), IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
        use(std::move(a_end), std::move(b_end), false);
    }
};

class UdpPair : public SocketPair {
  public:
    explicit UdpPair(const Job& job) {
        lab::Fd a_end = bound_socket(SOCK_DGRAM);
        lab::Fd b_end = bound_socket(SOCK_DGRAM);
        connect_to(a_end.get(), local_address(b_end.get()));
        connect_to(b_end.get(), local_address(a_end.get()));
        if (job.metric == Metric::throughput) {
            ack_every_ = window_half(a_end.get(), b_end.get(), job.message_bytes);
        }
        use(std::move(a_end), std::move(b_end), true);
    }

  private:
    // Asks for large buffers (up to net.core.rmem_max), then sizes the
    // window to a quarter of what the receiver got: a datagram takes more
    // than its length in buffer accounting (skb overhead).
    static std::size_t window_half(int a_fd, int b_fd, std::size_t datagram_bytes) {
        constexpr int wanted_bytes = 4 << 20;
        set_option(a_fd, SOL_SOCKET, SO_SNDBUF, wanted_bytes, "SO_SNDBUF");
        set_option(b_fd, SOL_SOCKET, SO_RCVBUF, wanted_bytes, "SO_RCVBUF");
        int granted = 0;
        socklen_t length = sizeof granted;
        if (::getsockopt(b_fd, SOL_SOCKET, SO_RCVBUF, &granted, &length) < 0) {
            throw lab::sys_error("getsockopt SO_RCVBUF");
        }
        std::size_t in_flight = static_cast<std::size_t>(granted) / 4 / datagram_bytes;
        return std::max<std::size_t>(1, in_flight / 2);
    }
};

} // namespace

std::unique_ptr<Pair> make_pipe(const Job& job, const Placement& /*placement*/) {
    return std::make_unique<PipePair>(job);
}

std::unique_ptr<Pair> make_fifo(const Job& job, const Placement& /*placement*/) {
    return std::make_unique<FifoPair>(job);
}

std::unique_ptr<Pair> make_unix_stream(const Job& /*job*/, const Placement& /*placement*/) {
    return std::make_unique<UnixPair>(SOCK_STREAM);
}

std::unique_ptr<Pair> make_unix_dgram(const Job& /*job*/, const Placement& /*placement*/) {
    return std::make_unique<UnixPair>(SOCK_DGRAM);
}

std::unique_ptr<Pair> make_tcp(const Job& /*job*/, const Placement& /*placement*/) {
    return std::make_unique<TcpPair>();
}

std::unique_ptr<Pair> make_udp(const Job& job, const Placement& /*placement*/) {
    return std::make_unique<UdpPair>(job);
}

} // namespace bench
