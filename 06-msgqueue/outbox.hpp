// outbox.hpp - the System V server's replies on their way into the queue.
//
// Requests and replies share one queue, and a queue holds msgmnb bytes
// (/proc/sys/kernel/msgmnb, 16384 here): sixteen 1 KiB requests fill it.
// A blocking msgsnd() of a reply into a queue full of requests would wait for
// ever, since only the server drains requests. So:
//   - replies go out with IPC_NOWAIT; one that does not fit waits here, in
//     order, and goes out once there is room (flush() runs before every
//     msgrcv, and the tick wakes the server to run it);
//   - a reply to a client that is gone (kill(pid, 0): ESRCH) is dropped;
//   - replies sent to a client that died before reading them are taken back
//     out (msgrcv with msgtyp = its pid) by forget_vanished_clients(): a
//     killed client's unread replies neither fill the queue for good nor
//     reach a later process that is given the same pid.
#pragma once

#include "protocol.hpp"

#include <deque>
#include <set>

namespace msgqueue {

class Outbox {
  public:
    // A bound on what waits for room, so a flood of requests costs us at most
    // this many KiB; past it a reply is dropped (and logged).
    static constexpr std::size_t max_waiting_replies = 1024;

    explicit Outbox(int msqid) : msqid_(msqid) {}

    void add(pid_t client_pid, std::string text) {
        if (waiting_.size() >= max_waiting_replies) {
            lab::print_line("dropped: reply to pid " + std::to_string(client_pid) + ": " +
                            std::to_string(waiting_.size()) + " replies wait for room already");
            return;
        }
        waiting_.push_back({client_pid, std::move(text)});
        flush();
    }

    void flush() {
        while (!waiting_.empty()) {
            const Waiting& next = waiting_.front();
            if (process_gone(next.client_pid)) {
                lab::print_line("dropped: reply to pid " + std::to_string(next.client_pid) +
                                ": client gone");
                waiting_.pop_front();
                continue;
            }
            Reply reply;
            std::memset(&reply, 0, sizeof reply);
            reply.mtype = next.client_pid;
            std::memcpy(reply.text, next.text.data(), next.text.size());
            // The size counts the text only, not mtype.
            if (::msgsnd(msqid_, &reply, next.text.size(), IPC_NOWAIT) < 0) {
                if (errno == EAGAIN || errno == EINTR) {
                    return; // the queue is full: try again after the next msgrcv
                }
                throw lab::sys_error("msgsnd reply to pid " + std::to_string(next.client_pid));
            }
            addressees_.insert(next.client_pid);
            waiting_.pop_front();
        }
    }

    void forget_vanished_clients() {
        for (auto pid = addressees_.begin(); pid != addressees_.end();) {
            if (!process_gone(*pid)) {
                ++pid;
                continue;
            }
            int unread = 0;
            Reply reply;
            while (::msgrcv(msqid_, &reply, sizeof reply.text, *pid, IPC_NOWAIT | MSG_NOERROR) >=
                   0) {
                ++unread;
            }
            if (errno != ENOMSG) {
                throw lab::sys_error("msgrcv replies to pid " + std::to_string(*pid));
            }
            if (unread > 0) {
                lab::print_line("dropped: " + std::to_string(unread) + " unread repl" +
                                (unread == 1 ? "y" : "ies") + " to pid " + std::to_string(*pid) +
                                ": client gone");
            }
            pid = addressees_.erase(pid);
        }
    }

  private:
    struct Waiting {
        pid_t client_pid;
        std::string text;
    };
    int msqid_;
    std::deque<Waiting> waiting_;
    std::set<pid_t> addressees_; // clients that may have replies still in the queue
};

} // namespace msgqueue
