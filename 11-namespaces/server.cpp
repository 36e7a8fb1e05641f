// 11-namespaces/server.cpp - a server whose objects live in its IPC
// namespace: requests on a POSIX queue, replies on a System V queue.
//
//   server [--name NAME]
//
// 1. Create: the System V reply queue from msgget(ftok(NAME.key, 'N'),
//    IPC_CREAT | IPC_EXCL | 0600), and the POSIX request queue from
//    mq_open(/ipc-lab-UID-namespaces-NAME, O_RDONLY | O_CREAT | O_EXCL, 0600).
//    Both are made in the IPC namespace this process is in: a process in
//    another one finds neither, whatever the key or the name.
// 2. Attach: nothing to map: the ids and the descriptor are all we need.
// 3. Exchange: mq_timedreceive() takes the next request ([pid][message]);
//    msgsnd(mtype = that pid, IPC_NOWAIT) sends the reply. A full reply
//    queue (replies nobody took: clients killed mid-exchange) is purged of
//    the replies to clients that are gone, then tried once more.
// 4. Detach: mq_close().
// 5. Remove: msgctl(IPC_RMID), mq_unlink(), NAME.key; on SIGINT/SIGTERM
//    too, through the same destructors. Had we not, the kernel would still
//    remove both queues when the last process of the namespace is gone
//    (ns-demo shows it): in a shared namespace that is never.
#include "protocol.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <vector>

