// server-senders.cpp - per-sender message buffers and replies for the
// 04-signal server: see server-senders.hpp.
#include "server-senders.hpp"

#include "protocol.hpp"

#include <fstream>
#include <optional>
#include <sys/stat.h>

namespace signal_lab {

namespace {

std::optional<std::string> why_not_a_client(pid_t pid, int message_signal);

std::string from(pid_t pid) {
    return "pid=" + std::to_string(pid);
}

} // namespace

void Senders::take(pid_t pid, int value) {
    auto it = senders_.try_emplace(pid).first;
    Sender& sender = it->second;
    if (!sender.receiving) { // the first value of a message
        sender.receiving = true;
        sender.discarding = false;
        sender.message.clear();
        if (sender.replies.empty()) {
            sender.identity = lab::ProcessIdentity::of(pid).value_or(lab::ProcessIdentity{pid, 0});
        }
    }
    if (value == end_of_message) {
        finish_message(pid, sender);
        forget_if_idle(it);
        return;
    }
    if (sender.discarding) {
        return; // until the end of the message that went wrong
    }
    if (value < 0 || value > max_byte_value) {
        lab::log_ignored("value " + std::to_string(value) + " from " + from(pid) +
                         " is neither a byte (0-255) nor the end (256); message dropped");
        sender.discarding = true;
    } else if (sender.message.size() == lab::max_message_bytes) {
        lab::log_ignored("message from " + from(pid) + " over " +
                         std::to_string(lab::max_message_bytes) + " bytes; dropped");
        sender.discarding = true;
    } else {
        sender.message.push_back(static_cast<char>(value));
    }
    if (sender.discarding) {
        sender.message.clear(); // free it now, not at the end that may never come
    }
}

void Senders::finish_message(pid_t pid, Sender& sender) {
    sender.receiving = false;
    if (std::exchange(sender.discarding, false)) {
        return;
    }
    std::string message = std::move(sender.message);
    sender.message.clear();
    auto now = lab::ProcessIdentity::of(pid);
    if (now && now->start_time != sender.identity.start_time) {
        // The pid changed hands while the message was coming in: its first
        // bytes are a dead process's, its last ones another's.
        lab::log_ignored("message from " + from(pid) + " began in another process; dropped");
        return;
    }
    ++messages_;
    lab::log_received(message);
    if (auto why = why_not_a_client(pid, message_signal())) {
        lab::log_ignored("reply to " + from(pid) + ": " + *why);
        return;
    }
    sender.replies.push_back(lab::to_upper(message));
}

Senders::Book::iterator Senders::forget_if_idle(Book::iterator it) {
    const Sender& sender = it->second;
    if (!sender.receiving && sender.replies.empty()) {
        return senders_.erase(it);
    }
    return std::next(it);
}

void Senders::forget_departed() {
    for (auto it = senders_.begin(); it != senders_.end();) {
        const auto& [pid, sender] = *it;
        if (sender.identity.alive()) {
            ++it;
            continue;
        }
        if (sender.receiving) {
            lab::log_ignored("partial message from " + from(pid) + " (" +
                             std::to_string(sender.message.size()) + " bytes): sender exited");
        }
        if (!sender.replies.empty()) {
            lab::log_ignored("reply to " + from(pid) + ": sender exited");
        }
        it = senders_.erase(it);
    }
}

bool Senders::send_replies() {
    bool waiting_for_room = false;
    for (auto it = senders_.begin(); it != senders_.end(); it = forget_if_idle(it)) {
        const pid_t pid = it->first;
        Sender& sender = it->second;
        while (!sender.replies.empty()) {
            const std::string& reply = sender.replies.front();
            const std::size_t next = sender.reply_values_sent;
            // Checked before each reply: SIGRTMIN's default action is to
            // terminate, and a dead client's pid may name an innocent
            // process by now.
            int error = next == 0 && !sender.identity.alive() ? ESRCH : 0;
            if (error == 0) {
                // The reply goes back the way the message came: one value per
                // byte, then 256. EAGAIN: the client's queue is full
                // (RLIMIT_SIGPENDING); ESRCH: it is gone; EPERM: not ours.
                // TASK 5 (step 4): send the reply back with sigqueue
                //   Send the client `pid` one value of `reply` with
                //   `sigqueue(pid, message_signal(), value)`: `value` is a
                //   `sigval` (zero it: `sigval value{};`) whose `sival_int`
                //   is byte `next` of the reply as an unsigned char (0-255),
                //   or `end_of_message` (256) once `next == reply.size()`.
                //   Set `error` to 0 when sigqueue() succeeded, else to errno:
                //   the code below retries EAGAIN later and drops the reply
                //   on ESRCH or EPERM.
                //   man 3 sigqueue
                //   check: `./server &`, then `./client hello` prints `HELLO`
                //   stub: error = lab::not_written_yet<int>(
                //   stub:     4, 5, "send the reply back with sigqueue");
                sigval value{};
                value.sival_int =
                    next < reply.size() ? static_cast<unsigned char>(reply[next]) : end_of_message;
                error = ::sigqueue(pid, message_signal(), value) == 0 ? 0 : errno;
                // END TASK 5
            }
            if (error == 0) {
                if (++sender.reply_values_sent > reply.size()) { // its end went too
                    sender.replies.pop_front();
                    sender.reply_values_sent = 0;
                }
            } else if (error == EAGAIN) {
                waiting_for_room = true; // its queue is full: try again later
                break;
            } else if (error == ESRCH || error == EPERM) {
                lab::log_ignored("reply to " + from(pid) + ": sender exited");
                sender.replies.clear();
                sender.reply_values_sent = 0;
            } else {
                throw lab::sys_error(error, "sigqueue to " + from(pid));
            }
        }
    }
    return waiting_for_room;
}

namespace {

// Why `pid` cannot be a client we may answer, or nothing if it can. si_pid
// is written by the sender (rt_sigqueueinfo() takes a whole siginfo_t), so
// a forger can name any process: never ourselves (we would answer our own
// reply forever) or pid 1 and below (0 is also what a sender outside our
// pid namespace shows as); only a process of our own uid (the owner of
// /proc/PID: si_uid is forged as easily) that blocks or catches SIGRTMIN,
// which a real client does before sending (SIGRTMIN's default action would
// kill anyone else). SigBlk alone would not do: it loses the waited-for
// signals while a process sits in sigwaitinfo()/sigtimedwait(), which
// unblock them for the length of the wait; SigCgt has no such gap, which is
// why the client also catches SIGRTMIN (client.cpp, step 1).
std::optional<std::string> why_not_a_client(pid_t pid, int message_signal) {
    if (pid <= 1) {
        return "no client has that pid";
    }
    if (pid == ::getpid()) {
        return "that is this server's own pid (forged)";
    }
    const std::string dir = "/proc/" + std::to_string(pid);
    struct stat owner {};
    if (::stat(dir.c_str(), &owner) < 0) {
        return "sender exited";
    }
    if (owner.st_uid != ::getuid()) {
        return "owned by uid " + std::to_string(owner.st_uid) + ", not ours";
    }
    // "SigBlk:\t0000000200000000": hex, bit N-1 for signal N.
    std::ifstream status(dir + "/status");
    unsigned long long blocked = 0;
    unsigned long long caught = 0;
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("SigBlk:", 0) == 0) {
            blocked = std::stoull(line.substr(7), nullptr, 16);
        } else if (line.rfind("SigCgt:", 0) == 0) {
            caught = std::stoull(line.substr(7), nullptr, 16);
        }
    }
    const unsigned long long bit = 1ULL << (message_signal - 1);
    if (((blocked | caught) & bit) == 0) {
        return "it neither blocks nor catches SIGRTMIN, so it is no client (forged pid?)";
    }
    return std::nullopt;
}

} // namespace

} // namespace signal_lab
