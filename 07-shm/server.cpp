// 07-shm/server.cpp - System V shared memory: the message lives in a
// segment, a semaphore set (mutex, request, reply) says when.
//
//   server [--name NAME]
//
// 1. Key: the instance lock first (one live server per NAME), then the key
//    file RUNTIME/shm/NAME.key (lab::SysvKeyFile, common/sysv_key.cpp): the
//    segment and set a killed server recorded there are removed first, if
//    they are provably its own. ftok() of it gives the key.
// 2. Create: shmget(IPC_CREAT|IPC_EXCL, 0600), then semget(IPC_CREAT|
//    IPC_EXCL, 0600), each id recorded in NAME.key at once. Another
//    program's object under our key (EEXIST: ftok is not unique) is left
//    alone: NAME.key is made again, for a new key, and both are tried anew.
// 3. Attach: shmat(). A new segment is zero-filled, and Linux makes a new
//    set's semaphores 0 (no SETALL needed).
// 4. Open for clients: semop() +1 on the mutex. A client's first wait is on
//    the mutex, so that wait is its wait for this step: nothing to poll.
// 5. Exchange: semtimedop() -1 on request; copy the request out of the
//    segment, log it, write the reply into it, semop() +1 on reply. A post
//    with no new request behind it is stale: take out any others at once
//    (one semop() of -N), log them once.
// 6. Detach and remove on SIGINT/SIGTERM: shmdt(), IPC_RMID the set (a
//    client still waiting on it wakes with EIDRM), IPC_RMID the segment,
//    unlink the key file - the owners' destructors (protocol.hpp,
//    common/sysv_key.hpp), in reverse order of creation, so every way out
//    of run() goes the same way.
#include "protocol.hpp"

#include <cerrno>
#include <csignal>
#include <memory>
#include <sys/sem.h>
#include <sys/shm.h>

