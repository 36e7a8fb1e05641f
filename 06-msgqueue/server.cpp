// 06-msgqueue/server.cpp - a System V message queue: one queue, replies
// told apart by their mtype.
//
//   server [--name NAME]
//
// 1. Create: the key file NAME.key (ftok() needs a file that exists), the
//    key from ftok(), the queue from msgget(key, IPC_CREAT | IPC_EXCL | 0600).
//    A queue a killed server recorded in its NAME.key is removed first, if
//    it is provably its own (lab::SysvKeyFile, common/sysv_key.cpp).
// 2. Attach: nothing to map or open: every call names the queue by its id.
// 3. Exchange: msgrcv(mtype 1) takes the next request, whoever sent it;
//    the reply goes back with msgsnd(mtype = the client's pid, IPC_NOWAIT)
//    through the Outbox (server-outbox.hpp), which never lets a full queue block us.
// 4. Detach: nothing.
// 5. Remove: msgctl(IPC_RMID), then the key file; on SIGINT/SIGTERM too,
//    through the same destructors as a normal return.
#include "protocol.hpp"
#include "server-outbox.hpp"

#include <optional>
#include <sys/ipc.h>

namespace {

using namespace msgqueue_lab;

int run(int argc, char** argv) {
    std::string name = lab::parse_server_options(
        argc, argv,
        "Serves clients through one System V message queue until SIGINT or\n"
        "SIGTERM: requests are mtype 1, each reply's mtype is its client's pid.");
    lab::InstanceLock instance(sysv_topic, name); // first: "already running", safe takeover
    lab::StopSignals stop(lab::keeping, {SIGALRM});
    lab::ignore_sigpipe(); // a closed stdout must fail a write, not kill us before cleanup

    // 1. Create.
    lab::SysvKeyFile key_file(lab::object_path(sysv_topic, name, "key"), key_project_id,
                              {lab::SysvKind::message_queue});
    key_t key = -1;
    // TASK 1 (step 1): create the queue with ftok and msgget
    //   Make the queue, owned the moment it exists, and set `msqid` to its id.
    //   First its owner: `lab::OwnedSysvId queue(REMOVE)`, where REMOVE is a
    //   lambda `[](int msqid) { ... }` that calls `msgctl(msqid, IPC_RMID,
    //   nullptr)`; declared after `key_file`, it removes the queue before
    //   NAME.key goes. Then loop while `queue.get() < 0`: `key = ftok(
    //   key_file.path().c_str(), key_project_id)` (-1: throw
    //   `lab::sys_error("ftok " + key_file.path())`); `msgget(key, IPC_CREAT | IPC_EXCL
    //   | lab::owner_only)`. IPC_EXCL: never adopt a queue that is already
    //   there. On EEXIST another program's queue has our key (ftok keeps
    //   only 16 bits of the inode): leave it alone, `key_file.renew()` (a
    //   new inode, a new key) and try again; any other errno: throw
    //   `lab::sys_error("msgget " + lab::key_text(key))`. On success
    //   `queue.own(msqid)` at once, then `key_file.record(
    //   lab::SysvKind::message_queue, msqid)` so that a server started after
    //   a kill -9 of this one can remove it. The loop's own id is a local
    //   `int`; after the loop, `const int msqid = queue.get();` is what
    //   the code below uses. OwnedSysvId takes a plain function: the lambda
    //   captures nothing.
    //   man 3 ftok, man 2 msgget, man 2 msgctl
    //   check: `./server`, then `ipcs -q` lists the queue (perms 600)
    //   stub: const int msqid =
    //   stub:     lab::not_written_yet<int>(1, 1, "create the queue with ftok and msgget");
    // After key_file: the queue is removed before NAME.key. Removal is at
    // once, even for clients blocked in msgrcv on it: they get EIDRM.
    lab::OwnedSysvId queue([](int msqid) { ::msgctl(msqid, IPC_RMID, nullptr); });
    while (queue.get() < 0) {
        key = ::ftok(key_file.path().c_str(), key_project_id);
        if (key == -1) {
            throw lab::sys_error("ftok " + key_file.path());
        }
        // IPC_EXCL: never adopt a queue that is already there under this key.
        int msqid = ::msgget(key, IPC_CREAT | IPC_EXCL | lab::owner_only);
        if (msqid < 0) {
            if (errno != EEXIST) {
                throw lab::sys_error("msgget " + lab::key_text(key));
            }
            // Another program's queue has our key (ftok keeps only 16 bits
            // of the inode): leave it alone, and make NAME.key again (a new
            // inode, a new key; bounded: it gives up after a few).
            key_file.renew();
            continue;
        }
        queue.own(msqid); // owned at once: nothing after this may leave it behind
        key_file.record(lab::SysvKind::message_queue, msqid);
    }
    const int msqid = queue.get();
    // END TASK 1
    // 2. Attach: nothing; every call names the queue by its id.
    Ticker ticker(lab::stop_check_interval_ms);

    lab::print_ready(
        {{"path", key_file.path()}, {"key", lab::key_text(key)}, {"msqid", std::to_string(msqid)}});
    key_file.print_took_over();

    // 3. Exchange.
    Outbox outbox(msqid);
    lab::Deadline next_housekeeping(0);
    while (!stop.requested()) {
        if (next_housekeeping.expired()) {
            outbox.forget_vanished_clients();
            outbox.clear_if_clogged();
            next_housekeeping = lab::Deadline(lab::stop_check_interval_ms / 1000.0);
        }
        outbox.flush();

        Request request;
        std::memset(&request, 0, sizeof request);
        // TASK 2 (step 3): take the next request with msgrcv
        //   Wait for the next request, whoever sent it: `msgrcv(msqid,
        //   &request, request_max_body_bytes, request_type, MSG_NOERROR)`
        //   into `ssize_t got`, the bytes of the body (pid and message). The
        //   size counts what follows `mtype`, never `sizeof request`;
        //   msgtyp `request_type` (1) takes requests only, never the replies
        //   that wait in the same queue; MSG_NOERROR cuts a longer message
        //   instead of leaving it stuck at the head of the queue. On EINTR
        //   (the Ticker's SIGALRM, or a stop signal) `continue`, so the loop
        //   looks at the stop flag; on EIDRM or EINVAL the queue was removed
        //   under us: throw `lab::Failure("queue msqid N was removed under us
        //   (ipcrm?)")`; any other errno: throw `lab::sys_error("msgrcv")`.
        //   man 2 msgrcv
        //   check: `./server`, and `./client hi` elsewhere: it logs `received: hi`
        //   stub: ssize_t got =
        //   stub:     lab::not_written_yet<ssize_t>(3, 2, "take the next request with msgrcv");
        // MSG_NOERROR: a longer request is cut, not left stuck at the head of the queue.
        ssize_t got = ::msgrcv(msqid, &request, request_max_body_bytes, request_type, MSG_NOERROR);
        if (got < 0) {
            if (errno == EINTR) {
                continue; // a tick or a stop signal
            }
            if (errno == EIDRM || errno == EINVAL) {
                throw lab::Failure("queue msqid " + std::to_string(msqid) +
                                   " was removed under us (ipcrm?)");
            }
            throw lab::sys_error("msgrcv");
        }
        // END TASK 2
        // The body starts at client_pid: view the struct's bytes from there.
        const char* body = reinterpret_cast<const char*>(&request) + offsetof(Request, client_pid);
        auto parsed = parse_request({body, static_cast<std::size_t>(got)});
        if (!parsed) {
            continue;
        }
        if (parsed->client_pid == request_type) { // replies to pid 1 would look like requests
            lab::log_ignored("request with pid 1");
            continue;
        }
        lab::log_received(parsed->message);
        outbox.add(parsed->client_pid, lab::to_upper(parsed->message));
    }
    // 4. Detach: nothing. 5. Remove: ~OwnedSysvId (IPC_RMID), ~SysvKeyFile, ~InstanceLock.
    return lab::exit_ok;
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
