// server-replies.hpp - the server's side of the reply FIFOs: deliver, never wait.
//
// A reply goes into NAME.PID.fifo with one non-blocking open() and one
// write() of at most PIPE_BUF bytes, which is all or nothing: the server
// never blocks on a client and never holds half a reply. A client that
// vanished, reads nothing, or left something that is not a FIFO costs one
// log line `ignored: REASON`, never a hang.
//
// One case waits a little instead of failing at once: nobody has the FIFO
// open for reading yet (open() gives ENXIO). Our client opens its FIFO
// before it sends, but a shell peer (`echo "$$ hi" > NAME.fifo; cat
// NAME.$$.fifo`) opens it only after its request went out. Such a reply is
// kept and retried every few milliseconds, for at most a grace period,
// while the server goes on serving everyone else.
//
// A reply goes only into the FIFO its request's sender made: the one at
// the path when the request was read, held by an O_PATH descriptor. If that
// client died and a new process got its pid meanwhile, NAME.PID.fifo is the
// new one's FIFO: another inode (the held one cannot be freed, so its inode
// number cannot be handed out again while we compare), and the reply is
// dropped instead of being read by a process that did not ask.
//
// A part of the server: server-replies.cpp holds the code.
#pragma once

#include "protocol.hpp"

#include <deque>

namespace fifo_lab {

inline constexpr double reader_grace_seconds = 2.0;
inline constexpr int retry_interval_ms = 10;
inline constexpr std::size_t max_waiting_replies = 256; // bounds memory if readers never come

class Replies {
  public:
    // Delivers `line` (the reply and its newline) to client `pid` now, or
    // keeps it until its reader comes; only into `fifo` (an O_PATH descriptor
    // of the FIFO at `path` when the request was read). Replies to one pid
    // keep their order.
    void send(pid_t pid, std::string path, lab::Fd fifo, std::string line);

    // Tries every kept reply again, oldest first.
    void retry();

    // How long poll() may sleep: forever when no reply is waiting.
    int retry_timeout_ms() const { return waiting_.empty() ? -1 : retry_interval_ms; }

  private:
    struct Reply {
        pid_t pid;
        std::string path;
        lab::Fd fifo; // O_PATH: the FIFO the request's sender made
        std::string line;
        lab::Deadline give_up;
    };

    bool waiting_for(pid_t pid) const;
    void keep(Reply reply);
    // True when the reply is done with (delivered, or dropped with a log
    // line); false when it should be tried again later.
    static bool try_deliver(const Reply& reply);
    static bool same_file(int one, int other);

    std::deque<Reply> waiting_;
};

} // namespace fifo_lab
