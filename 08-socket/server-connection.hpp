// server-connection.hpp - one client's conversation on a stream socket, as the
// server's event loop (server-event-loop.cpp) sees it: bytes in, lines out, and
// never a call that can block.
//
//   serving    read whatever came, answer every whole line, keep the partial
//              one; stop reading while too many replies wait to be sent
//   draining   the client sent end of file: send what is left, then close
//   rejecting  a line was too long: send the error, shut down our side,
//              drop all input until the client's end of file, then close
#pragma once

#include "protocol.hpp"

#include <chrono>
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

    // When the client last sent something (or connected): the connection
    // quiet the longest is the one closed when there is no room for a new one.
    std::chrono::steady_clock::time_point last_active() const { return last_active_; }

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
    std::chrono::steady_clock::time_point last_active_ = std::chrono::steady_clock::now();
};

// One message's reply, with `received: MESSAGE PEER` logged; a line over
// lab::max_message_bytes gets too_long_reply and a `rejected:` log line.
std::string answer_line(std::string_view message, std::string_view peer);

// "server: WHAT" on stderr: a problem with one client, not the end of the server.
void warn(const std::string& what);

// A problem a peer can make happen thousands of times a second (a full table
// of connections, forged datagrams) is logged once per episode, not once per
// occurrence: a log that grows as fast as a peer can send is a second attack.
// An episode is a run of occurrences less than quiet_seconds apart.
class Episode {
  public:
    static constexpr double quiet_seconds = 10;

    // Counts one occurrence. Returns what to append to its log line when it
    // starts an episode ("" or " (the last episode: N more)"); nullopt when
    // this episode is already logged.
    std::optional<std::string> occurred();

  private:
    std::optional<lab::Deadline> quiet_until_;
    std::size_t unlogged_ = 0; // occurrences of the current episode after its first
};

} // namespace socket_lab
