// sockets.cpp - Unix stream and datagram sockets, TCP and UDP on loopback.
//
// Every pair is connected by the coordinator before fork(), so what is
// timed is the exchange alone, never socket(), bind(), connect() or accept().
#include "fd_links.hpp"
#include "mechanisms.hpp"

#include "errors.hpp"
#include "fd.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace bench {

namespace {

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