namespace {

using namespace shm_lab;

int drain_stale_posts(int semid);
void answer(int semid, Exchange& exchange, const Request& incoming);

int run(int argc, char** argv) {
    std::string name =
        lab::parse_server_options(argc, argv,
                                  "Serves clients through a System V shared memory segment and a\n"
                                  "semaphore set (mutex, request, reply) until SIGINT or SIGTERM.");

    // 1. One live server per NAME; then the key.
    lab::InstanceLock instance(sysv_topic, name);
    lab::ignore_sigpipe(); // a log reader that goes away: EPIPE, exit 1, objects removed
    lab::StopSignals stop;
    lab::SysvKeyFile key_file(lab::object_path(sysv_topic, name, "key"), key_project_id,
                              {lab::SysvKind::shared_memory, lab::SysvKind::semaphore_set});
    key_t key = -1;

    // 2. Create. Each object goes to its owner the moment it exists, and
    // into NAME.key: a later failure must not leave it behind, and a killed
    // server's successor must find it. (Owners made after key_file: they
    // go first, before NAME.key.)
    lab::OwnedSysvId segment([](int shmid) { ::shmctl(shmid, IPC_RMID, nullptr); });
    lab::OwnedSysvId semaphores([](int semid) { ::semctl(semid, 0, IPC_RMID); });
    while (semaphores.get() < 0) {
        key = ::ftok(key_file.path().c_str(), key_project_id);
        if (key == -1) {
            throw lab::sys_error("ftok " + key_file.path());
        }
        // IPC_EXCL: never adopt an object that is already there under this key.
        int shmid = ::shmget(key, sizeof(SysvSegment), IPC_CREAT | IPC_EXCL | lab::owner_only);
        if (shmid < 0) {
            if (errno != EEXIST) {
                throw lab::sys_error("shmget " + lab::key_text(key));
            }
            key_file.renew(); // another program's segment has our key: a new key
            continue;
        }
        segment.own(shmid);
        key_file.record(lab::SysvKind::shared_memory, shmid);
        int semid = ::semget(key, semaphore_count, IPC_CREAT | IPC_EXCL | lab::owner_only);
        if (semid < 0) {
            if (errno != EEXIST) {
                throw lab::sys_error("semget " + lab::key_text(key));
            }
            // Another program's set has our key: our segment goes too (the
            // two share one key), and both are made again under a new key.
            segment.reset();
            key_file.renew();
            continue;
        }
        semaphores.own(semid);
        key_file.record(lab::SysvKind::semaphore_set, semid);
    }
    const int shmid = segment.get();
    const int semid = semaphores.get();

    // 3. Attach. Linux gives a new set's semaphores the value 0 (POSIX
    // leaves them undefined): no SETALL, which, run after a client's semop,
    // would also wipe that semop out.
    void* address = ::shmat(shmid, nullptr, 0);
    // shmat() reports failure as (void*)-1, not NULL.
    // NOLINTNEXTLINE(performance-no-int-to-ptr): that value is shmat(2)'s
    if (address == reinterpret_cast<void*>(-1)) {
        throw lab::sys_error("shmat " + std::to_string(shmid));
    }
    Attachment attachment(address);
    SysvSegment& shared = *std::construct_at(static_cast<SysvSegment*>(address));
    Exchange& exchange = shared.exchange;

    // 4. Open the mutex: from here on clients may come. A client that found
    // the set earlier is already waiting in its first semop() on the mutex.
    sembuf open_mutex{mutex, 1, 0};
    if (::semop(semid, &open_mutex, 1) < 0) {
        throw lab::sys_error("open the mutex (semop)");
    }
    lab::print_ready({{"key", lab::key_text(key)},
                      {"shmid", std::to_string(shmid)},
                      {"semid", std::to_string(semid)},
                      {"path", key_file.path()}});
    key_file.print_took_over();

    // 5. Serve. The wait wakes every tick to look at the stop flag: a signal
    // that lands just before semtimedop() would otherwise go unnoticed.
    const timespec tick{0, lab::stop_check_interval_ms * 1'000'000L};
    std::uint64_t last_answered = 0;
    while (!stop.requested()) {
        sembuf take_request{request, -1, 0};
        if (::semtimedop(semid, &take_request, 1, &tick) < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                continue; // a tick went by, or a signal came: look at the stop flag
            }
            // EIDRM/EINVAL: the set was removed under us (ipcrm).
            throw lab::sys_error("wait for request (semtimedop)");
        }
        Request incoming = read_request(exchange, last_answered);
        if (!incoming.ignored.empty()) {
            // No reply: nobody waits for one. Other posts counted now are
            // stale too: take them all out and log them in this one line.
            int more = drain_stale_posts(semid);
            lab::log_ignored(
                incoming.ignored +
                (more == 0 ? "" : "; " + std::to_string(more) + " more stale posts taken out"));
            // A client that wrote its request and posted during the drain
            // lost its post with the rest: look at the segment once more.
            incoming = read_request(exchange, last_answered);
            if (!incoming.ignored.empty()) {
                continue;
            }
        }
        answer(semid, exchange, incoming);
        last_answered = incoming.sequence;
    }
    // 6. Detach and remove: ~Attachment (shmdt), ~OwnedSysvId of the set
    // and of the segment (IPC_RMID), ~SysvKeyFile, ~InstanceLock.
    return lab::exit_ok;
}

// Takes out every post counted on `request` now and returns how many: one
// semop() of -N with IPC_NOWAIT, as System V can take N at once. Nobody
// but the server takes from `request`, so the N counted are still there.
// Anyone of our uid can set the count (semctl SETVAL, up to SEMVMX):
// without this, the server would turn and log once per post.
int drain_stale_posts(int semid) {
    int counted = ::semctl(semid, request, GETVAL);
    if (counted < 0) {
        throw lab::sys_error("semctl GETVAL " + std::to_string(semid));
    }
    if (counted > 0) {
        sembuf take{request, static_cast<short>(-counted), IPC_NOWAIT};
        if (::semop(semid, &take, 1) < 0) {
            throw lab::sys_error("drain stale posts (semop)");
        }
    }
    return counted;
}

void answer(int semid, Exchange& exchange, const Request& incoming) {
    lab::log_received(incoming.message);
    write_reply(exchange, incoming);
    sembuf post_reply{reply, 1, 0}; // a post never blocks: no bound needed
    if (::semop(semid, &post_reply, 1) < 0) {
        throw lab::sys_error("post reply (semop)");
    }
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
