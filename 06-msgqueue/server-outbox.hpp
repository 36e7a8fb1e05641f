// server-outbox.hpp - part of server: its replies on their way into the
// queue.
//
// Requests and replies share one queue, and a queue holds msgmnb bytes
// (/proc/sys/kernel/msgmnb, 16384 here): sixteen 1 KiB requests fill it.
// A blocking msgsnd() of a reply into a queue full of requests would wait for
// ever, since only the server drains requests. So:
//   - replies go out with IPC_NOWAIT; one that does not fit waits here, in
//     order, and goes out once there is room (flush() runs before every
//     msgrcv, and the tick wakes the server to run it);
//   - a reply to a client that is gone (process_gone: exited, a zombie, or
//     exiting) is dropped;
//   - replies sent to a client that died before reading them are taken back
//     out (msgrcv with msgtyp = its pid) by forget_vanished_clients(): a
//     killed client's unread replies neither fill the queue for good nor
//     reach a later process that is given the same pid;
//   - a queue clogged with messages nobody takes is cleared by
//     clear_if_clogged(): see there.
#pragma once

#include "protocol.hpp"

#include <chrono>
#include <deque>
#include <limits>
#include <map>

namespace msgqueue_lab {

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
            if (!send(next)) {
                return; // the queue is full: try again after the next msgrcv
            }
            waiting_.pop_front();
        }
    }

    void forget_vanished_clients() {
        for (auto sent = addressees_.begin(); sent != addressees_.end();) {
            pid_t pid = sent->first;
            if (!process_gone(pid)) {
                ++sent;
                continue;
            }
            int unread = 0;
            // TASK 4 (step 3): take back the replies a vanished client left
            //   Client `pid` is gone: take every reply still addressed to it
            //   out of the queue (`msqid_`), counting them in `unread`. Loop
            //   on `msgrcv(msqid_, &reply, sizeof reply.text, pid, IPC_NOWAIT
            //   | MSG_NOERROR)` into a `Reply reply`: msgtyp = the pid takes
            //   only that client's replies; IPC_NOWAIT makes it fail with
            //   ENOMSG once none is left instead of waiting. Stop at the
            //   first failure: ENOMSG is the normal end, any other errno:
            //   throw `lab::sys_error("msgrcv replies to pid " +
            //   std::to_string(pid))` (a `"..." + pid` would add to the pointer).
            //   man 2 msgrcv
            //   check: `make test`: "a reply left for a client that died is purged"
            Reply reply;
            while (::msgrcv(msqid_, &reply, sizeof reply.text, pid, IPC_NOWAIT | MSG_NOERROR) >=
                   0) {
                ++unread;
            }
            if (errno != ENOMSG) {
                throw lab::sys_error("msgrcv replies to pid " + std::to_string(pid));
            }
            // END TASK 4
            if (unread > 0) {
                lab::print_line("dropped: " + std::to_string(unread) + " unread repl" +
                                (unread == 1 ? "y" : "ies") + " to pid " + std::to_string(pid) +
                                ": client gone");
            }
            sent = addressees_.erase(sent);
        }
    }

    // Anyone who may write to the queue (the same user) can fill it with
    // messages of an mtype nobody reads: two of 8 KiB fill msgmnb, and then
    // every client's msgsnd blocks until it times out. So when there is no
    // room left for one more request, every message that is not a request
    // (msgrcv MSG_EXCEPT mtype 1) is taken out, and only the replies this
    // server sent lately to a client still alive go back in; the rest is
    // dropped, and said in one line with the count (at most one a second,
    // however fast someone refills the queue).
    void clear_if_clogged() {
        // TASK 5 (step 3): clear a queue clogged with messages nobody takes
        //   When the queue has no room left for one more request, take out
        //   every message that is not a request and put back only the
        //   recent replies to live clients. `msgctl(msqid_, IPC_STAT,
        //   &info)` fills a `msqid_ds info{}` (error: throw
        //   `lab::sys_error("msgctl IPC_STAT msqid N")`). If `info.msg_cbytes
        //   + request_max_body_bytes > info.msg_qbytes`: at most
        //   `info.msg_qnum` times (a writer refilling the queue must not keep
        //   us here), `ssize_t got = msgrcv(msqid_, &message, sizeof
        //   message.text, request_type, IPC_NOWAIT | MSG_EXCEPT | MSG_NOERROR)`
        //   into a `Reply message` (MSG_EXCEPT: any type but 1); ENOMSG ends
        //   the loop, any other error: throw `lab::sys_error("msgrcv messages
        //   that are not requests")`. A message for which
        //   `is_recent_reply_to_live_client(message.mtype)` is kept in a
        //   `std::deque<Waiting> kept` as `{pid, std::string(message.text,
        //   got), true}` (got: the text's length; true: put back); any other
        //   one counts in `++unreported_drops_`. Then `send()` the kept ones,
        //   in order, while there is room, and insert the rest, in their
        //   order, at the front of `waiting_` (ahead of what already waits:
        //   they were sent first).
        //   man 2 msgctl, man 2 msgrcv
        //   check: `make test`: "a queue filled with messages nobody takes is cleared"
        msqid_ds info{};
        if (::msgctl(msqid_, IPC_STAT, &info) < 0) {
            throw lab::sys_error("msgctl IPC_STAT msqid " + std::to_string(msqid_));
        }
        if (info.msg_cbytes + request_max_body_bytes > info.msg_qbytes) {
            std::deque<Waiting> kept;
            Reply message;
            // At most what is there now: a writer refilling it cannot keep us here.
            for (msgqnum_t taken = 0; taken < info.msg_qnum; ++taken) {
                ssize_t got = ::msgrcv(msqid_, &message, sizeof message.text, request_type,
                                       IPC_NOWAIT | MSG_EXCEPT | MSG_NOERROR);
                if (got < 0) {
                    if (errno == ENOMSG) {
                        break;
                    }
                    throw lab::sys_error("msgrcv messages that are not requests");
                }
                if (is_recent_reply_to_live_client(message.mtype)) {
                    kept.push_back({static_cast<pid_t>(message.mtype),
                                    std::string(message.text, static_cast<std::size_t>(got)),
                                    true});
                } else {
                    ++unreported_drops_;
                }
            }
            // Straight back in, where there is room now (so they stay in
            // the queue for their clients); what does not fit waits here,
            // ahead of the rest: they were sent first.
            while (!kept.empty() && send(kept.front())) {
                kept.pop_front();
            }
            waiting_.insert(waiting_.begin(), kept.begin(), kept.end());
        }
        // END TASK 5
        if (unreported_drops_ > 0 && Clock::now() - last_drop_report_ >= drop_report_interval) {
            lab::print_line("dropped: " + std::to_string(unreported_drops_) + " message" +
                            (unreported_drops_ == 1 ? "" : "s") +
                            " nobody takes (not a request, nor a recent reply to a live client)");
            unreported_drops_ = 0;
            last_drop_report_ = Clock::now();
        }
    }

  private:
    using Clock = std::chrono::steady_clock;
    // A live client reads its reply at once. One left unread this long goes
    // to a client that is stopped, or is no client of ours at all.
    static constexpr auto unread_reply_limit = std::chrono::seconds(30);
    static constexpr auto drop_report_interval = std::chrono::seconds(1);

    struct Waiting {
        pid_t client_pid;
        std::string text;
        bool put_back = false; // taken out by clear_if_clogged: its age still counts
    };

    // One reply into the queue, without waiting; false when there is no room.
    bool send(const Waiting& next) {
        // TASK 3 (step 3): send one reply with msgsnd, without waiting
        //   Put the reply `next.text` for client `next.client_pid` into the
        //   queue `msqid_`: a `Reply reply` zeroed with `std::memset` (no
        //   uninitialised padding goes out), `mtype` = the client's pid (the
        //   client reads only that type), the text copied in; then
        //   `msgsnd(msqid_, &reply, next.text.size(), IPC_NOWAIT)`: the size
        //   counts the text only, never `mtype`. IPC_NOWAIT: requests and
        //   replies share one queue, and a blocking msgsnd into a queue full
        //   of requests would wait for ever, since only we drain them. On
        //   EAGAIN (full) or EINTR `return false`: the reply waits here and
        //   goes with the next `flush()`. Any other errno: throw
        //   `lab::sys_error("msgsnd reply to pid " +
        //   std::to_string(next.client_pid))`.
        //   man 2 msgsnd
        //   check: `./server`, and `./client hi` elsewhere: the client prints `HI`
        //   stub: static_cast<void>(msqid_); // the queue: yours to use (clang: unused field)
        //   stub: lab::not_written_yet(3, 3, "send one reply with msgsnd, without waiting");
        Reply reply;
        std::memset(&reply, 0, sizeof reply);
        reply.mtype = next.client_pid;
        std::memcpy(reply.text, next.text.data(), next.text.size());
        // The size counts the text only, not mtype.
        if (::msgsnd(msqid_, &reply, next.text.size(), IPC_NOWAIT) < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                return false;
            }
            throw lab::sys_error("msgsnd reply to pid " + std::to_string(next.client_pid));
        }
        // END TASK 3
        if (!next.put_back) {
            addressees_[next.client_pid] = Clock::now();
        }
        return true;
    }

    bool is_recent_reply_to_live_client(long mtype) const {
        auto sent = mtype > 0 && mtype <= std::numeric_limits<pid_t>::max()
                        ? addressees_.find(static_cast<pid_t>(mtype))
                        : addressees_.end();
        return sent != addressees_.end() && !process_gone(sent->first) &&
               Clock::now() - sent->second < unread_reply_limit;
    }

    int msqid_;
    std::deque<Waiting> waiting_;
    // Clients that may have replies still in the queue, and when we last sent them one.
    std::map<pid_t, Clock::time_point> addressees_;
    long unreported_drops_ = 0;
    Clock::time_point last_drop_report_{};
};

} // namespace msgqueue_lab
