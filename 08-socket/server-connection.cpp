// server-connection.cpp - one client's conversation on a stream socket (server-connection.hpp).
#include "server-connection.hpp"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>

namespace socket_lab {

namespace {

// Replies a client has not taken yet: past this we stop reading its requests
// until it catches up, so a client that never reads cannot make us buffer
// without limit (its own socket buffers fill, and then it waits, not us).
constexpr std::size_t max_pending_output_bytes = std::size_t{64} * 1024;
// After `error: message too long` we shut down our side and read (and drop)
// what the client still sends, until its end of file or for at most this
// long: close() with unread bytes makes TCP send a reset, which can destroy
// the error line on its way to the client ("lingering close").
constexpr double linger_seconds = 0.5;

// A peer that vanished is an ordinary end of a connection, not worth a line.
bool peer_went_away(int error_number) {
    return error_number == ECONNRESET || error_number == EPIPE || error_number == ETIMEDOUT;
}

} // namespace

short Connection::events() const {
    return static_cast<short>((wants_input() ? POLLIN : 0) | (output_.empty() ? 0 : POLLOUT));
}

bool Connection::wants_input() const {
    return (state_ == State::serving && output_.size() < max_pending_output_bytes) ||
           state_ == State::rejecting;
}

void Connection::on_ready(short revents) {
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

// TASK 6 (step 4): receive with recv, send the replies with send
//   Two member functions of `Connection` (server-connection.hpp); the event
//   loop calls them when `poll()` says the socket is ready, and the socket
//   is non-blocking: neither call may wait.
//
//   `receive()`: one `recv(fd(), buffer, size, 0)` into a local buffer of
//   16 KiB. -1: `EAGAIN` or `EINTR` is nothing to do; any other error:
//   `drop("recv")`. 0: the client shut down its side or closed: if
//   `state_` is `State::serving` and `input_` holds a last line without
//   its newline, `answer(input_)`; then `state_` becomes `State::draining`
//   if it was serving, else `State::finished`. More than 0: only while
//   serving (else drop the bytes), set `last_active_` to
//   `std::chrono::steady_clock::now()`, append the bytes to `input_` and
//   call `answer_complete_lines()` (a stream has no message boundaries).
//
//   `send_pending()`: one `send(fd(), output_.data(), output_.size(),
//   MSG_NOSIGNAL)` (a closed client then gives `EPIPE`, not a `SIGPIPE`
//   that kills the server); erase from `output_` what was sent (it may be
//   less than all); `EAGAIN`/`EINTR`: try again next turn; other errors:
//   `drop("send")`.
//   man 2 recv, man 2 send
//   check: `./server`, then `./client a b` prints `A` and `B`
//   stub: void Connection::receive() {
//   stub:     lab::not_written_yet(4, 6, "receive with recv, send the replies with send");
//   stub: }
//   stub:
//   stub: void Connection::send_pending() {
//   stub:     lab::not_written_yet(4, 6, "receive with recv, send the replies with send");
//   stub: }
void Connection::receive() {
    constexpr std::size_t read_chunk_bytes = std::size_t{16} * 1024;
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
        last_active_ = std::chrono::steady_clock::now();
        input_.append(chunk.data(), static_cast<std::size_t>(got));
        answer_complete_lines();
    }
}

void Connection::send_pending() {
    // MSG_NOSIGNAL: a client that closed gives EPIPE here, not a SIGPIPE that kills us.
    ssize_t sent = ::send(fd(), output_.data(), output_.size(), MSG_NOSIGNAL);
    if (sent >= 0) {
        output_.erase(0, static_cast<std::size_t>(sent));
    } else if (errno != EAGAIN && errno != EINTR) {
        drop("send");
    }
}
// END TASK 6

// A stream has no message boundaries: one recv() may hold half a line, or
// several lines and a half. Answer the whole ones, keep the rest.
void Connection::answer_complete_lines() {
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

void Connection::answer(std::string_view line) {
    output_ += answer_line(line, peer_);
    output_ += '\n';
    if (line.size() > lab::max_message_bytes) {
        state_ = State::rejecting;
        linger_.emplace(linger_seconds);
    }
}

void Connection::drop(const char* call) {
    if (!peer_went_away(errno)) {
        warn(std::string(call) + peer_ + ": " + std::strerror(errno) + "; closing it");
    }
    state_ = State::finished;
    output_.clear();
}

std::string answer_line(std::string_view message, std::string_view peer) {
    if (message.size() > lab::max_message_bytes) {
        lab::print_line("rejected: message too long" + std::string(peer));
        return std::string(too_long_reply);
    }
    lab::log_received(std::string(message) + std::string(peer));
    return lab::to_upper(message);
}

void warn(const std::string& what) {
    std::fprintf(stderr, "%s: %s\n", lab::program_name().c_str(), what.c_str());
}

std::optional<std::string> Episode::occurred() {
    bool continues = quiet_until_ && !quiet_until_->expired();
    quiet_until_.emplace(quiet_seconds);
    if (continues) {
        ++unlogged_;
        return std::nullopt;
    }
    std::string note;
    if (unlogged_ > 0) {
        note = " (the last episode: " + std::to_string(unlogged_) + " more)";
    }
    unlogged_ = 0;
    return note;
}

} // namespace socket_lab
