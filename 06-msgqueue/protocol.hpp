// protocol.hpp - what the 06-msgqueue programs agree on: names, message
// layouts, sizes, and the few helpers both sides use.
//
// System V (server, client): ONE queue for everybody, keyed by
//     ftok("$IPC_LAB_DIR/msgqueue/NAME.key", 'M')
//   request  mtype 1          body: [pid_t client pid][message bytes]
//   reply    mtype = the pid  body: [reply bytes]
// Each client reads only the messages whose mtype is its own pid (msgrcv's
// msgtyp), the server only mtype 1. A pid is never 1 for a client (that is
// init), so requests and replies never mix.
//
// POSIX (posix-server, posix-client): one queue per reader.
//   /ipc-lab-UID-msgqueue-posix-NAME       the server's: [pid_t][message bytes]
//   /ipc-lab-UID-msgqueue-posix-NAME-PID   one client's reply queue: [reply bytes]
// Each client makes its reply queue before it sends, and removes it on
// every way out. mq_send's priority orders the server's queue. The second
// name can be the first of a server named NAME-PID: see QueueShape.
#pragma once

#include "lab.hpp"

#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <mqueue.h>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <sys/msg.h>
#include <sys/time.h>
#include <unistd.h>
#include <utility>

namespace msgqueue_lab {

// ---------------------------------------------------------------- System V

inline constexpr std::string_view sysv_topic = "msgqueue";
inline constexpr int key_project_id = 'M'; // ftok() keeps its low 8 bits
inline constexpr long request_type = 1;

// msgsnd()/msgrcv() take a pointer to a struct that starts with `long
// mtype`, but a size that counts only what FOLLOWS mtype: never sizeof(the
// struct). Callers zero the whole struct first, so no uninitialised padding
// travels (valgrind reports it otherwise).
struct Request {
    long mtype;
    pid_t client_pid;
    // One byte more than a message may have: received with MSG_NOERROR, a
    // longer request arrives cut to this size and is seen to be too long.
    char text[lab::max_message_bytes + 1];
};
static_assert(offsetof(Request, text) == offsetof(Request, client_pid) + sizeof(pid_t),
              "the body is the pid, then the message, with no gap");
inline constexpr std::size_t request_pid_bytes = sizeof(pid_t);
// What msgrcv may copy into a Request: the body, not the padding after it.
inline constexpr std::size_t request_max_body_bytes = request_pid_bytes + sizeof Request::text;

struct Reply {
    long mtype;
    char text[lab::max_message_bytes];
};

// msgsnd() and msgrcv() have no timed form. While a Ticker lives, SIGALRM
// comes every `interval_ms` to a handler that does nothing: a blocked
// msgsnd/msgrcv then fails with EINTR (System V IPC calls are never
// restarted, SA_RESTART or not: signal(7)) and the loop around it checks its
// deadline or stop request again. SA_RESTART keeps every other call (reading
// stdin, writing stdout) from ever seeing the tick. The tick itself is
// common's (lab::Ticker: SIGALRM unblocked while it lives, a late tick taken
// before the old action comes back), the same that bounds 01's lock waits.
class Ticker {
  public:
    explicit Ticker(int interval_ms) : ticker_(lab::Ticker::Restart::other_calls_restarted) {
        ticker_.arm(interval_ms, interval_ms);
    }

