// protocol.hpp - what the 11-namespaces programs agree on: names, message
// layouts, sizes, and the few helpers both sides use.
//
// One server, two kinds of object, each where it fits:
//   requests  POSIX queue /ipc-lab-UID-namespaces-NAME, the server's alone
//             (it is its only reader):  [pid_t client pid][message bytes]
//   replies   System V queue keyed by ftok("$IPC_LAB_DIR/namespaces/NAME.key",
//             'N'), shared by every client: mtype = the client's pid,
//             body = the reply. msgrcv's msgtyp lets each client take only
//             its own, so no client makes an object of its own.
// Both live in the server's IPC namespace. The files (NAME.key, NAME.lock)
// live in the runtime dir, on a file system every namespace of the machine
// may share: a client can see a live server's lock there and still find
// neither queue. That is how it tells "another IPC namespace" (below).
#pragma once

#include "lab.hpp"

#include <cstddef>
#include <mqueue.h>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>

namespace namespaces_lab {

inline constexpr std::string_view topic = "namespaces";
inline constexpr int key_project_id = 'N'; // ftok() keeps its low 8 bits

// /proc/sys/fs/mqueue/msg_max is 10 in a new IPC namespace: mq_open fails
// with EINVAL above it unless the caller has CAP_SYS_RESOURCE.
inline constexpr long request_queue_max_messages = 10;
inline constexpr long request_max_bytes = sizeof(pid_t) + lab::max_message_bytes;

// msgsnd()/msgrcv() take a pointer to a struct that starts with `long
// mtype`, and a size that counts only the bytes after it.
struct Reply {
    long mtype; // the client's pid
    char text[lab::max_message_bytes];
};

inline std::string request_queue_name(const std::string& name) {
    return lab::posix_ipc_name(topic, name);
}

// An open POSIX queue: mq_close()d when it goes; the name is mq_unlink()ed
// after that by the lab::OwnedName given when this process made it.
class OpenQueue {
  public:
    explicit OpenQueue(mqd_t queue, lab::OwnedName owned_name = {})
        : queue_(queue), owned_name_(std::move(owned_name)) {}
    OpenQueue(const OpenQueue&) = delete;
    OpenQueue& operator=(const OpenQueue&) = delete;
    ~OpenQueue() { ::mq_close(queue_); }
    mqd_t get() const { return queue_; }

  private:
    mqd_t queue_;
    lab::OwnedName owned_name_; // destroyed after the body's mq_close()
};

// A request's body taken apart; nothing (after a log line `ignored:
// REASON`) when it is none we can answer.
struct Request {
    pid_t client_pid;
    std::string_view message;
};
std::optional<Request> parse_request(std::span<const char> body);

// "ipc:[4026532201]": the IPC namespace /proc/PID/ns/ipc names ("self" for
// ours); "" when /proc does not say (no such process, no permission).
std::string ipc_namespace_of(const std::string& pid);

// The client found a live server's lock but not its queue: the contract's
// "not running", saying why when it can. The server's pid is in NAME.lock;
// its /proc/PID/ns/ipc against our /proc/self/ns/ipc tells whether it is in
// another IPC namespace (only a guess when that pid is not visible here:
// another PID namespace).
lab::Failure not_running_here(const std::string& name);

} // namespace namespaces_lab
