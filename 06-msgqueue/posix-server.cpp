// 06-msgqueue/posix-server.cpp - a POSIX message queue server: its own queue
// for requests, one reply queue per client.
//
//   posix-server [--name NAME]
//
// 1. Create: mq_open(/ipc-lab-UID-msgqueue-posix-NAME, O_RDONLY | O_CREAT |
//    O_EXCL, 0600, {mq_maxmsg 10, mq_msgsize pid + 1024}). A killed server's
//    queue of that name is unlinked and made anew; a queue of another shape
//    there (a client's reply queue: mq_getattr) is left alone and we exit 1.
// 2. Attach: the descriptor mq_open gave is all we need.
// 3. Exchange: mq_timedreceive() takes the oldest request of the HIGHEST
//    priority; the reply goes to the client's own queue, opened by name with
//    O_NONBLOCK and sent with mq_send(), so a client that stopped reading
//    costs its own reply, never our progress.
// 4. Detach: mq_close() each descriptor.
// 5. Remove: mq_unlink() our queue (and the reply queues that SIGKILLed
//    clients left, after mq_getattr shows they are reply queues), on
//    SIGINT/SIGTERM through the same destructors.
#include "protocol.hpp"

#include <fcntl.h>
#include <set>
#include <vector>

namespace {

using namespace msgqueue;

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

    void remove_vanished() {
        for (auto pid = pids_.begin(); pid != pids_.end();) {
            if (!process_gone(*pid)) {
                ++pid;
                continue;
            }
            remove_queue_left_by(*pid);
            pid = pids_.erase(pid);
        }
    }

  private:
    void remove_queue_left_by(pid_t pid) const {
        std::string queue = reply_queue_name(name_, pid);
        std::string left_by = queue + " left by pid " + std::to_string(pid);
        // The server named NAME-PID has this name too: its queue stays.
        if (std::string clash = shape_mismatch_at(queue, reply_queue_shape); !clash.empty()) {
            lab::log_ignored(left_by + ": " + clash + "; left alone");
        } else if (::mq_unlink(queue.c_str()) == 0) {
            lab::print_line("removed: " + left_by);
        }
    }

    std::string name_;
    std::set<pid_t> pids_;
};

void send_reply(const std::string& name, pid_t pid, const std::string& reply) {
    std::string queue_name = reply_queue_name(name, pid);
    // O_NONBLOCK: a full reply queue fails with EAGAIN instead of blocking us.
    mqd_t queue = ::mq_open(queue_name.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (queue == static_cast<mqd_t>(-1)) {
        lab::print_line("dropped: reply to pid " + std::to_string(pid) + ": " + queue_name + ": " +
                        std::strerror(errno));
        return;
    }
    PosixQueue reply_queue(queue, ""); // close it when done; the client removes it
    // The server named NAME-PID has this name too: its queue gets nothing of ours.
    if (std::string clash = shape_mismatch(reply_queue.get(), reply_queue_shape); !clash.empty()) {
        lab::log_ignored("reply to pid " + std::to_string(pid) + ": " + queue_name + ": " +
                        clash);
        return;
    }
    if (::mq_send(reply_queue.get(), reply.data(), reply.size(), 0) < 0) {
        // EAGAIN: full (a client reads each reply before its next request:
        // this one stopped reading).
        lab::print_line("dropped: reply to pid " + std::to_string(pid) + ": " +
                        std::strerror(errno));
    }
}

int run(int argc, char** argv) {
    std::string name = parse_server_options(
        argc, argv,
        "Serves clients through POSIX message queues until SIGINT or SIGTERM:\n"
        "requests come to its own queue, highest priority first; each reply\n"
        "goes to the client's own queue.");
    lab::InstanceLock instance(posix_topic, name); // first: "already running", safe takeover
    lab::StopSignals stop;
    lab::ignore_sigpipe(); // a closed stdout must fail a write, not kill us before cleanup

    std::string queue_name = server_queue_name(name);
    bool took_over = false;
    PosixQueue requests = create_posix_queue(queue_name, O_RDONLY, server_queue_shape, took_over);
    ClientQueues clients(name);

    lab::print_ready({{"posix", queue_name}});
    if (took_over) {
        lab::print_line("took over: removed " + queue_name + " left by a killed server");
    }

    std::vector<char> buffer(request_max_bytes); // mq_receive wants room for mq_msgsize
    lab::Deadline next_housekeeping(0);
    while (!stop.requested()) {
        if (next_housekeeping.expired()) {
            clients.remove_vanished();
            next_housekeeping = lab::Deadline(lab::stop_check_interval_ms / 1000.0);
        }
        // No descriptor to poll with the stop pipe: wake every tick to check.
        timespec until = lab::Deadline(lab::stop_check_interval_ms / 1000.0).absolute_realtime();
        unsigned priority = 0;
        ssize_t got =
            ::mq_timedreceive(requests.get(), buffer.data(), buffer.size(), &priority, &until);
        if (got < 0) {
            if (errno == ETIMEDOUT || errno == EINTR) {
                continue;
            }
            throw lab::sys_error("mq_timedreceive " + queue_name);
        }
        auto parsed = parse_request({buffer.data(), static_cast<std::size_t>(got)});
        if (!parsed) {
            continue;
        }
        lab::log_received(parsed->message);
        clients.seen(parsed->client_pid);
        send_reply(name, parsed->client_pid, lab::to_upper(parsed->message));
    }
    return lab::exit_ok;
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
