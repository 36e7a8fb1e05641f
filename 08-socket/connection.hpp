// connection.hpp - one client's conversation on a stream socket, as the
// server's event loop (event_loop.cpp) sees it: bytes in, lines out, and
// never a call that can block.
//
//   serving    read whatever came, answer every whole line, keep the partial
//              one; stop reading while too many replies wait to be sent
//   draining   the client sent end of file: send what is left, then close
//   rejecting  a line was too long: send the error, shut down our side,
//              drop all input until the client's end of file, then close
#pragma once

#include "protocol.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace socket_lab {

class Connection {
  public:
    // `peer`: " (pid=P uid=U)" for a Unix socket's client, appended to its log lines.
    Connection(lab::Fd fd, std::string peer) : fd_(std::move(fd)), peer_(std::move(peer)) {}

    int fd() const { return fd_.get(); }
    bool finished() const { return state_ == State::finished; }

    // What to ask poll() for: POLLIN while we take input, POLLOUT while replies wait.
    short events() const;

    // Milliseconds until this connection must be looked at even with no event; -1: never.
    int timeout_ms() const { return linger_ ? linger_->milliseconds_left() : -1; }

    // Acts on what poll() reported; `revents` 0 is a turn for the linger timer.
    void on_ready(short revents);

  private:
    enum class State { serving, draining, rejecting, finished };

    bool wants_input() const;
    void receive();
    void answer_complete_lines();
    void answer(std::string_view line);
    void send_pending();
    void drop(const char* call);

    lab::Fd fd_;
    std::string peer_;
    std::string input_;  // received, not yet a whole line
    std::string output_; // replies the kernel has not taken yet
    State state_ = State::serving;
    bool write_shut_ = false;
    std::optional<lab::Deadline> linger_; // while rejecting: when we close regardless
};

// One message's reply, with `received: MESSAGE PEER` logged; a line over
// lab::max_message_bytes gets too_long_reply and a `rejected:` log line.
std::string answer_line(std::string_view message, std::string_view peer);

// "server: WHAT" on stderr: a problem with one client, not the end of the server.
void warn(const std::string& what);

} // namespace socket_lab
