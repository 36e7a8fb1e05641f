// 08-socket/server.cpp - one process serving many clients through a socket.
//
//   server [--name NAME]         Unix stream socket RUNTIME/socket/NAME.sock
//   server --tcp [HOST:]PORT     TCP on HOST (default 127.0.0.1); PORT 0: any free port
//   server --udp [HOST:]PORT     UDP, the same way
//
// 1. socket(): SOCK_STREAM (Unix, TCP) or SOCK_DGRAM (UDP), non-blocking;
//    for UDP, setsockopt(IP_PKTINFO / IPV6_RECVPKTINFO) too (server-udp.cpp).
// 2. bind() gives it the name clients use: the file NAME.sock, made 0600
//    (umask around bind), after removing what a killed server left there
//    (safe: we hold the instance lock); or an address and port, where
//    getsockname() tells which port 0 picked.
// 3. listen() (streams only): from here on the kernel completes connections
//    and queues them until we accept4() them, even while we are busy.
// 4. Exchange. Streams: server-event-loop.cpp, one poll() loop over all the
//    connections: accept4() each new one; recv() lines and send() reply
//    lines (server-connection.cpp), as many connections at once as the
//    descriptors allow (setrlimit(RLIMIT_NOFILE) raised first), at most 1024,
//    the longest idle closed to admit a new one. UDP: server-udp.cpp,
//    recvmsg() a datagram, its sender and the address it was sent to;
//    sendmsg() the reply to the sender from that address. No connection,
//    nothing kept per client.
// 5. SIGINT/SIGTERM end the loop; the destructors close every socket, unlink
//    NAME.sock, then drop the instance lock.
// Steps 1 to 3 are serve_unix() and serve_inet(), below run().
#include "server-event-loop.hpp"
#include "server-udp.hpp"

#include <cerrno>
#include <cstdio>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/stat.h>

namespace {

using namespace socket_lab;

// Below run(): steps 1 to 3 (serve_unix, serve_inet) and their helpers.
void raise_descriptor_limit();
void serve_unix(const std::string& name, const lab::StopSignals& stop);
void serve_inet(const Endpoint& endpoint, const lab::StopSignals& stop);
void bind_owner_only(const lab::Fd& listener, const UnixAddress& address, const std::string& path);
void remove_leftover_socket(const std::string& path);
int bound_port(int fd);

int run(int argc, char** argv) {
    lab::Options options("[--name NAME | --tcp [HOST:]PORT | --udp [HOST:]PORT]",
                         "Serves clients over a Unix stream socket (default), TCP or UDP: each\n"
                         "line gets its reply line, a-z turned to A-Z. Runs until SIGINT/SIGTERM.");
    Endpoint endpoint;
    add_endpoint_options(options, endpoint, true);
    if (auto operands = options.parse(argc, argv); !operands.empty()) {
        throw lab::UsageError("unexpected argument '" + operands.front() + "' (try --help)");
    }
    check_endpoint(endpoint);
    lab::ignore_sigpipe(); // MSG_NOSIGNAL covers the sockets; this covers the rest
    lab::StopSignals stop;
    raise_descriptor_limit();

    if (endpoint.transport == Transport::unix_stream) {
        serve_unix(endpoint.name, stop);
    } else {
        serve_inet(endpoint, stop);
    }
    return lab::exit_ok;
}

void serve_unix(const std::string& name, const lab::StopSignals& stop) {
    const std::string path = socket_path(name);
    const UnixAddress address = unix_address(path); // "too long" before anything is made
    lab::InstanceLock lock(topic, name);
    remove_leftover_socket(path);

    // TASK 1 (step 1): create the listening socket with socket
    //   Make `listener`, a `lab::Fd` holding a new socket: `socket(AF_UNIX,
    //   SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)`. Non-blocking, so that
    //   the event loop's `accept4()` says `EAGAIN` instead of waiting when no
    //   client is queued; close-on-exec, so no program we start inherits it.
    //   On failure (an empty `lab::Fd`) throw `lab::sys_error("socket")`.
    //   man 2 socket, man 7 unix
    //   stub: lab::Fd listener(
    //   stub:     lab::not_written_yet<int>(1, 1, "create the listening socket with socket"));
    // 1. SOCK_NONBLOCK: the loop's accept4() says EAGAIN instead of waiting
    // when the queue is empty. SOCK_CLOEXEC: no program we start inherits it.
    lab::Fd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!listener) {
        throw lab::sys_error("socket");
    }
    // END TASK 1
    bind_owner_only(listener, address, path); // 2
    lab::OwnedPath file(path); // bind() made it; it outlives the socket unless removed
    // TASK 3 (step 3): start accepting connections with listen
    //   `listen(listener.get(), SOMAXCONN)`: from here on the kernel completes
    //   clients' connections and queues them until the event loop accepts
    //   them. `SOMAXCONN` asks for the longest queue the kernel allows. On
    //   failure throw `lab::sys_error("listen " + path)`.
    //   man 2 listen
    //   check: `./server`, then `ss -xl | grep NAME.sock` shows it listening
    // 3. SOMAXCONN: the longest queue of connections not yet accepted the
    // kernel allows (net.core.somaxconn), room for bursts of clients.
    if (::listen(listener.get(), SOMAXCONN) < 0) {
        throw lab::sys_error("listen " + path);
    }
    // END TASK 3

