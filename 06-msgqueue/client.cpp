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

using namespace msgqueue_lab;

int find_queue(const std::string& name);
void discard_stale_replies(int msqid, pid_t self);
std::string exchange(int msqid, const std::string& name, double timeout_seconds,
                     const std::string& message);

int run(int argc, char** argv) {
    lab::ClientCommand command = lab::parse_client_options(
        argc, argv,
        "Sends each MESSAGE (or, given none, each line of stdin) through the\n"
        "server's System V message queue and prints each reply.");

    // 1. Find the queue.
    int msqid = find_queue(command.name);
    if (::getpid() == static_cast<pid_t>(request_type)) {
        throw lab::Failure("cannot run as pid 1: replies to it would look like requests");
    }
    Ticker ticker(lab::stop_check_interval_ms);

    // 2. Throw away replies that wait for our pid.
    discard_stale_replies(msqid, ::getpid());

    // 3. Per message.
    lab::for_each_message(command.messages, [&](const std::string& message) {
        lab::print_line(exchange(msqid, command.name, command.timeout_seconds, message));
    });
    return lab::exit_ok;
}

int find_queue(const std::string& name) {
    if (!lab::server_running(sysv_topic, name)) {
        throw lab::not_running(name);
    }
    std::string key_path = lab::object_path(sysv_topic, name, "key");
    key_t key = ::ftok(key_path.c_str(), key_project_id);
    if (key == -1) {
        if (errno == ENOENT) {
            throw lab::not_running(name, "no " + key_path);
        }
        throw lab::sys_error("ftok " + key_path);
    }
    int msqid = ::msgget(key, 0); // no IPC_CREAT: only the server makes the queue
    if (msqid < 0) {
        if (errno == ENOENT) {
            throw lab::not_running(name, "no queue with key " + lab::key_text(key));
        }
        throw lab::sys_error("msgget " + lab::key_text(key));
    }
    return msqid;
}

void discard_stale_replies(int msqid, pid_t self) {
    Reply stale;
    while (::msgrcv(msqid, &stale, sizeof stale.text, self, IPC_NOWAIT | MSG_NOERROR) >= 0) {
    }
    if (errno != ENOMSG) {
        throw lab::sys_error("msgrcv stale replies");
    }
}

// A msgsnd/msgrcv that returned without its message: the queue is gone
// (exit 1 "not running"), a real error, or the tick (EINTR): then go on
// waiting, unless the server died or the time is up.
void wait_failed(const char* call, const std::string& name, const lab::Deadline& deadline,
                 double timeout_seconds) {
    if (errno == EIDRM || errno == EINVAL) {
        throw lab::not_running(name, "its queue was removed");
    }
    if (errno != EINTR) {
        throw lab::sys_error(call);
    }
    check_still_waiting(sysv_topic, name, deadline, timeout_seconds);
}

// 3. One message there and back; returns the reply.
std::string exchange(int msqid, const std::string& name, double timeout_seconds,
                     const std::string& message) {
    const pid_t self = ::getpid();
    lab::Deadline deadline(timeout_seconds);
    Request request;
    std::memset(&request, 0, sizeof request); // no uninitialised padding goes out
    request.mtype = request_type;
    request.client_pid = self;
    std::memcpy(request.text, message.data(), message.size());
    // The size counts what follows mtype: the pid and the message.
    while (::msgsnd(msqid, &request, request_pid_bytes + message.size(), 0) < 0) {
        // a full queue blocks; the tick gets us out
        wait_failed("msgsnd", name, deadline, timeout_seconds);
    }
    Reply reply;
    std::memset(&reply, 0, sizeof reply);
    ssize_t got;
    while ((got = ::msgrcv(msqid, &reply, sizeof reply.text, self, 0)) < 0) {
        wait_failed("msgrcv", name, deadline, timeout_seconds);
    }
    return {reply.text, static_cast<std::size_t>(got)};
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
