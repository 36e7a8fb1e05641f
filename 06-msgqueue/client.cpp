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
    // TASK 6 (step 1): find the queue with ftok and msgget
    //   Return the id of the server's queue. `ftok()` of the server's key
    //   file `lab::object_path(sysv_topic, name, "key")` with
    //   `key_project_id` gives the server's key; -1 with ENOENT means no
    //   server made it: throw `lab::not_running(name, "no " + path)`, other
    //   errno: `lab::sys_error("ftok " + path)`. Then `msgget(key, 0)`: no
    //   IPC_CREAT, only the server makes the queue; ENOENT: throw
    //   `lab::not_running(name, "no queue with key " + lab::key_text(key))`,
    //   other errno: `lab::sys_error("msgget " + lab::key_text(key))`.
    //   man 3 ftok, man 2 msgget
    //   check: `./client hi` with no server says `not running`, at once
    //   stub: return lab::not_written_yet<int>(1, 6, "find the queue with ftok and msgget");
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
    // END TASK 6
}

// TASK 7 (step 2): throw away stale replies to our pid with msgrcv
//   Write `discard_stale_replies(msqid, self)`: a killed process that had
//   our pid before us may have left replies in the queue, and the server
//   purges them only every tick. Loop on `msgrcv(msqid, &stale, sizeof
//   stale.text, self, IPC_NOWAIT | MSG_NOERROR)` into a `Reply stale`
//   (msgtyp = our pid: only replies addressed to us) until it fails;
//   ENOMSG (none left) is the normal end, any other errno: throw
//   `lab::sys_error("msgrcv stale replies")`.
//   man 2 msgrcv
//   check: `make test`: "a client never takes a reply left for an earlier process"
//   stub: void discard_stale_replies(int, pid_t) {
//   stub:     lab::not_written_yet(2, 7, "throw away stale replies to our pid with msgrcv");
//   stub: }
void discard_stale_replies(int msqid, pid_t self) {
    Reply stale;
    while (::msgrcv(msqid, &stale, sizeof stale.text, self, IPC_NOWAIT | MSG_NOERROR) >= 0) {
    }
    if (errno != ENOMSG) {
        throw lab::sys_error("msgrcv stale replies");
    }
}
// END TASK 7

// TASK 8 (step 3): send a request with msgsnd, read its reply with msgrcv
//   Write `exchange()`: one message there and back, the reply returned.
//   The request: a `Request` zeroed with `std::memset` (no uninitialised
//   padding goes out), `mtype = request_type`, `client_pid = getpid()`, the
//   message copied into `text`; `msgsnd(msqid, &request, request_pid_bytes +
//   message.size(), 0)`: the size counts what follows `mtype` (the pid and
//   the message). The reply: `msgrcv(msqid, &reply, sizeof reply.text,
//   getpid(), 0)` into a zeroed `Reply`: msgtyp = our pid takes only the
//   replies addressed to us; it returns the text's length. Both calls may
//   block (a full queue, a slow server): the Ticker interrupts them every
//   tick with EINTR. So loop on each while it fails: EIDRM or EINVAL (the
//   queue was removed): throw `lab::not_running(name, "its queue was
//   removed")`; an errno other than EINTR: `lab::sys_error("msgsnd")` (or
//   msgrcv); EINTR: `check_still_waiting(sysv_topic, name, deadline,
//   timeout_seconds)` (protocol.hpp: it throws "not running" or "timed
//   out") with a `lab::Deadline deadline(timeout_seconds)` made at the
//   start, then call again.
//   man 2 msgsnd, man 2 msgrcv
//   check: `./server`, and `./client hello world` elsewhere prints `HELLO WORLD`
//   stub: std::string exchange(int, const std::string&, double, const std::string&) {
//   stub:     lab::not_written_yet(3, 8, "send a request with msgsnd, read its reply with msgrcv");
//   stub: }
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
// END TASK 8

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