    lab::print_ready({{"path", path}});
    serve_stream(listener, true, stop); // 4
}

// TASK 2 (step 2): bind the socket to NAME.sock, mode 0600
//   `bind(listener.get(), address.get(), address.length)` creates the file
//   `path` (`address` is its `sockaddr_un`, made by the caller). The file's mode
//   comes from the umask: set `umask(0177)` just before `bind()` and put
//   the old umask back right after, so the file is 0600 from its first
//   instant (no window where another user could connect). Save `errno`
//   before restoring the umask; on failure throw
//   `lab::sys_error(saved_errno, "bind " + path)` (`EADDRINUSE`: a file is
//   already there). (The caller then makes `lab::OwnedPath file(path)`:
//   the file is removed on every way out.)
//   man 2 bind, man 2 umask, man 7 unix
//   check: `./server`, then `ls -l` on its ready line's path shows `srw-------`
//   stub: void bind_owner_only(const lab::Fd& /*listener*/, const UnixAddress& /*address*/,
//   stub:                      const std::string& /*path*/) {
//   stub:     lab::not_written_yet(2, 2, "bind the socket to NAME.sock, mode 0600");
//   stub: }
// 2. The file's mode comes from the umask: set it so the file is 0600 from
// its first instant, not chmod()ed after a window where others could connect.
void bind_owner_only(const lab::Fd& listener, const UnixAddress& address, const std::string& path) {
    mode_t old_umask = ::umask(0177);
    int bound = ::bind(listener.get(), address.get(), address.length);
    int bind_errno = errno;
    ::umask(old_umask);
    if (bound < 0) {
        throw lab::sys_error(bind_errno, "bind " + path);
    }
}
// END TASK 2

