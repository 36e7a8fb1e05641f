// 08-socket/client.cpp - sends each message through a socket, prints each reply.
//
//   client [--name NAME | --tcp HOST:PORT | --udp HOST:PORT] [--timeout S] [MESSAGE...]
//
// 1. socket() of the server's kind, then connect(). On a stream that is the
//    handshake: ENOENT (no socket file) or ECONNREFUSED (a file or port with
//    nobody listening) says "not running" at once, as ENETUNREACH does (no
//    route to the address: a client on another network). On UDP connect() sends
//    nothing: it fixes the peer, so that the kernel can report the ICMP "port
//    unreachable" our first datagram provokes as ECONNREFUSED on recv().
// 2. Stream: send "MESSAGE\n", read up to the reply's newline (a reply may
//    come in pieces). UDP: send one datagram, receive one. Each wait is a
//    poll() bounded by --timeout.
// 3. close() (in lab::Fd): the server reads end of file and forgets us.
// Step 1 is ServerLink's constructor, step 2 its exchange(), below run().
#include "protocol.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/time.h>

namespace {

using namespace socket_lab;

// The client's end of the conversation: one connected socket, used for every message.
class ServerLink {
  public:
    ServerLink(const Endpoint& endpoint, double timeout_seconds); // 1. socket(), connect()
    std::string exchange(const std::string& message);             // 2. send, receive the reply

  private:
    // "server NAME not running (connect PATH: No such file or directory)", or for
    // TCP and UDP "server HOST:PORT not running (recv: Connection refused)"; what
    // errno says is what the client saw.
    lab::Failure not_running(const std::string& call) const {
        std::string path = server_ == where_ ? "" : " " + where_;
        return lab::not_running(server_, call + path + ": " + std::strerror(errno));
    }
    lab::Failure timed_out(const std::string& waiting_for) const {
        return lab::timed_out(timeout_seconds_, waiting_for);
    }
    void send_all(std::string_view data);
    void wait_readable(const lab::Deadline& deadline);
    std::size_t receive_some(std::span<char> buffer);
    std::string receive_line(const lab::Deadline& deadline);
    std::string receive_datagram(const lab::Deadline& deadline);

    bool stream_;
    double timeout_seconds_;
    std::string server_; // NAME, or HOST:PORT: the server as the user named it
    std::string where_;  // the socket path or HOST:PORT, for messages
    lab::Fd socket_;
    std::string pending_; // stream: what came after the last reply's newline
};

int run(int argc, char** argv) {
    lab::Options options(
        "[--name NAME | --tcp HOST:PORT | --udp HOST:PORT] [--timeout SECONDS] [MESSAGE...]",
        "Sends each MESSAGE (given none, each line of stdin) to the server and prints\n"
        "each reply on its own line.");
    Endpoint endpoint;
    double timeout_seconds = 0;
    add_endpoint_options(options, endpoint, false);
    options.add_timeout(timeout_seconds);
    std::vector<std::string> messages = options.parse(argc, argv);
    check_endpoint(endpoint);

    ServerLink server(endpoint, timeout_seconds);
    lab::for_each_message(messages, [&server](const std::string& message) {
        lab::print_line(server.exchange(message));
    });
    return lab::exit_ok;
}

// TASK 10 (step 1): create the socket and connect it
//   The constructor of `ServerLink`. Pick the address: for
//   `Transport::unix_stream` the file `socket_path(endpoint.name)` as a
//   `UnixAddress` from `unix_address()` (family `AF_UNIX`; it refuses a
//   path too long), else `endpoint.inet` (`.get()`, `.length`,
//   `.family()`). Set `server_` to the name as the user gave it (NAME or
//   `endpoint.inet.text`) and `where_` to the path or `HOST:PORT`.
//   `socket_ = lab::Fd(socket(family, type | SOCK_CLOEXEC, 0))` with type
//   `SOCK_STREAM` or `SOCK_DGRAM` (`stream_`); a blocking socket, on
//   failure `lab::sys_error("socket")`. A blocking `connect()` and `send()`
//   may wait without limit: bound them with `setsockopt(SOL_SOCKET,
//   SO_SNDTIMEO)` set to `timeout_seconds` as a `timeval` (at least 1 ms:
//   zero means no limit; failure `lab::sys_error("setsockopt SO_SNDTIMEO")`).
//   Then `connect(socket_.get(), address, length)`: `ENOENT` (no socket
//   file), `ECONNREFUSED` (nobody listens), `ENETUNREACH` or `EHOSTUNREACH`
//   (no route to the address): `throw not_running("connect")`; `EAGAIN`
//   or `EINPROGRESS` (`SO_SNDTIMEO` ran out): `throw timed_out("the
//   connection to " + where_)`; else `lab::sys_error("connect " + where_)`.
//   On UDP `connect()` sends nothing: it fixes the peer, so an ICMP "port
//   unreachable" comes back as `ECONNREFUSED` on a later `send()`/`recv()`.
//   man 2 socket, man 2 connect, man 7 socket, man 7 unix, man 7 ip
//   check: with no server, `./client hi` says `not running` at once
//   stub: ServerLink::ServerLink(const Endpoint& /*endpoint*/, double /*timeout_seconds*/) {
//   stub:     lab::not_written_yet(1, 10, "create the socket and connect it");
//   stub: }
// connect() and send() on a blocking socket wait without limit by default;
// SO_SNDTIMEO bounds them (connect: a Unix server's full listen queue, or the
// TCP handshake). A zero timeval would mean "no limit": keep it positive.
void bound_blocking_calls(int fd, double seconds) {
    double bounded = std::max(seconds, 0.001);
    timeval limit{};
    limit.tv_sec = static_cast<time_t>(bounded);
    limit.tv_usec = static_cast<suseconds_t>((bounded - static_cast<double>(limit.tv_sec)) * 1e6);
    if (::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit) < 0) {
        throw lab::sys_error("setsockopt SO_SNDTIMEO");
    }
}