namespace {

using namespace namespaces_lab;

mqd_t create_request_queue(const std::string& queue_name, bool& took_over);
void send_reply(int msqid, pid_t pid, const std::string& reply);

int run(int argc, char** argv) {
    std::string name = lab::parse_server_options(
        argc, argv,
        "Serves clients until SIGINT or SIGTERM: requests come to its POSIX\n"
        "queue, replies go out on its System V queue (mtype = the client's pid).\n"
        "Both are in its IPC namespace, visible to no other.");
    lab::InstanceLock instance(topic, name); // first: "already running", safe takeover
    lab::StopSignals stop;
    lab::ignore_sigpipe(); // a closed stdout must fail a write, not kill us before cleanup

    // 1. Create: the System V reply queue.
    lab::SysvKeyFile key_file(lab::object_path(topic, name, "key"), key_project_id,
                              {lab::SysvKind::message_queue});
    key_t key = -1;
    // TASK 1 (step 1): create the reply queue with ftok and msgget
    //   Make the System V queue and own it at once. `lab::OwnedSysvId
    //   replies(REMOVE)`, REMOVE a lambda `[](int id) { ... }` calling
    //   `msgctl(id, IPC_RMID, nullptr)`. Then, while `replies.get() < 0`:
    //   `key = ftok(key_file.path().c_str(), key_project_id)` (-1: throw
    //   `lab::sys_error("ftok " + key_file.path())`); `msgget(key,
    //   IPC_CREAT | IPC_EXCL | lab::owner_only)`. EEXIST: another
    //   program's queue has our key here: `key_file.renew()` and try again;
    //   other errno: throw `lab::sys_error("msgget " + lab::key_text(key))`.
    //   On success `replies.own(id)`, then `key_file.record(
    //   lab::SysvKind::message_queue, id)`. After the loop `const int msqid
    //   = replies.get();`.
    //   man 3 ftok, man 2 msgget, man 2 msgctl
    //   check: `./server`, then `ipcs -q` lists the queue; `unshare --ipc ipcs -q` does not
    //   stub: const int msqid =
    //   stub:     lab::not_written_yet<int>(1, 1, "create the reply queue with ftok and msgget");
    lab::OwnedSysvId replies([](int id) { ::msgctl(id, IPC_RMID, nullptr); });
    while (replies.get() < 0) {
        key = ::ftok(key_file.path().c_str(), key_project_id);
        if (key == -1) {
            throw lab::sys_error("ftok " + key_file.path());
        }
        // IPC_EXCL: a queue already under this key is not ours to adopt.
        int id = ::msgget(key, IPC_CREAT | IPC_EXCL | lab::owner_only);
        if (id < 0) {
            if (errno != EEXIST) {
                throw lab::sys_error("msgget " + lab::key_text(key));
            }
            key_file.renew(); // a new inode, a new key (bounded)
            continue;
        }
        replies.own(id); // owned at once: nothing after this may leave it behind
        key_file.record(lab::SysvKind::message_queue, id);
    }
    const int msqid = replies.get();
    // END TASK 1

    // 1. Create: the POSIX request queue; 2. attach: its descriptor.
    std::string queue_name = request_queue_name(name);
    bool took_over = false;
    mqd_t request_queue = create_request_queue(queue_name, took_over); // made first, then owned
    OpenQueue requests(request_queue, lab::OwnedName(queue_name, ::mq_unlink));

    lab::print_ready({{"path", key_file.path()},
                      {"key", lab::key_text(key)},
                      {"msqid", std::to_string(msqid)},
                      {"posix", queue_name},
                      {"ipc", ipc_namespace_of("self")}});
    key_file.print_took_over();
    if (took_over) {
        lab::print_line("took over: removed " + queue_name + " left by a killed server");
    }

    // 3. Exchange.
    std::vector<char> buffer(request_max_bytes); // mq_receive wants room for mq_msgsize
    while (!stop.requested()) {
        // TASK 3 (step 3): take the next request with mq_timedreceive
        //   `mq_timedreceive(requests.get(), buffer.data(), buffer.size(),
        //   nullptr, &until)` into `ssize_t got`, the request's length.
        //   There is no descriptor to poll with the stop signals: wake every
        //   tick, `timespec until = lab::Deadline(lab::stop_check_interval_ms
        //   / 1000.0).absolute_realtime()`. ETIMEDOUT or EINTR: `continue`;
        //   other errno: throw `lab::sys_error("mq_timedreceive " +
        //   queue_name)`.
        //   man 3 mq_receive
        //   check: `./server`, and `./client hi` elsewhere: it logs `received: hi`
        //   stub: ssize_t got = lab::not_written_yet<ssize_t>(
        //   stub:     3, 3, "take the next request with mq_timedreceive");
        timespec until = lab::Deadline(lab::stop_check_interval_ms / 1000.0).absolute_realtime();
        ssize_t got =
            ::mq_timedreceive(requests.get(), buffer.data(), buffer.size(), nullptr, &until);
        if (got < 0) {
            if (errno == ETIMEDOUT || errno == EINTR) {
                continue; // a tick, or a stop signal: look at the flag
            }
            throw lab::sys_error("mq_timedreceive " + queue_name);
        }
        // END TASK 3
        auto request = parse_request({buffer.data(), static_cast<std::size_t>(got)});
        if (!request) {
            continue;
        }
        lab::log_received(request->message);
        send_reply(msqid, request->client_pid, lab::to_upper(request->message));
    }
    // 4. Detach and 5. remove: ~OpenQueue (mq_close, mq_unlink), ~OwnedSysvId
    // (IPC_RMID), ~SysvKeyFile, ~InstanceLock.
    return lab::exit_ok;
}

// TASK 2 (step 1): create the request queue with mq_open
//   Write `create_request_queue(queue_name, took_over)`: our new queue,
//   opened for reading. An `mq_attr` (zeroed) with `mq_maxmsg =
//   request_queue_max_messages`, `mq_msgsize = request_max_bytes`;
//   `mq_open(queue_name.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC,
//   lab::owner_only, &attributes)`, `(mqd_t)-1` on failure. On EEXIST a
//   killed server left it (we hold the instance lock, and no client makes
//   a queue): `mq_unlink()` it, set `took_over`, try again (at most 3
//   times in all). Other errno: throw `lab::sys_error("mq_open " +
//   queue_name)`.
//   man 3 mq_open, man 7 mq_overview
//   check: `./server`; `unshare --mount sh -c 'mount -t mqueue none /mnt; ls /mnt'` lists it
//   stub: mqd_t create_request_queue(const std::string&, bool&) {
//   stub:     return lab::not_written_yet<mqd_t>(1, 2, "create the request queue with mq_open");
//   stub: }
mqd_t create_request_queue(const std::string& queue_name, bool& took_over) {
    mq_attr attributes{};
    attributes.mq_maxmsg = request_queue_max_messages;
    attributes.mq_msgsize = request_max_bytes;
    for (int attempt = 1;; ++attempt) {
        mqd_t queue = ::mq_open(queue_name.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                                lab::owner_only, &attributes);
        if (queue != static_cast<mqd_t>(-1)) {
            return queue;
        }
        if (errno != EEXIST || attempt == 3) {
            throw lab::sys_error("mq_open " + queue_name);
        }
        // A killed server's: we hold the instance lock, and clients make no queue.
        if (::mq_unlink(queue_name.c_str()) < 0 && errno != ENOENT) {
            throw lab::sys_error("mq_unlink leftover " + queue_name);
        }
        took_over = true;
    }
}
// END TASK 2

// TASK 4 (step 3): send the reply with msgsnd
//   Write `send_reply(msqid, pid, reply)`: a zeroed `Reply`, `mtype =
//   pid`, the reply copied into `text`; `msgsnd(msqid, &message,
//   reply.size(), IPC_NOWAIT)`: the size counts what follows mtype;
//   IPC_NOWAIT: a full queue fails with EAGAIN instead of blocking us. On
//   EAGAIN call `purge_replies_to_gone_clients(msqid)` (it returns how many
//   it dropped: if any, print `dropped: N replies to clients that are
//   gone`) and send once more. Still failing: print `dropped: reply to pid
//   PID: ` + `strerror(errno)` with `lab::print_line`; never throw.
//   Above it, `int purge_replies_to_gone_clients(int msqid)`: msgctl(IPC_STAT)
//   gives `msg_qnum`; that many times `msgrcv(msqid, &waiting, sizeof
//   waiting.text, 0, IPC_NOWAIT | MSG_NOERROR)` (msgtyp 0: the oldest of
//   any type) and `msgsnd` it back (IPC_NOWAIT) only when `lab::process_alive`
//   says its mtype's pid lives; return how many were not put back.
//   man 2 msgsnd, man 2 msgrcv, man 2 msgctl
//   check: `./server`, and `./client hello` elsewhere prints `HELLO`
//   stub: void send_reply(int, pid_t, const std::string&) {
//   stub:     lab::not_written_yet(3, 4, "send the reply with msgsnd");
//   stub: }
// The replies waiting in the queue for clients that are gone, removed: the
// others are taken out and put back. Returns how many were dropped.
int purge_replies_to_gone_clients(int msqid) {
    msqid_ds state{};
    if (::msgctl(msqid, IPC_STAT, &state) < 0) {
        throw lab::sys_error("msgctl IPC_STAT");
    }
    int dropped = 0;
    Reply waiting{};
    for (msgqnum_t i = 0; i < state.msg_qnum; ++i) {
        ssize_t got = ::msgrcv(msqid, &waiting, sizeof waiting.text, 0, IPC_NOWAIT | MSG_NOERROR);
        if (got < 0) {
            break; // ENOMSG: a client took its own meanwhile
        }
        auto pid = static_cast<pid_t>(waiting.mtype);
        bool alive = waiting.mtype == pid && lab::process_alive(pid);
        if (!alive || ::msgsnd(msqid, &waiting, static_cast<std::size_t>(got), IPC_NOWAIT) < 0) {
            ++dropped;
        }
    }
    return dropped;
}

void send_reply(int msqid, pid_t pid, const std::string& reply) {
    Reply message;
    std::memset(&message, 0, sizeof message); // no uninitialised padding goes out
    message.mtype = pid;
    std::memcpy(message.text, reply.data(), reply.size());
    if (::msgsnd(msqid, &message, reply.size(), IPC_NOWAIT) == 0) {
        return;
    }
    if (errno == EAGAIN) { // full: replies nobody will take are in the way
        if (int dropped = purge_replies_to_gone_clients(msqid); dropped > 0) {
            lab::print_line("dropped: " + std::to_string(dropped) +
                            " replies to clients that are gone");
        }
        if (::msgsnd(msqid, &message, reply.size(), IPC_NOWAIT) == 0) {
            return;
        }
    }
    lab::print_line("dropped: reply to pid " + std::to_string(pid) + ": " + std::strerror(errno));
}
// END TASK 4

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