void serve_inet(const Endpoint& endpoint, const lab::StopSignals& stop) {
    const bool stream = endpoint.is_stream();
    // TASK 4 (step 1): socket, bind and listen for TCP and UDP
    //   Make `server_socket`, a `lab::Fd`: `socket(endpoint.inet.family(), type
    //   | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)` with type `SOCK_STREAM` for TCP
    //   (`stream`), `SOCK_DGRAM` for UDP; on failure `lab::sys_error("socket")`.
    //   Before binding: for TCP, `setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)` so a
    //   restarted server can bind its port while the last run's connections
    //   sit in TIME_WAIT (throw `lab::sys_error("setsockopt SO_REUSEADDR")`);
    //   for UDP, `ask_for_destination_addresses(server_socket,
    //   endpoint.inet.family())` (given, in server-udp.cpp) so each reply can
    //   leave from the address its request came to. Then `bind()` to
    //   `endpoint.inet.get()`, `endpoint.inet.length` (port 0: the kernel picks
    //   one); on failure `lab::sys_error("bind " + endpoint.inet.text)`
    //   (`EADDRINUSE` prints "... in use"). For TCP only, `listen(...,
    //   SOMAXCONN)`, failure `lab::sys_error("listen " + endpoint.inet.text)`:
    //   a datagram socket has no connections to queue.
    //   man 2 socket, man 2 setsockopt, man 2 bind, man 2 listen, man 7 ip, man 7 udp
    //   check: `./server --tcp 0` prints its port; `ss -tln` lists it
    //   stub: lab::Fd server_socket(
    //   stub:     lab::not_written_yet<int>(1, 4, "socket, bind and listen for TCP and UDP"));
    // 1. Non-blocking, as in serve_unix(): the loop's accept4() and recvmsg() never wait.
    lab::Fd server_socket(
        ::socket(endpoint.inet.family(),
                 (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!server_socket) {
        throw lab::sys_error("socket");
    }
    if (stream) {
        // Without SO_REUSEADDR a restarted server cannot bind its port while
        // the last run's connections sit in TIME_WAIT (a minute). Not for UDP:
        // there it would let a second server share the port.
        int on = 1;
        if (::setsockopt(server_socket.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0) {
            throw lab::sys_error("setsockopt SO_REUSEADDR");
        }
    } else {
        // A server bound to 0.0.0.0 must answer from the address each request
        // came to: a connected UDP client drops replies from any other.
        ask_for_destination_addresses(server_socket, endpoint.inet.family());
    }
    // 2. Port 0: the kernel picks a free one, and getsockname() tells which.
    if (::bind(server_socket.get(), endpoint.inet.get(), endpoint.inet.length) < 0) {
        throw lab::sys_error("bind " + endpoint.inet.text); // EADDRINUSE: "... in use"
    }
    // 3. Streams only: a datagram socket has no connections to queue.
    if (stream && ::listen(server_socket.get(), SOMAXCONN) < 0) {
        throw lab::sys_error("listen " + endpoint.inet.text);
    }
    // END TASK 4
    const int port = bound_port(server_socket.get());
    lab::print_ready({{"port", std::to_string(port)}});
    if (stream) { // 4
        serve_stream(server_socket, false, stop);
    } else {
        serve_datagrams(server_socket, port, stop);
    }
}

// bind() fails with EADDRINUSE while a file is at the path, even a dead
// server's socket. We hold the instance lock, so no live server owns it; but
// never remove something that is not a socket.
void remove_leftover_socket(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) < 0) {
        if (errno == ENOENT) {
            return;
        }
        throw lab::sys_error("lstat " + path);
    }
    if (!S_ISSOCK(st.st_mode)) {
        throw lab::Failure(path + " exists and is not a socket; not removing it");
    }
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) {
        throw lab::sys_error("unlink " + path);
    }
}

// Every connection costs a descriptor. The soft limit (RLIMIT_NOFILE) is
// often 1024 where the hard one is far higher: take all we are allowed, so
// that other users' idle connections do not use up a small default
// (server-event-loop.cpp sizes its table of connections from what we get).
void raise_descriptor_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) < 0) {
        throw lab::sys_error("getrlimit RLIMIT_NOFILE");
    }
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &limit) < 0) {
            throw lab::sys_error("setrlimit RLIMIT_NOFILE");
        }
    }
}

// The port a socket is bound to: after bind() to port 0, the one the kernel chose.
int bound_port(int fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) < 0) {
        throw lab::sys_error("getsockname");
    }
    in_port_t port = address.ss_family == AF_INET6
                         ? reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port
                         : reinterpret_cast<const sockaddr_in*>(&address)->sin_port;
    return ntohs(port);
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
