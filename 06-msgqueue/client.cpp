// 06-msgqueue/client.cpp - sends each message through the server's System V
// queue and reads back the reply addressed to its own pid.
//
//   client [--name NAME] [--timeout SECONDS] [MESSAGE...]   (no MESSAGE: stdin lines)
//
// 1. Find the queue: ftok() of the server's key file, msgget(key, 0).
// 2. Throw away replies that wait for our pid: a killed process that had
//    this pid before us may have left some (the server purges them too, but
//    only every tick).
// 3. Per message: msgsnd(mtype 1, body = pid + message), then
//    msgrcv(msgtyp = our pid), which takes only replies addressed to us.
//    Both waits are bounded: the Ticker interrupts them, and we check the
//    deadline and that the server is still alive.
#include "protocol.hpp"

#include <sys/ipc.h>

namespace {

using namespace msgqueue;

int find_queue(const std::string& name) {
    if (!lab::server_running(sysv_topic, name)) {
        throw lab::Failure("server " + name + " not running");
    }
    std::string key_path = lab::object_path(sysv_topic, name, "key");
    key_t key = ::ftok(key_path.c_str(), key_project_id);
    if (key == -1) {
        if (errno == ENOENT) {
            throw lab::Failure("server " + name + " not running (no " + key_path + ")");
        }
        throw lab::sys_error("ftok " + key_path);
    }
    int msqid = ::msgget(key, 0); // no IPC_CREAT: only the server makes the queue
    if (msqid < 0) {
        if (errno == ENOENT) {
            throw lab::Failure("server " + name + " not running (no queue with key " +
                               key_hex(key) + ")");
        }
        throw lab::sys_error("msgget " + key_hex(key));
    }
    return msqid;
}

[[noreturn]] void queue_gone(const std::string& name) {
    throw lab::Failure("server " + name + " not running any more (its queue was removed)");
}

void discard_stale_replies(int msqid, pid_t self) {
    Reply stale;
    while (::msgrcv(msqid, &stale, sizeof stale.text, self, IPC_NOWAIT | MSG_NOERROR) >= 0) {
    }
    if (errno != ENOMSG) {
        throw lab::sys_error("msgrcv stale replies");
    }
}

class Exchange {
  public:
    Exchange(int msqid, std::string name, double timeout_seconds)
        : msqid_(msqid), name_(std::move(name)), timeout_seconds_(timeout_seconds) {}

    std::string send_and_receive(const std::string& message) {
        lab::Deadline deadline(timeout_seconds_);
        Request request;
        std::memset(&request, 0, sizeof request); // no uninitialised padding goes out
        request.mtype = request_type;
        request.client_pid = self_;
        std::memcpy(request.text, message.data(), message.size());
        // The size counts what follows mtype: the pid and the message.
        while (::msgsnd(msqid_, &request, request_pid_bytes + message.size(), 0) < 0) {
            wait_failed("msgsnd", deadline); // a full queue blocks; the tick gets us out
        }
        Reply reply;
        std::memset(&reply, 0, sizeof reply);
        ssize_t got;
        while ((got = ::msgrcv(msqid_, &reply, sizeof reply.text, self_, 0)) < 0) {
            wait_failed("msgrcv", deadline);
        }
        return {reply.text, static_cast<std::size_t>(got)};
    }

  private:
    void wait_failed(const char* call, const lab::Deadline& deadline) {
        if (errno == EIDRM || errno == EINVAL) {
            queue_gone(name_);
        }
        if (errno != EINTR) {
            throw lab::sys_error(call);
        }
        check_still_waiting(sysv_topic, name_, deadline, timeout_seconds_);
    }

    int msqid_;
    std::string name_;
    double timeout_seconds_;
    pid_t self_ = ::getpid();
};

int run(int argc, char** argv) {
    std::string name;
    double timeout_seconds = 0;
    lab::Options options("[--name NAME] [--timeout SECONDS] [MESSAGE...]",
                         "Sends each MESSAGE (or, given none, each line of stdin) through the\n"
                         "server's System V message queue and prints each reply.");
    options.add_name(name);
    options.add_timeout(timeout_seconds);
    std::vector<std::string> messages = options.parse(argc, argv);

    int msqid = find_queue(name);
    if (::getpid() == static_cast<pid_t>(request_type)) {
        throw lab::Failure("cannot run as pid 1: replies to it would look like requests");
    }
    Ticker ticker(lab::stop_check_interval_ms);
    discard_stale_replies(msqid, ::getpid());

    Exchange exchange(msqid, name, timeout_seconds);
    lab::for_each_message(messages, [&exchange](const std::string& message) {
        lab::print_line(exchange.send_and_receive(message));
    });
    return lab::exit_ok;
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