ServerLink::ServerLink(const Endpoint& endpoint, double timeout_seconds)
    : stream_(endpoint.is_stream()), timeout_seconds_(timeout_seconds) {
    UnixAddress unix_socket;
    const sockaddr* address = endpoint.inet.get();
    socklen_t length = endpoint.inet.length;
    int family = endpoint.inet.family();
    server_ = where_ = endpoint.inet.text;
    if (endpoint.transport == Transport::unix_stream) {
        server_ = endpoint.name;
        where_ = socket_path(endpoint.name);
        unix_socket = unix_address(where_); // "too long" rather than a truncated path
        address = unix_socket.get();
        length = unix_socket.length;
        family = AF_UNIX;
    }
    // 1. A blocking socket: each wait below is bounded by poll() or SO_SNDTIMEO.
    socket_ = lab::Fd(::socket(family, (stream_ ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0));
    if (!socket_) {
        throw lab::sys_error("socket");
    }
    bound_blocking_calls(socket_.get(), timeout_seconds_);
    if (::connect(socket_.get(), address, length) < 0) {
        // No route to the server's address (another network, a host down):
        // nobody is there to answer, as good as no server.
        if (errno == ENOENT || errno == ECONNREFUSED || errno == ENETUNREACH ||
            errno == EHOSTUNREACH) {
            throw not_running("connect");
        }
        if (errno == EAGAIN || errno == EINPROGRESS) { // SO_SNDTIMEO ran out
            throw timed_out("the connection to " + where_);
        }
        throw lab::sys_error("connect " + where_);
    }
}
// END TASK 10

// 2. Sends one message, returns its reply; both within one --timeout.
std::string ServerLink::exchange(const std::string& message) {
    lab::Deadline deadline(timeout_seconds_);
    send_all(message + "\n");
    return stream_ ? receive_line(deadline) : receive_datagram(deadline);
}

// TASK 11 (step 2): send the message with send, read the reply with recv
//   Five member functions of `ServerLink`; `exchange()` calls them.
//
//   `send_all(data)`: `send(socket_.get(), ..., MSG_NOSIGNAL)` until all
//   of `data` is sent (it may take less; `MSG_NOSIGNAL`: a server gone
//   away gives `EPIPE`, not a `SIGPIPE` that kills us). `ECONNREFUSED`
//   (UDP, an earlier datagram was refused): `throw not_running("send")`;
//   `EAGAIN` (`SO_SNDTIMEO` ran out): `throw timed_out("room to send to "
//   + where_)`; `EINTR`: again; else `lab::sys_error("send to " + where_)`.
//
//   `receive_some(buffer)`: one `recv(socket_.get(), ..., 0)`, retried on
//   `EINTR`; returns the byte count. `ECONNREFUSED`: `throw
//   not_running("recv")`; `ECONNRESET`: return 0 (as good as end of
//   file); else `lab::sys_error("recv from " + where_)`.
//
//   `wait_readable(deadline)`: `poll()` the socket for `POLLIN` until
//   `deadline.milliseconds_left()`; ready (data, end of file or an error):
//   return; 0: `throw timed_out("the reply from " + where_)`; `EINTR`:
//   again; else `lab::sys_error("poll")`.
//
//   `receive_line(deadline)` (streams): a reply may come in pieces, and
//   more than one at once. Until `pending_` holds a newline:
//   `wait_readable(deadline)`, `receive_some()` a chunk of
//   4096 bytes into `pending_`; 0 bytes: `throw lab::Failure("recv from "
//   + where_ + ": the server closed the connection")`; over
//   `max(lab::max_message_bytes, too_long_reply.size())` bytes and still
//   no newline: `throw lab::Failure("recv from " + where_ + ": reply too
//   long (over N bytes without a newline)")`. Return the line without its
//   newline and keep the rest in `pending_`.
//
//   `receive_datagram(deadline)` (UDP): a `std::string` of
//   `max_datagram_bytes`, `wait_readable()`, one `receive_some()`, resize
//   to what came, `strip_newline()` it, return it.
//   man 2 send, man 2 recv, man 2 poll, man 7 socket
//   check: `./server`, then `printf 'a\nb\n' | ./client` prints `A` and `B`
//   stub: void ServerLink::send_all(std::string_view /*data*/) {
//   stub:     lab::not_written_yet(2, 11, "send the message with send, read the reply with recv");
//   stub: }
//   stub:
//   stub: std::string ServerLink::receive_line(const lab::Deadline& /*deadline*/) {
//   stub:     lab::not_written_yet(2, 11, "send the message with send, read the reply with recv");
//   stub: }
//   stub:
//   stub: std::string ServerLink::receive_datagram(const lab::Deadline& /*deadline*/) {
//   stub:     lab::not_written_yet(2, 11, "send the message with send, read the reply with recv");
//   stub: }
// Waits (bounded) until there is something to read: data, end of file or an error.
void ServerLink::wait_readable(const lab::Deadline& deadline) {
    pollfd ready{socket_.get(), POLLIN, 0};
    for (;;) {
        int count = ::poll(&ready, 1, deadline.milliseconds_left());
        if (count > 0) {
            return;
        }
        if (count == 0) {
            throw timed_out("the reply from " + where_);
        }
        if (errno != EINTR) {
            throw lab::sys_error("poll");
        }
    }
}

// No reply line of the contract is longer: a message's reply is as long as
// the message, or it is the error line. More without a newline is not our
// server talking, and buffering it would grow without bound until --timeout.
constexpr std::size_t max_reply_bytes = std::max(lab::max_message_bytes, too_long_reply.size());

void ServerLink::send_all(std::string_view data) {
    while (!data.empty()) {
        // MSG_NOSIGNAL: a server gone away gives EPIPE, not a SIGPIPE that kills us.
        ssize_t sent = ::send(socket_.get(), data.data(), data.size(), MSG_NOSIGNAL);
        if (sent >= 0) {
            data.remove_prefix(static_cast<std::size_t>(sent));
        } else if (errno == ECONNREFUSED) { // UDP: an earlier datagram was refused
            throw not_running("send");
        } else if (errno == EAGAIN) {
            throw timed_out("room to send to " + where_);
        } else if (errno != EINTR) {
            throw lab::sys_error("send to " + where_);
        }
    }
}

std::size_t ServerLink::receive_some(std::span<char> buffer) {
    for (;;) {
        ssize_t got = ::recv(socket_.get(), buffer.data(), buffer.size(), 0);
        if (got >= 0) {
            return static_cast<std::size_t>(got);
        }
        if (errno == ECONNREFUSED) { // UDP: ICMP "port unreachable" for our datagram
            throw not_running("recv");
        }
        if (errno == ECONNRESET) {
            return 0; // the server is gone: as good as end of file
        }
        if (errno != EINTR) {
            throw lab::sys_error("recv from " + where_);
        }
    }
}

// Stream: the next line, without its newline. A reply may arrive in
// pieces; pending_ keeps whatever came after the newline.
std::string ServerLink::receive_line(const lab::Deadline& deadline) {
    std::array<char, 4096> chunk;
    std::size_t newline = 0;
    while ((newline = pending_.find('\n')) == std::string::npos) {
        wait_readable(deadline);
        std::size_t got = receive_some(chunk);
        if (got == 0) {
            throw lab::Failure("recv from " + where_ + ": the server closed the connection");
        }
        pending_.append(chunk.data(), got);
        if (pending_.find('\n') == std::string::npos && pending_.size() > max_reply_bytes) {
            throw lab::Failure("recv from " + where_ + ": reply too long (over " +
                               std::to_string(max_reply_bytes) + " bytes without a newline)");
        }
    }
    std::string line = pending_.substr(0, newline);
    pending_.erase(0, newline + 1);
    return line;
}

// UDP: one datagram back, its trailing newline dropped.
std::string ServerLink::receive_datagram(const lab::Deadline& deadline) {
    std::string reply(max_datagram_bytes, '\0');
    wait_readable(deadline);
    reply.resize(receive_some(reply));
    strip_newline(reply);
    return reply;
}
// END TASK 11

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
