// 06-msgqueue/posix-client.cpp - sends each message to the server's POSIX
// queue and reads the reply from a queue of its own.
//
//   posix-client [--name NAME] [--timeout SECONDS] [--priority P] [MESSAGE...]
//
// 1. Open the server's queue: mq_open(/ipc-lab-UID-msgqueue-posix-NAME, O_WRONLY).
// 2. Make the reply queue /ipc-lab-UID-msgqueue-posix-NAME-PID (O_CREAT |
//    O_EXCL, 0600) BEFORE sending: the server may answer at once. That name
//    may be the queue of a server named NAME-PID: mq_getattr tells, and we
//    exit 1 rather than remove it.
// 3. Per message: mq_timedsend(pid + message, priority P), then
//    mq_timedreceive() on the reply queue. Both wake every tick to check the
//    deadline, that the server is alive, and for SIGINT/SIGTERM.
// 4. mq_close() both, mq_unlink() the reply queue: on every way out, since
//    SIGINT/SIGTERM end the wait and leave through the same destructors.
#include "protocol.hpp"

#include <fcntl.h>
#include <vector>

namespace {

using namespace msgqueue;

PosixQueue open_server_queue(const std::string& name) {
    if (!lab::server_running(posix_topic, name)) {
        throw lab::Failure("server " + name + " not running");
    }
    std::string queue_name = server_queue_name(name);
    mqd_t queue = ::mq_open(queue_name.c_str(), O_WRONLY | O_CLOEXEC); // no O_CREAT: the server's
    if (queue == static_cast<mqd_t>(-1)) {
        if (errno == ENOENT) {
            throw lab::Failure("server " + name + " not running (no " + queue_name + ")");
        }
        throw lab::sys_error("mq_open " + queue_name);
    }
    PosixQueue server(queue, "");
    // A client of the server named like NAME-PID may own this name: never
    // send requests into its reply queue.
    if (std::string clash = shape_mismatch(server.get(), server_queue_shape); !clash.empty()) {
        throw name_clash(queue_name, clash);
    }
    return server;
}

class Exchange {
  public:
    // `stop` is installed before the reply queue exists: from then on,
    // SIGINT/SIGTERM end the wait and leave through ~PosixQueue, which removes it.
    Exchange(const std::string& name, double timeout_seconds, unsigned priority,
             const lab::StopSignals& stop)
        : name_(name), timeout_seconds_(timeout_seconds), priority_(priority), stop_(stop),
          server_(open_server_queue(name)), replies_(make_reply_queue(name)) {}

    std::string send_and_receive(const std::string& message) {
        lab::Deadline deadline(timeout_seconds_);
        std::vector<char> body(sizeof self_ + message.size()); // [pid][message]
        std::memcpy(body.data(), &self_, sizeof self_);
        std::memcpy(body.data() + sizeof self_, message.data(), message.size());
        timespec until = tick(deadline);
        while (::mq_timedsend(server_.get(), body.data(), body.size(), priority_, &until) < 0) {
            wait_failed("mq_timedsend", deadline); // full: the server is behind or stopped
            until = tick(deadline);
        }
        std::vector<char> reply(reply_max_bytes); // must hold the queue's mq_msgsize
        ssize_t got;
        until = tick(deadline);
        while ((got = ::mq_timedreceive(replies_.get(), reply.data(), reply.size(), nullptr,
                                        &until)) < 0) {
            wait_failed("mq_timedreceive", deadline);
            until = tick(deadline);
        }
        return {reply.data(), static_cast<std::size_t>(got)};
    }

  private:
    static PosixQueue make_reply_queue(const std::string& name) {
        bool leftover = false; // a killed process with our pid left it: ours now
        return create_posix_queue(reply_queue_name(name, ::getpid()), O_RDONLY, reply_queue_shape,
                                  leftover);
    }

    static timespec tick(const lab::Deadline& deadline) {
        return lab::Deadline(deadline.tick_milliseconds(lab::stop_check_interval_ms) / 1000.0)
            .absolute_realtime();
    }

    void wait_failed(const char* call, const lab::Deadline& deadline) const {
        if (errno != ETIMEDOUT && errno != EINTR) {
            throw lab::sys_error(call);
        }
        stop_.throw_if_requested();
        check_still_waiting(posix_topic, name_, deadline, timeout_seconds_);
    }

    std::string name_;
    double timeout_seconds_;
    unsigned priority_;
    pid_t self_ = ::getpid();
    const lab::StopSignals& stop_;
    PosixQueue server_;
    PosixQueue replies_;
};

int run(int argc, char** argv) {
    std::string name;
    double timeout_seconds = 0;
    long priority = 0;
    lab::Options options(
        "[--name NAME] [--timeout SECONDS] [--priority P] [MESSAGE...]",
        "Sends each MESSAGE (or, given none, each line of stdin) to the server's\n"
        "POSIX message queue and prints each reply, read from a queue of its own.");
    options.add_name(name);
    options.add_timeout(timeout_seconds);
    options.value("--priority", "P", "send at priority P, 0-31 (default 0): higher is served first",
                  [&priority](const std::string& text) {
                      priority = lab::parse_integer("--priority", text, 0, max_priority);
                  });
    std::vector<std::string> messages = options.parse(argc, argv);

    lab::StopSignals stop;
    Exchange exchange(name, timeout_seconds, static_cast<unsigned>(priority), stop);
    lab::for_each_message(
        messages,
        [&exchange](const std::string& message) {
            lab::print_line(exchange.send_and_receive(message));
        },
        &stop); // Ctrl-C while it waits for a line of stdin ends it too
    return lab::exit_ok;
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