  private:
    lab::Ticker ticker_;
};

// ------------------------------------------------------------------- POSIX

inline constexpr std::string_view posix_topic = "msgqueue-posix";
// /proc/sys/fs/mqueue/msg_max (10 here): mq_open fails with EINVAL above it
// unless the caller has CAP_SYS_RESOURCE.
inline constexpr long server_queue_max_messages = 10;
inline constexpr long request_max_bytes = sizeof(pid_t) + lab::max_message_bytes;
// A client waits for each reply before it sends again: one slot is enough,
// and every queue counts against RLIMIT_MSGQUEUE (ulimit -q, 800 KiB).
inline constexpr long reply_queue_max_messages = 1;
inline constexpr long reply_max_bytes = lab::max_message_bytes;
inline constexpr long max_priority = 31; // POSIX promises at least 0-31

// A queue's mq_maxmsg and mq_msgsize. One name can be both kinds of queue:
// NAME's client with pid 42 replies through /...-NAME-42, the queue of the
// server named NAME-42. Their shapes differ, and that tells them apart: no
// program removes, or sends into, a queue of the other kind.
struct QueueShape {
    long max_messages;
    long message_bytes;
    bool operator==(const QueueShape&) const = default;
};
inline constexpr QueueShape server_queue_shape{server_queue_max_messages, request_max_bytes};
inline constexpr QueueShape reply_queue_shape{reply_queue_max_messages, reply_max_bytes};
static_assert(server_queue_shape != reply_queue_shape, "the two kinds must be told apart");

inline std::string server_queue_name(const std::string& name) {
    return lab::posix_ipc_name(posix_topic, name);
}

inline std::string reply_queue_name(const std::string& name, pid_t pid) {
    return lab::posix_ipc_name(posix_topic, name, std::to_string(pid));
}

// An open message queue descriptor: mq_close()d when it goes, and the name
// mq_unlink()ed after that by the lab::OwnedName given when this process
// made the queue and owns it.
class PosixQueue {
  public:
    PosixQueue() = default;
    explicit PosixQueue(mqd_t queue, lab::OwnedName owned_name = {})
        : queue_(queue), owned_name_(std::move(owned_name)) {}
    PosixQueue(PosixQueue&& other) noexcept
        : queue_(std::exchange(other.queue_, invalid)), owned_name_(std::move(other.owned_name_)) {}
    PosixQueue& operator=(PosixQueue&&) = delete;
    PosixQueue(const PosixQueue&) = delete;
    PosixQueue& operator=(const PosixQueue&) = delete;
    ~PosixQueue() {
        if (queue_ != invalid) {
            ::mq_close(queue_);
        }
    }

    mqd_t get() const { return queue_; }

  private:
    static constexpr mqd_t invalid = static_cast<mqd_t>(-1);
    mqd_t queue_ = invalid;
    lab::OwnedName owned_name_; // goes after the body's mq_close()
};

// Why `queue` is not a queue of `expected` shape ("it is a server queue
// (mq_maxmsg 10, mq_msgsize 1028), not a reply queue"), or "" when it is.
std::string shape_mismatch(mqd_t queue, const QueueShape& expected);
// The same for the queue under `name`; "" too when there is none.
std::string shape_mismatch_at(const std::string& name, const QueueShape& expected);
// The error of a program that found such a queue and will not touch it.
inline lab::Failure name_clash(const std::string& name, const std::string& mismatch) {
    return lab::Failure("mq_open " + name + ": name clash: " + mismatch + "; left alone");
}

// How many times a program tries mq_open(O_CREAT | O_EXCL) on its queue's
// name: another process may make or remove the name between our calls.
inline constexpr int max_create_attempts = 3;

// mq_open(O_CREAT | O_EXCL) found `name` taken (EEXIST). One of `shape` is a
// leftover of a process that was killed (the caller knows: the server holds
// its instance lock, a client owns its pid): it is mq_unlink()ed, and the
// caller makes its queue anew. One of another shape is the other kind of
// queue, maybe alive: lab::Failure "name clash", and it is left alone.
// True when a leftover was removed.
bool remove_leftover_queue(const std::string& name, const QueueShape& shape);

// ------------------------------------------------------------------- both

// A request's body, [pid_t client pid][message], taken apart; nothing (after
// a log line `ignored: REASON`) when it is no request we can answer: too
// short, a pid that cannot be a client's, a message too long or holding a
// newline. A garbage request costs its sender, never the server.
struct ParsedRequest {
    pid_t client_pid;
    std::string_view message;
};
std::optional<ParsedRequest> parse_request(std::span<const char> body);

// A client is gone when no live process has its pid: kill(pid, 0) alone
// is not enough, since it also finds a zombie (a killed client its parent
// has not reaped yet) and a dying one (lab::process_alive).
inline bool process_gone(pid_t pid) {
    return !lab::process_alive(pid);
}

// A client's wait woke up with nothing yet: fail with the contract's words
// when the server died (lab::not_running) or the time is up (lab::timed_out).
void check_still_waiting(std::string_view topic, const std::string& name,
                         const lab::Deadline& deadline, double timeout_seconds);

} // namespace msgqueue_lab
