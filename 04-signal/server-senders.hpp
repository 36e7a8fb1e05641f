// server-senders.hpp - the server's book of who is sending what
// (server-senders.cpp holds the code).
//
// Real-time signals from every client arrive interleaved in one queue; only
// si_pid says whose byte each one is. So the server keeps, per sender pid:
//   - the message being assembled (bytes until the value 256);
//   - who that pid was when the message began: a lab::ProcessIdentity, its
//     start time from /proc/PID/stat. A pid names a process only while it lives; once a
//     client dies its pid can be handed to a new process (pid_max is 32768
//     on many systems), which must never inherit the dead one's bytes or
//     receive its reply;
//   - the replies not yet sent: a full receiver queue says EAGAIN, and the
//     server retries later instead of blocking everyone else.
#pragma once

#include "lab.hpp"

#include <cstddef>
#include <deque>
#include <map>
#include <string>
#include <sys/types.h>

namespace signal_lab {

class Senders {
  public:
    // One SIGRTMIN value from `pid`: a byte, the end of a message (which
    // is logged and answered), or garbage (logged, the message dropped).
    void take(pid_t pid, int value);

    // Drops the partial messages and pending replies of senders that have
    // exited (or whose pid now belongs to another process).
    void forget_departed();

    // Queues reply values with sigqueue() until done or a receiver's queue
    // is full.
    // Returns true while some reply is still waiting for room.
    bool send_replies();

    bool any() const { return !senders_.empty(); }
    std::size_t messages() const { return messages_; }

  private:
    struct Sender {
        lab::ProcessIdentity identity; // who the pid was at the first byte
        bool receiving = false;        // inside a message (bytes since the last 256)
        bool discarding = false;       // the rest of this message is dropped
        std::string message;
        std::deque<std::string> replies;
        std::size_t reply_values_sent = 0; // of replies.front(), its end value included
    };
    using Book = std::map<pid_t, Sender>;

    void finish_message(pid_t pid, Sender& sender);
    Book::iterator forget_if_idle(Book::iterator it);

    Book senders_;
    std::size_t messages_ = 0;
};

} // namespace signal_lab
