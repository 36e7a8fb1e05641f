// 11-namespaces/client.cpp - sends each message to the server's POSIX queue
// and takes the reply addressed to its pid from the server's System V queue.
//
//   client [--name NAME] [--timeout SECONDS] [MESSAGE...]   (no MESSAGE: stdin lines)
//
// 1. Find the queues: mq_open(/ipc-lab-UID-namespaces-NAME, O_WRONLY), and
//    msgget(ftok(NAME.key, 'N'), 0). A live server whose queues are not
//    here (ENOENT, while its lock in the runtime dir is held) is in another
//    IPC namespace: exit 1, "not running (server is in another IPC
//    namespace...)", comparing /proc/PID/ns/ipc with /proc/self/ns/ipc.
// 2. Throw away replies waiting for our pid (a killed process that had it
//    may have left some).
// 3. Per message: mq_timedsend([pid][message]), then msgrcv(msgtyp = our
//    pid). Both waits are bounded: mq_timedsend by its own timeout, msgrcv
//    by the Ticker's SIGALRM; then we check the deadline and that the
//    server is still alive.
// 4. mq_close() on every way out; the client makes nothing, so removes nothing.
#include "protocol.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <vector>

namespace {

using namespace namespaces_lab;

mqd_t open_request_queue(const std::string& name);
int find_reply_queue(const std::string& name);
std::string exchange(const OpenQueue& requests, int msqid, const std::string& name,
                     double timeout_seconds, const std::string& message);

int run(int argc, char** argv) {
    lab::ClientCommand command = lab::parse_client_options(
        argc, argv,
        "Sends each MESSAGE (or, given none, each line of stdin) to the server's\n"
        "POSIX queue and prints each reply, taken from its System V queue.\n"
        "Both must be in this process's IPC namespace.");

    // 1. Find the queues.
    if (!lab::server_running(topic, command.name)) {
        throw lab::not_running(command.name);
    }
    OpenQueue requests(open_request_queue(command.name));
    int msqid = find_reply_queue(command.name);
    // msgrcv() has no timeout: SIGALRM every tick interrupts it (EINTR);
    // SA_RESTART keeps the reads of stdin and writes of stdout from seeing it.
    lab::Ticker ticker(lab::Ticker::Restart::other_calls_restarted);
    ticker.arm(lab::stop_check_interval_ms, lab::stop_check_interval_ms);

    // 2. (find_reply_queue) Replies waiting for our pid are thrown away.

    // 3. Per message.
    lab::for_each_message(command.messages, [&](const std::string& message) {
        lab::print_line(exchange(requests, msqid, command.name, command.timeout_seconds, message));
    });
    // 4. ~OpenQueue: mq_close().
    return lab::exit_ok;
}

// TASK 5 (step 1): open the server's request queue with mq_open
//   Return `mq_open(request_queue_name(name).c_str(), O_WRONLY | O_CLOEXEC)`:
//   no O_CREAT, the server makes it. It returns `(mqd_t)-1` on failure.
//   ENOENT while the server's lock is held means the queue is not in OUR
//   IPC namespace: throw `not_running_here(name)` (protocol.hpp); other
//   errno: `lab::sys_error("mq_open " + queue_name)`.
//   man 3 mq_open, man 7 ipc_namespaces
//   check: `unshare --ipc ./client hi` beside a server says `another IPC namespace`
//   stub: mqd_t open_request_queue(const std::string&) {
//   stub:     return lab::not_written_yet<mqd_t>(1, 5, "open the request queue with mq_open");
//   stub: }
mqd_t open_request_queue(const std::string& name) {
    std::string queue_name = request_queue_name(name);
    mqd_t queue = ::mq_open(queue_name.c_str(), O_WRONLY | O_CLOEXEC); // no O_CREAT: the server's
    if (queue == static_cast<mqd_t>(-1)) {
        if (errno == ENOENT) {
            throw not_running_here(name); // a live server, but not in our namespace
        }
        throw lab::sys_error("mq_open " + queue_name);
    }
    return queue;
}
// END TASK 5

// TASK 6 (step 1): find the reply queue with ftok and msgget
//   `ftok()` of `lab::object_path(topic, name, "key")` with
//   `key_project_id` (-1 with ENOENT: `lab::not_running(name, "no " +
//   path)`; other errno: `lab::sys_error("ftok " + path)`), then
//   `msgget(key, 0)`: no IPC_CREAT. ENOENT: `not_running_here(name)`;
//   other errno: `lab::sys_error("msgget " + lab::key_text(key))`. Step 2:
//   a killed process that had our pid may have left replies: take them
//   with `msgrcv(msqid, &stale, sizeof stale.text, getpid(), IPC_NOWAIT |
//   MSG_NOERROR)` into a `Reply stale` until it fails (ENOMSG).
//   man 3 ftok, man 2 msgget, man 2 msgrcv
//   check: `./client hi` with no server says `not running`, at once
//   stub: int find_reply_queue(const std::string&) {
//   stub:     return lab::not_written_yet<int>(1, 6, "find the reply queue with ftok and msgget");
//   stub: }
int find_reply_queue(const std::string& name) {
    std::string key_path = lab::object_path(topic, name, "key");
    key_t key = ::ftok(key_path.c_str(), key_project_id);
    if (key == -1) {
        if (errno == ENOENT) {
            throw lab::not_running(name, "no " + key_path);
        }
        throw lab::sys_error("ftok " + key_path);
    }
    int msqid = ::msgget(key, 0); // no IPC_CREAT: only the server makes it
    if (msqid < 0) {
        if (errno == ENOENT) {
            throw not_running_here(name); // the key names no queue in our namespace
        }
        throw lab::sys_error("msgget " + lab::key_text(key));
    }
    // 2. Replies a killed process with our pid left are not ours.
    Reply stale;
    while (::msgrcv(msqid, &stale, sizeof stale.text, ::getpid(), IPC_NOWAIT | MSG_NOERROR) >= 0) {
    }
    return msqid;
}
// END TASK 6

// TASK 7 (step 3): send with mq_timedsend, take the reply with msgrcv
//   Write `exchange()`: one message there and back, the reply returned.
//   The request `[pid_t getpid()][message]` in a `std::vector<char>`;
//   `lab::Deadline deadline(timeout_seconds)`; `mq_timedsend(requests.get(),
//   body.data(), body.size(), 0, &until)` with `until` a tick ahead
//   (`lab::Deadline(deadline.tick_milliseconds(lab::stop_check_interval_ms)
//   / 1000.0).absolute_realtime()`), in a loop that calls `keep_waiting(
//   "mq_timedsend", name, deadline, timeout_seconds)` when it fails. Then a
//   zeroed `Reply` and `msgrcv(msqid, &reply, sizeof reply.text, getpid(),
//   MSG_NOERROR)` (msgtyp = our pid: only our replies), looping with
//   `keep_waiting("msgrcv", ...)` while it fails (the Ticker's EINTR).
//   Write `keep_waiting` above it: EIDRM or EINVAL throw `lab::not_running(
//   name, "its queue was removed")`; an errno other than EINTR and
//   ETIMEDOUT `lab::sys_error(call)`; then `lab::server_running(topic,
//   name)` false: `lab::not_running(name, "it went away")`; the deadline
//   expired: `lab::timed_out(timeout_seconds, "server " + name)`.
//   man 3 mq_send, man 2 msgrcv
//   check: `./server`, and `./client hello world` elsewhere prints `HELLO WORLD`
//   stub: std::string exchange(const OpenQueue&, int, const std::string&, double,
//   stub:                      const std::string&) {
//   stub:     lab::not_written_yet(3, 7, "send with mq_timedsend, take the reply with msgrcv");
//   stub: }
// A wait that returned without its message: the tick (go on waiting,
// unless the server died or the time is up) or a real error.
void keep_waiting(const char* call, const std::string& name, const lab::Deadline& deadline,
                  double timeout_seconds) {
    if (errno == EIDRM || errno == EINVAL) {
        throw lab::not_running(name, "its queue was removed");
    }
    if (errno != EINTR && errno != ETIMEDOUT) {
        throw lab::sys_error(call);
    }
    if (!lab::server_running(topic, name)) {
        throw lab::not_running(name, "it went away");
    }
    if (deadline.expired()) {
        throw lab::timed_out(timeout_seconds, "server " + name);
    }
}

std::string exchange(const OpenQueue& requests, int msqid, const std::string& name,
                     double timeout_seconds, const std::string& message) {
    const pid_t self = ::getpid();
    lab::Deadline deadline(timeout_seconds);
    std::vector<char> body(sizeof self + message.size()); // [pid][message]
    std::memcpy(body.data(), &self, sizeof self);
    std::memcpy(body.data() + sizeof self, message.data(), message.size());
    for (;;) {
        timespec until =
            lab::Deadline(deadline.tick_milliseconds(lab::stop_check_interval_ms) / 1000.0)
                .absolute_realtime();
        if (::mq_timedsend(requests.get(), body.data(), body.size(), 0, &until) == 0) {
            break;
        }
        keep_waiting("mq_timedsend", name, deadline, timeout_seconds); // full: the server is behind
    }
    Reply reply;
    std::memset(&reply, 0, sizeof reply);
    ssize_t got;
    while ((got = ::msgrcv(msqid, &reply, sizeof reply.text, self, MSG_NOERROR)) < 0) {
        keep_waiting("msgrcv", name, deadline, timeout_seconds);
    }
    return {reply.text, static_cast<std::size_t>(got)};
}
// END TASK 7

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
