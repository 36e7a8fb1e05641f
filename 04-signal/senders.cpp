// senders.cpp - per-sender message buffers and replies for the 04-signal server.
#include "senders.hpp"

#include "procfs.hpp"
#include "protocol.hpp"

namespace signal_lab {

namespace {
std::string from(pid_t pid) {
    return "pid=" + std::to_string(pid);
}

// Is `pid` still the process that started at `start_time`?
bool same_process(pid_t pid, unsigned long long start_time) {
    auto now = process_start_time(pid);
    return now && *now == start_time;
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
            sender.start_time = process_start_time(pid).value_or(0);
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
    auto now = process_start_time(pid);
    if (now && *now != sender.start_time) {
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
        if (same_process(pid, sender.start_time)) {
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
            int error = next == 0 && !same_process(pid, sender.start_time) ? ESRCH : 0;
            if (error == 0) {
                int value =
                    next < reply.size() ? static_cast<unsigned char>(reply[next]) : end_of_message;
                error = queue_value(pid, value);
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

} // namespace signal_lab
