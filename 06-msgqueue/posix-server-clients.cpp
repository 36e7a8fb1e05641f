// posix-server-clients.cpp - part of posix-server: see posix-server-clients.hpp.
#include "posix-server-clients.hpp"

namespace msgqueue_lab {

void ClientQueues::remove_vanished() {
    for (auto pid = pids_.begin(); pid != pids_.end();) {
        if (!process_gone(*pid)) {
            ++pid;
            continue;
        }
        remove_queue_left_by(*pid);
        pid = pids_.erase(pid);
    }
}

void ClientQueues::remove_queue_left_by(pid_t pid) const {
    std::string queue = reply_queue_name(name_, pid);
    std::string left_by = queue + " left by pid " + std::to_string(pid);
    // The server named NAME-PID has this name too: its queue stays.
    if (std::string clash = shape_mismatch_at(queue, reply_queue_shape); !clash.empty()) {
        lab::log_ignored(left_by + ": " + clash + "; left alone");
    } else if (::mq_unlink(queue.c_str()) == 0) {
        lab::print_line("removed: " + left_by);
    }
}

} // namespace msgqueue_lab
