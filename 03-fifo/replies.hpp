// replies.hpp - the server's side of the reply FIFOs: deliver, never wait.
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
#pragma once

#include "protocol.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <unordered_set>

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
    void send(pid_t pid, std::string path, lab::Fd fifo, std::string line) {
        Reply reply{pid, std::move(path), std::move(fifo), std::move(line),
                    lab::Deadline(reader_grace_seconds)};
        if (waiting_for(pid) || !try_deliver(reply)) {
            keep(std::move(reply));
        }
    }

    // Tries every kept reply again, oldest first.
    void retry() {
        std::unordered_set<pid_t> still_waiting; // a later reply must not overtake
        for (auto it = waiting_.begin(); it != waiting_.end();) {
            if (!still_waiting.contains(it->pid) && try_deliver(*it)) {
                it = waiting_.erase(it);
            } else {
                still_waiting.insert(it->pid);
                ++it;
            }
        }
    }

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

    bool waiting_for(pid_t pid) const {
        return std::ranges::any_of(waiting_,
                                   [pid](const Reply& reply) { return reply.pid == pid; });
    }

    void keep(Reply reply) {
        if (waiting_.size() >= max_waiting_replies) {
            lab::log_ignored("pid " + std::to_string(reply.pid) +
                        ": too many replies waiting for readers");
            return;
        }
        waiting_.push_back(std::move(reply));
    }

    // True when the reply is done with (delivered, or dropped with a log
    // line); false when it should be tried again later.
    static bool try_deliver(const Reply& reply) {
        std::string who = "pid " + std::to_string(reply.pid) + ": ";
        FifoWriter writer = open_fifo_for_writing(reply.path);
        switch (writer.state) {
        case FifoOpen::opened:
            if (!same_file(writer.fd.get(), reply.fifo.get())) {
                lab::log_ignored(who + reply.path + " was made anew since the request" +
                            " (its sender is gone; a new process has its pid)");
                return true;
            }
            break;
        case FifoOpen::no_reader:
            if (!reply.give_up.expired()) {
                return false;
            }
            lab::log_ignored(who + "nobody opened " + reply.path + " for reading (client gone?)");
            return true;
        case FifoOpen::missing:
            lab::log_ignored(who + "no reply FIFO " + reply.path);
            return true;
        case FifoOpen::not_a_fifo:
            lab::log_ignored(who + reply.path + " is not a FIFO");
            return true;
        case FifoOpen::failed:
            lab::log_ignored(who + "open " + reply.path + ": " + std::strerror(writer.error));
            return true;
        }
        ssize_t written;
        do {
            written = ::write(writer.fd.get(), reply.line.data(), reply.line.size());
        } while (written < 0 && errno == EINTR);
        if (written < 0 && errno == EAGAIN) {
            lab::log_ignored(who + reply.path + " is full: its reader does not read");
        } else if (written < 0 && errno == EPIPE) { // SIGPIPE is ignored: EPIPE, not death
            lab::log_ignored(who + "the reader of " + reply.path + " went away");
        } else if (written < 0) {
            lab::log_ignored(who + "write " + reply.path + ": " + std::strerror(errno));
        }
        return true;
    }

    static bool same_file(int one, int other) {
        struct stat first {};
        struct stat second {};
        return ::fstat(one, &first) == 0 && ::fstat(other, &second) == 0 &&
               first.st_dev == second.st_dev && first.st_ino == second.st_ino;
    }

    std::deque<Reply> waiting_;
};

} // namespace fifo_lab
