// posix-server-clients.hpp - part of posix-server: the reply queues that
// clients killed with SIGKILL left behind.
#pragma once

#include "protocol.hpp"

#include <set>
#include <string>

namespace msgqueue_lab {

// Clients whose requests we saw. A client removes its reply queue on every
// way out it controls; one killed with SIGKILL cannot, so once its pid is
// gone we remove the queue for it.
class ClientQueues {
  public:
    explicit ClientQueues(std::string name) : name_(std::move(name)) {}
    ~ClientQueues() { remove_vanished(); }
    ClientQueues(const ClientQueues&) = delete;
    ClientQueues& operator=(const ClientQueues&) = delete;

    void seen(pid_t pid) { pids_.insert(pid); }

    // mq_unlink()s the reply queue of each client seen whose pid is gone.
    void remove_vanished();

  private:
    void remove_queue_left_by(pid_t pid) const;

    std::string name_;
    std::set<pid_t> pids_;
};

} // namespace msgqueue_lab
