// event_loop.cpp - the stream server's exchange: one thread, one poll(), every connection.
//
// Each turn, poll() says which sockets are ready; every ready connection then
// gets at most one recv() and one send(), and neither can block: every socket
// is O_NONBLOCK. A client that sends nothing, sends half a line, or never
// reads its replies costs only its own turn; the others are served in the
// same loop. No thread per client, so no lock and no shared state to guard.
#include "event_loop.hpp"

#include <cerrno>
#include <cstring>
#include <optional>
#include <poll.h>
#include <sys/socket.h>
#include <vector>

namespace socket_lab {

namespace {

// accept4() failing for want of descriptors (EMFILE): the listener stays
// readable, so pause accepting for a while rather than spin on it.
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
void accept_new(const lab::Fd& listener, bool peer_credentials,
                std::vector<Connection>& connections, std::optional<lab::Deadline>& paused) {
    for (;;) {
        // SOCK_NONBLOCK: an accepted socket does not inherit it from the listener.
        lab::Fd fd(::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (fd) {
            std::string peer = peer_credentials ? peer_credentials_of(fd.get()) : "";
            connections.emplace_back(std::move(fd), std::move(peer));
            continue;
        }
        switch (errno) {
        case EAGAIN:
            return;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
            warn(std::string("accept4: ") + std::strerror(errno) + "; pausing new connections");
            paused.emplace(accept_pause_seconds);
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

} // namespace

void serve_stream(const lab::Fd& listener, bool peer_credentials, const lab::StopSignals& stop) {
    enum { stop_signal, listening, first_connection };
    std::vector<Connection> connections;
    std::optional<lab::Deadline> accept_paused;
    std::vector<pollfd> fds;
    while (!stop.requested()) {
        if (accept_paused && accept_paused->expired()) {
            accept_paused.reset();
        }
        // A negative fd is skipped by poll(): that is how accepting pauses.
        fds.assign({{stop.fd(), POLLIN, 0}, {accept_paused ? -1 : listener.get(), POLLIN, 0}});
        int timeout_ms = accept_paused ? accept_paused->milliseconds_left() : -1;
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
            accept_new(listener, peer_credentials, connections, accept_paused);
        }
    }
}

} // namespace socket_lab
