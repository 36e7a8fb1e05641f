// server-event-loop.cpp - the stream server's exchange: one thread, one poll(), every connection.
//
// Each turn, poll() says which sockets are ready; every ready connection then
// gets at most one recv() and one send(), and neither can block: every socket
// is O_NONBLOCK. A client that sends nothing, sends half a line, or never
// reads its replies costs only its own turn; the others are served in the
// same loop. No thread per client, so no lock and no shared state to guard.
// The table of connections has a size (Table): a client that holds many
// connections and says nothing loses its idlest ones to new clients, it
// never locks them out.
#include "server-event-loop.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <vector>

namespace socket_lab {

namespace {

// How many connections are served at once. Each costs a descriptor and up to
// ~80 KiB of buffers, and poll() looks at every one each turn; a client
// needs one only while it is connected. When the table is full, the
// connection quiet the longest is closed to admit the new one: another user
// holding hundreds of idle connections then costs them their oldest idle
// connections, not everyone their service.
constexpr std::size_t max_connections = 1024;
// Descriptors kept for everything else: stdio, the listener, the stop pipe,
// the instance lock, and one for accept4() to return before we evict.
constexpr rlim_t reserved_descriptors = 16;

// The table's size: max_connections, or fewer when RLIMIT_NOFILE is lower
// (the server raised its soft limit to the hard one at start).
std::size_t connection_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) < 0) {
        throw lab::sys_error("getrlimit RLIMIT_NOFILE");
    }
    rlim_t room = limit.rlim_cur > reserved_descriptors ? limit.rlim_cur - reserved_descriptors : 1;
    return static_cast<std::size_t>(std::min<rlim_t>(room, max_connections));
}

// Connections, and the room they may take.
struct Table {
    std::vector<Connection> connections;
    std::size_t limit = connection_limit();
    Episode full;                        // "closing idle connections" said once per episode
    std::optional<lab::Deadline> paused; // accepting paused until then
    Episode out_of_descriptors;

    // Closes the connection whose client has been quiet the longest, to make
    // room for a new one. False when there is none.
    bool evict_idlest() {
        auto idlest = std::min_element(connections.begin(), connections.end(),
                                       [](const Connection& a, const Connection& b) {
                                           return a.last_active() < b.last_active();
                                       });
        if (idlest == connections.end()) {
            return false;
        }
        if (auto note = full.occurred()) {
            warn("too many connections (" + std::to_string(connections.size()) +
                 "): closing the longest idle to admit new ones" + *note);
        }
        connections.erase(idlest); // its lab::Fd closes it
        return true;
    }
};

// TASK 5 (step 4): accept each new connection with accept4
//   `accept_new()` runs when `poll()` says the listener is readable: take
//   every connection waiting in its queue. Loop: first, if the table is
//   full (`table.connections.size() >= table.limit`),
//   `table.evict_idlest()`. Then `lab::Fd fd(accept4(listener.get(),
//   nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC))`: the new
//   connection's own socket (an accepted socket does not inherit
//   `O_NONBLOCK` from the listener, and the loop must never block on one
//   client). Got one: `table.connections.emplace_back(std::move(fd),
//   peer)` where `peer` is `""`, or, when `peer_credentials` (Unix
//   sockets), `" (pid=P uid=U)"` from `getsockopt(fd, SOL_SOCKET,
//   SO_PEERCRED)` into a `ucred` (the kernel recorded who connected; on
//   failure warn `getsockopt SO_PEERCRED: REASON` and use
//   `" (pid=? uid=?)"`); then the next one. Else look at `errno`:
//   `EAGAIN`: the queue is empty, `return`. `EMFILE`, `ENFILE`,
//   `ENOBUFS`, `ENOMEM`: out of descriptors or memory: again if
//   `table.evict_idlest()` freed one; else warn `accept4: REASON; pausing
//   new connections` once per episode (`table.out_of_descriptors`, as
//   `evict_idlest` uses `full`), pause accepting for 0.1 s
//   (`table.paused.emplace(0.1)`) and `return`. `EINTR`, `ECONNABORTED`
//   (the client gave up while queued), `EPROTO`, `ENETDOWN`,
//   `ENETUNREACH`, `EHOSTUNREACH`: take the next one. Anything else:
//   `throw lab::sys_error("accept4")`.
//   man 2 accept4, man 2 getsockopt, man 7 unix
//   check: `./server`; `./client hi` elsewhere prints `HI`, the server logs it
//   stub: void accept_new(const lab::Fd& /*listener*/, bool /*peer_credentials*/,
//   stub:                 Table& /*table*/) {
//   stub:     lab::not_written_yet(4, 5, "accept each new connection with accept4");
//   stub: }
// accept4() failing for want of memory or system-wide descriptors (ENFILE)
// with no connection of ours left to close: the listener stays readable, so
// pause accepting for a while rather than spin on it.
constexpr double accept_pause_seconds = 0.1;

