// 07-shm/server.cpp - System V shared memory: the message lives in a
// segment, a semaphore set (mutex, request, reply) says when.
//
//   server [--name NAME]
//
// 1. Key: the instance lock first (one live server per NAME), then the key
//    file RUNTIME/shm/NAME.key (KeyFile, server-takeover.cpp) and ftok() of
//    it.
// 2. Take over (server-takeover.cpp): a segment or semaphore set that a killed
//    server left under the key is removed (IPC_RMID) - unless a live process
//    owns it, which means another program's key collided with ours (ftok is
//    not unique).
// 3. Create and attach: shmget(IPC_CREAT|IPC_EXCL, 0600), shmat(); then
//    semget(IPC_CREAT|IPC_EXCL, 0600) and SETALL to 0.
// 4. Open for clients: semop() +1 on the mutex. That first semop() also sets
//    sem_otime, the mark a client waits for before trusting the values
//    (a new set's values are not defined until SETALL).
// 5. Exchange: semtimedop() -1 on request; copy the request out of the
//    segment, log it, write the reply into it, semop() +1 on reply. A post
//    with no new request behind it is stale: take out any others at once
//    (one semop() of -N), log them once.
// 6. Detach and remove on SIGINT/SIGTERM: IPC_RMID the set (a client still
//    waiting on it wakes with EIDRM), shmdt(), IPC_RMID the segment, unlink
//    the key file - the owners' destructors (protocol.hpp), in reverse order
//    of creation, so every way out of run() goes the same way.
#include "protocol.hpp"
#include "server-takeover.hpp"

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
    KeyFile key_file(lab::object_path(sysv_topic, name, "key"));
    const key_t key = ::ftok(key_file.path().c_str(), key_project_id);
    if (key == -1) {
        throw lab::sys_error("ftok " + key_file.path());
    }

    // 2. Take over what a killed server left.
    remove_leftovers(key);

    // 3. Create and attach. A new segment is zero-filled by the kernel.
    // Each object goes to its owner the moment it exists: a later failure
    // must not leave it behind.
    int shmid = ::shmget(key, sizeof(SysvSegment), IPC_CREAT | IPC_EXCL | lab::owner_only);
    if (shmid < 0) {
        throw lab::sys_error("shmget " + lab::key_text(key));
    }
    OwnedSegment segment(shmid);
    void* address = ::shmat(shmid, nullptr, 0);
    // shmat() reports failure as (void*)-1, not NULL.
    // NOLINTNEXTLINE(performance-no-int-to-ptr): that value is shmat(2)'s
    if (address == reinterpret_cast<void*>(-1)) {
        throw lab::sys_error("shmat " + std::to_string(shmid));
    }
    Attachment attachment(address);
    SysvSegment& shared = *std::construct_at(static_cast<SysvSegment*>(address));
    Exchange& exchange = shared.exchange;

    int semid = ::semget(key, semaphore_count, IPC_CREAT | IPC_EXCL | lab::owner_only);
    if (semid < 0) {
        throw lab::sys_error("semget " + lab::key_text(key));
    }
    OwnedSemaphoreSet semaphores(semid);
    shared.semid.store(semid); // for a successor's takeover (server-takeover.cpp)
    unsigned short initial[semaphore_count] = {0, 0, 0};
    semun values{};
    values.array = initial;
    if (::semctl(semid, 0, SETALL, values) < 0) {
        throw lab::sys_error("semctl SETALL " + std::to_string(semid));
    }

    // 4. Open the mutex: from here on clients may come. This first semop()
    // also sets sem_otime, which clients wait for.
    sembuf open_mutex{mutex, 1, 0};
    if (::semop(semid, &open_mutex, 1) < 0) {
        throw lab::sys_error("open the mutex (semop)");
    }
    lab::print_ready({{"key", lab::key_text(key)},
                      {"shmid", std::to_string(shmid)},
                      {"semid", std::to_string(semid)},
                      {"path", key_file.path()}});

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
    // 6. Detach and remove: ~OwnedSemaphoreSet (IPC_RMID), ~Attachment
    // (shmdt), ~OwnedSegment (IPC_RMID), ~KeyFile, ~InstanceLock.
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
