// event_loop.cpp - the stream server's exchange: one thread, one poll(), every connection.
//
// Each turn, poll() says which sockets are ready; every ready connection then
// gets at most one recv() and one send(), and neither can block: every socket
// is O_NONBLOCK. A client that sends nothing, sends half a line, or never
// reads its replies costs only its own turn; the others are served in the
// same loop. No thread per client, so no lock and no shared state to guard.
#include "event_loop.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <poll.h>
#include <sys/socket.h>
#include <vector>

namespace socket_lab {

namespace {

constexpr std::size_t read_chunk_bytes = 16 * 1024;
// Replies a client has not taken yet: past this we stop reading its requests
// until it catches up, so a client that never reads cannot make us buffer
// without limit (its own socket buffers fill, and then it waits, not us).
constexpr std::size_t max_pending_output_bytes = 64 * 1024;
// After `error: message too long` we shut down our side and read (and drop)
// what the client still sends, until its end of file or for at most this
// long: close() with unread bytes makes TCP send a reset, which can destroy
// the error line on its way to the client ("lingering close").
constexpr double linger_seconds = 0.5;
// accept4() failing for want of descriptors (EMFILE): the listener stays
// readable, so pause accepting for a while rather than spin on it.
constexpr double accept_pause_seconds = 0.1;

void warn(const std::string& what) {
    std::fprintf(stderr, "%s: %s\n", lab::program_name().c_str(), what.c_str());
}

// A peer that vanished is an ordinary end of a connection, not worth a line.
bool peer_went_away(int error_number) {
    return error_number == ECONNRESET || error_number == EPIPE || error_number == ETIMEDOUT;
}

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

class Connection {
  public:
    Connection(lab::Fd fd, std::string peer) : fd_(std::move(fd)), peer_(std::move(peer)) {}

    int fd() const { return fd_.get(); }
    bool finished() const { return state_ == State::finished; }

    short events() const {
        return static_cast<short>((wants_input() ? POLLIN : 0) | (output_.empty() ? 0 : POLLOUT));
    }

    // Milliseconds until this connection must be looked at even with no event; -1: never.
    int timeout_ms() const { return linger_ ? linger_->milliseconds_left() : -1; }

    // Acts on what poll() reported; `revents` 0 is a turn for the linger timer.
    void on_ready(short revents) {
        if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0 && wants_input()) {
            receive();
        }
        if (state_ != State::finished && !output_.empty()) {
            send_pending(); // without waiting for POLLOUT: a fresh reply usually fits at once
        }
        if (state_ == State::draining && output_.empty()) {
            state_ = State::finished;
        } else if (state_ == State::rejecting && output_.empty() && !write_shut_) {
            // Our end of file after the error line; the client answers it by closing.
            ::shutdown(fd(), SHUT_WR);
            write_shut_ = true;
        }
        if (linger_ && linger_->expired()) {
            state_ = State::finished;
        }
    }

  private:
    enum class State {
        serving,   // reading lines and answering them
        draining,  // the client sent end of file: send what is left, then close
        rejecting, // a line was too long: send the error, drop all input, then close
        finished,
    };

    bool wants_input() const {
        return (state_ == State::serving && output_.size() < max_pending_output_bytes) ||
               state_ == State::rejecting;
    }

    void receive() {
        std::array<char, read_chunk_bytes> chunk;
        ssize_t got = ::recv(fd(), chunk.data(), chunk.size(), 0);
        if (got < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                drop("recv");
            }
        } else if (got == 0) { // the client shut down its side, or closed
            if (state_ == State::serving && !input_.empty()) {
                answer(input_); // a last line without its newline is a message too
            }
            state_ = state_ == State::serving ? State::draining : State::finished;
        } else if (state_ == State::serving) {
            input_.append(chunk.data(), static_cast<std::size_t>(got));
            answer_complete_lines();
        }
    }

    // Answers every whole line in input_; keeps the partial one for later.
    void answer_complete_lines() {
        std::size_t start = 0;
        for (std::size_t end = 0;
             state_ == State::serving && (end = input_.find('\n', start)) != std::string::npos;
             start = end + 1) {
            answer(std::string_view(input_).substr(start, end - start));
        }
        if (state_ == State::serving) {
            input_.erase(0, start);
            if (input_.size() > lab::max_message_bytes) {
                answer(input_); // no newline within the limit: too long, whatever follows
            }
        }
        if (state_ != State::serving) {
            input_.clear();
        }
    }

    void answer(std::string_view line) {
        output_ += answer_line(line, peer_);
        output_ += '\n';
        if (line.size() > lab::max_message_bytes) {
            state_ = State::rejecting;
            linger_.emplace(linger_seconds);
        }
    }

    void send_pending() {
        // MSG_NOSIGNAL: a client that closed gives EPIPE here, not a SIGPIPE that kills us.
        ssize_t sent = ::send(fd(), output_.data(), output_.size(), MSG_NOSIGNAL);
        if (sent >= 0) {
            output_.erase(0, static_cast<std::size_t>(sent));
        } else if (errno != EAGAIN && errno != EINTR) {
            drop("send");
        }
    }

    void drop(const char* call) {
        if (!peer_went_away(errno)) {
            warn(std::string(call) + peer_ + ": " + std::strerror(errno) + "; closing it");
        }
        state_ = State::finished;
        output_.clear();
    }

    lab::Fd fd_;
    std::string peer_;   // " (pid=P uid=U)" on a Unix socket, else empty
    std::string input_;  // received, not yet a whole line
    std::string output_; // replies the kernel has not taken yet
    State state_ = State::serving;
    bool write_shut_ = false;
    std::optional<lab::Deadline> linger_;
};

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

std::string answer_line(std::string_view message, std::string_view peer) {
    if (message.size() > lab::max_message_bytes) {
        lab::print_line("rejected: message too long" + std::string(peer));
        return std::string(too_long_reply);
    }
    lab::log_received(std::string(message) + std::string(peer));
    return lab::to_upper(message);
}

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
