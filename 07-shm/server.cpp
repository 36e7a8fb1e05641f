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
    // TASK 1 (step 2): create the segment and the set with ftok, shmget and semget
    //   Make both objects under one key, each owned the moment it exists,
    //   and set `shmid` and `semid` to their ids. First their owners, which
    //   remove them when they go: `lab::OwnedSysvId segment(REMOVE)` with a
    //   lambda `[](int shmid) { ... }` that calls `shmctl(shmid, IPC_RMID,
    //   nullptr)`, then `lab::OwnedSysvId semaphores(...)` whose lambda calls
    //   `semctl(semid, 0, IPC_RMID)`. Then loop while `semaphores.get() < 0`:
    //   `key = ftok(key_file.path().c_str(), key_project_id)` (-1: throw
    //   `lab::sys_error("ftok " + key_file.path())`); `shmget(key, sizeof(SysvSegment),
    //   IPC_CREAT | IPC_EXCL | lab::owner_only)`; `semget(key,
    //   semaphore_count, IPC_CREAT | IPC_EXCL | lab::owner_only)`. IPC_EXCL:
    //   never adopt an object already there. EEXIST from either call is
    //   another program's object under our key (ftok is not unique): leave
    //   it alone, drop our segment if we made it (`segment.reset()`), call
    //   `key_file.renew()` (a new key) and try again. Other errno: throw
    //   `lab::sys_error("shmget " + lab::key_text(key))` (or semget). After
    //   each success: `segment.own(shmid)` and `key_file.record(
    //   lab::SysvKind::shared_memory, shmid)` at once (for the set:
    //   `semaphore_set`), so that nothing leaves it behind and a server
    //   started after a kill -9 of this one removes it.
    //   man 3 ftok, man 2 shmget, man 2 semget, man 2 shmctl, man 2 semctl
    //   check: `./server`, then `ipcs -m -s` lists the segment and the set (perms 600)
    //   stub: const int shmid = lab::not_written_yet<int>(
    //   stub:     2, 1, "create the segment and the set with ftok, shmget and semget");
    //   stub: const int semid = -1;
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
    // END TASK 1

    // 3. Attach. Linux gives a new set's semaphores the value 0 (POSIX
    // leaves them undefined): no SETALL, which, run after a client's semop,
    // would also wipe that semop out.
    // TASK 2 (step 3): attach the segment with shmat
    //   Map the segment into our memory: `shmat(shmid, nullptr, 0)` (the
    //   kernel picks the address). It reports failure as `(void*)-1`, not
    //   NULL: throw `lab::sys_error("shmat " + std::to_string(shmid))`. Hand the address to
    //   an `Attachment` at once (protocol.hpp: it calls shmdt when it
    //   goes). The segment is new and zero-filled: start the lifetime of
    //   its `SysvSegment` with `std::construct_at(static_cast<SysvSegment*>(
    //   address))`, and set `exchange` to that segment's `exchange`.
    //   man 2 shmat, man 2 shmdt
    //   check: `./server`, then `ipcs -m` shows nattch 1
    //   stub: Exchange& exchange =
    //   stub:     lab::not_written_yet<Exchange&>(3, 2, "attach the segment with shmat");
    void* address = ::shmat(shmid, nullptr, 0);
    // shmat() reports failure as (void*)-1, not NULL.
    // NOLINTNEXTLINE(performance-no-int-to-ptr): that value is shmat(2)'s
    if (address == reinterpret_cast<void*>(-1)) {
        throw lab::sys_error("shmat " + std::to_string(shmid));
    }
    Attachment attachment(address);
    SysvSegment& shared = *std::construct_at(static_cast<SysvSegment*>(address));
    Exchange& exchange = shared.exchange;
    // END TASK 2

    // 4. Open the mutex: from here on clients may come. A client that found
    // the set earlier is already waiting in its first semop() on the mutex.
    // TASK 3 (step 4): open the mutex with semop
    //   A new set's semaphores are 0 on Linux: the mutex is closed, and a
    //   client that found the set already waits on it. Open it now that the
    //   segment is ready: one `sembuf{mutex, 1, 0}` (+1 on semaphore
    //   `mutex`) given to `semop(semid, &op, 1)`; failure: throw
    //   `lab::sys_error("open the mutex (semop)")`.
    //   man 2 semop
    //   check: `./server`, then `ipcs -s -i SEMID` shows the mutex at 1
    sembuf open_mutex{mutex, 1, 0};
    if (::semop(semid, &open_mutex, 1) < 0) {
        throw lab::sys_error("open the mutex (semop)");
    }
    // END TASK 3
    lab::print_ready({{"key", lab::key_text(key)},
                      {"shmid", std::to_string(shmid)},
                      {"semid", std::to_string(semid)},
                      {"path", key_file.path()}});
    key_file.print_took_over();

    // 5. Serve. The wait wakes every tick to look at the stop flag: a signal
    // that lands just before semtimedop() would otherwise go unnoticed.
    std::uint64_t last_answered = 0;
    while (!stop.requested()) {
        // TASK 4 (step 5): wait for a request with semtimedop
        //   Take one post of `request` (-1): `semtimedop(semid, &op, 1,
        //   &tick)` with `sembuf{request, -1, 0}` and a relative `timespec
        //   tick{0, lab::stop_check_interval_ms * 1'000'000L}`: the wait
        //   wakes every tick, since a stop signal that lands just before
        //   the call would otherwise go unnoticed. EAGAIN (the tick) or EINTR
        //   (a signal): `continue`, the loop looks at the stop flag. Any
        //   other errno (EIDRM, EINVAL: the set was removed under us): throw
        //   `lab::sys_error("wait for request (semtimedop)")`.
        //   man 2 semop
        //   check: `./server`, and `./client hi` elsewhere: it logs `received: hi`
        const timespec tick{0, lab::stop_check_interval_ms * 1'000'000L};
        sembuf take_request{request, -1, 0};
        if (::semtimedop(semid, &take_request, 1, &tick) < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                continue; // a tick went by, or a signal came: look at the stop flag
            }
            // EIDRM/EINVAL: the set was removed under us (ipcrm).
            throw lab::sys_error("wait for request (semtimedop)");
        }
        // END TASK 4
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
// TASK 5 (step 5): take out stale request posts with semctl and semop
//   Write `drain_stale_posts(semid)`: read how many posts `request` counts
//   now, `semctl(semid, request, GETVAL)` (-1: throw `lab::sys_error(
//   "semctl GETVAL " + std::to_string(semid))`), and when there are any take them all in
//   one `semop(semid, &op, 1)` with `sembuf{request,
//   static_cast<short>(-counted), IPC_NOWAIT}` (failure: throw
//   `lab::sys_error("drain stale posts (semop)")`); return the count.
//   man 2 semctl, man 2 semop
//   check: `make test`: "a request count set with semctl SETVAL is drained"
//   stub: int drain_stale_posts(int) {
//   stub:     return lab::not_written_yet<int>(
//   stub:         5, 5, "take out stale request posts with semctl and semop");
//   stub: }
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
// END TASK 5

// TASK 6 (step 5): post the reply with semop
//   In `answer()`, once the reply is in the segment (`write_reply`), tell
//   the client: +1 on `reply`, `semop(semid, &op, 1)` with
//   `sembuf{reply, 1, 0}` (a post never blocks: no bound needed);
//   failure: throw `lab::sys_error("post reply (semop)")`.
//   man 2 semop
//   check: `./server`, and `./client hi` elsewhere prints `HI`
//   stub: void answer(int, Exchange& exchange, const Request& incoming) {
//   stub:     lab::log_received(incoming.message);
//   stub:     write_reply(exchange, incoming);
//   stub:     lab::not_written_yet(5, 6, "post the reply with semop");
//   stub: }
void answer(int semid, Exchange& exchange, const Request& incoming) {
    lab::log_received(incoming.message);
    write_reply(exchange, incoming);
    sembuf post_reply{reply, 1, 0}; // a post never blocks: no bound needed
    if (::semop(semid, &post_reply, 1) < 0) {
        throw lab::sys_error("post reply (semop)");
    }
}
// END TASK 6

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
