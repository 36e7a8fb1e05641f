// server-replies.cpp - see server-replies.hpp.
#include "server-replies.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_set>

namespace fifo_lab {

void Replies::send(pid_t pid, std::string path, lab::Fd fifo, std::string line) {
    Reply reply{pid, std::move(path), std::move(fifo), std::move(line),
                lab::Deadline(reader_grace_seconds)};
    if (waiting_for(pid) || !try_deliver(reply)) {
        keep(std::move(reply));
    }
}

void Replies::retry() {
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

bool Replies::waiting_for(pid_t pid) const {
    return std::ranges::any_of(waiting_, [pid](const Reply& reply) { return reply.pid == pid; });
}

void Replies::keep(Reply reply) {
    if (waiting_.size() >= max_waiting_replies) {
        lab::log_ignored("pid " + std::to_string(reply.pid) +
                         ": too many replies waiting for readers");
        return;
    }
    waiting_.push_back(std::move(reply));
}

// TASK 5 (step 3): deliver a reply with one non-blocking open and one write
//   Return true when the reply is done with (written, or dropped with one
//   `lab::log_ignored(who + ...)` line), false to have it tried again
//   later. Never wait for the client. `std::string who = "pid " +
//   std::to_string(reply.pid) + ": "` begins every line it logs; the tests
//   read the lines quoted here (PATH: `reply.path`).
//   1. `FifoWriter writer = open_fifo_for_writing(reply.path)` (protocol.hpp:
//      the `open()` with O_WRONLY | O_NONBLOCK | O_NOFOLLOW, after lstat),
//      then by its `state`:
//      - `opened`: go on to 2 if `same_file(writer.fd.get(),
//        reply.fifo.get())` (given, below); else the FIFO was made anew (a
//        new process has the pid): log `PATH was made anew since the
//        request (its sender is gone; a new process has its pid)`, true.
//      - `no_reader` (ENXIO: nobody has it open for reading yet): false
//        until `reply.give_up` has expired; then log `nobody opened PATH
//        for reading (client gone?)`, true.
//      - `missing`: `no reply FIFO PATH`; `not_a_fifo`: `PATH is not a
//        FIFO`; `failed`: `open PATH: ` + `strerror(writer.error)`; true.
//   2. One `write()` of `reply.line` (at most PIPE_BUF bytes: all or
//      nothing), again on EINTR. Then log, if it failed: EAGAIN `PATH is
//      full: its reader does not read`; EPIPE (SIGPIPE is ignored) `the
//      reader of PATH went away`; else `write PATH: ` + `strerror(errno)`.
//      The reply is done with either way: true.
//   man 2 open, man 2 write, man 7 fifo, man 7 pipe
//   check: `./client hi` prints HI; the server log shows `received: hi`
//   stub: bool Replies::try_deliver(const Reply&) {
//   stub:     return lab::not_written_yet<bool>(3, 5, "deliver a reply");
//   stub: }
bool Replies::try_deliver(const Reply& reply) {
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
// END TASK 5

bool Replies::same_file(int one, int other) {
    struct stat first {};
    struct stat second {};
    return ::fstat(one, &first) == 0 && ::fstat(other, &second) == 0 &&
           first.st_dev == second.st_dev && first.st_ino == second.st_ino;
}

} // namespace fifo_lab