// " (pid=P uid=U)": who is at the other end of a Unix socket, as the kernel
// recorded it at connect() time; the client cannot make it up.
std::string peer_credentials_of(int fd) {
    ucred credentials{};
    socklen_t length = sizeof credentials;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) < 0) {
        warn(std::string("getsockopt SO_PEERCRED: ") + std::strerror(errno));
        return " (pid=? uid=?)";
    }
    return " (pid=" + std::to_string(credentials.pid) + " uid=" + std::to_string(credentials.uid) +
           ")";
}

// Takes every connection waiting in the listen queue (the listener is
// non-blocking, so the last accept4() says EAGAIN instead of waiting).
void accept_new(const lab::Fd& listener, bool peer_credentials, Table& table) {
    for (;;) {
        if (table.connections.size() >= table.limit) {
            table.evict_idlest();
        }
        // SOCK_NONBLOCK: an accepted socket does not inherit it from the listener.
        lab::Fd fd(::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (fd) {
            std::string peer = peer_credentials ? peer_credentials_of(fd.get()) : "";
            table.connections.emplace_back(std::move(fd), std::move(peer));
            continue;
        }
        switch (errno) {
        case EAGAIN:
            return;
        case EMFILE: // fewer descriptors than the table assumed (a lower limit set since)
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
            if (table.evict_idlest()) {
                continue; // that freed a descriptor (and some memory): try again
            }
            if (auto note = table.out_of_descriptors.occurred()) {
                warn(std::string("accept4: ") + std::strerror(errno) + "; pausing new connections" +
                     *note);
            }
            table.paused.emplace(accept_pause_seconds);
            return;
        case EINTR:
        case ECONNABORTED: // the client gave up while queued: take the next one
        case EPROTO:
        case ENETDOWN:
        case ENETUNREACH:
        case EHOSTUNREACH:
            continue;
        default:
            throw lab::sys_error("accept4");
        }
    }
}
// END TASK 5

} // namespace

void serve_stream(const lab::Fd& listener, bool peer_credentials, const lab::StopSignals& stop) {
    enum { stop_signal, listening, first_connection };
    Table table;
    std::vector<Connection>& connections = table.connections;
    std::vector<pollfd> fds;
    while (!stop.requested()) {
        if (table.paused && table.paused->expired()) {
            table.paused.reset();
        }
        // A negative fd is skipped by poll(): that is how accepting pauses.
        fds.assign({{stop.fd(), POLLIN, 0}, {table.paused ? -1 : listener.get(), POLLIN, 0}});
        int timeout_ms = table.paused ? table.paused->milliseconds_left() : -1;
        for (const auto& connection : connections) {
            fds.push_back({connection.fd(), connection.events(), 0});
            if (int ms = connection.timeout_ms(); ms >= 0 && (timeout_ms < 0 || ms < timeout_ms)) {
                timeout_ms = ms;
            }
        }
        if (::poll(fds.data(), fds.size(), timeout_ms) < 0) {
            if (errno == EINTR) {
                continue; // a stop signal: the loop condition sees it
            }
            throw lab::sys_error("poll");
        }
        for (std::size_t i = 0; i < connections.size(); ++i) {
            connections[i].on_ready(fds[first_connection + i].revents);
        }
        // Closing happens here, in Connection's lab::Fd, once per connection.
        std::erase_if(connections, [](const Connection& c) { return c.finished(); });
        if (fds[listening].revents != 0) {
            accept_new(listener, peer_credentials, table);
        }
    }
}

} // namespace socket_lab
