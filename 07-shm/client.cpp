// 07-shm/client.cpp - sends each message through the System V segment.
//
//   client [--name NAME] [--timeout SECONDS] [MESSAGE...]
//
// 1. Find: server_running() answers "not running" at once; then ftok() of
//    the key file, shmget() and semget() without IPC_CREAT (the server makes
//    them; we only look them up).
// 2. Attach: shmat() (the Attachment owns the detach).
// 3. Per message, every wait bounded by --timeout: semtimedop() -1 on the
//    mutex with SEM_UNDO; write the request; +1 on request; semtimedop() -1
//    on reply until the reply carries our sequence number; copy it out; +1 on
//    the mutex; print it. The first wait on the mutex is also the wait for
//    the server to be ready: it opens the mutex last (server.cpp, step 4),
//    so there is no "initialised" mark to poll.
// 4. Detach: shmdt() (the Attachment's destructor, protocol.hpp).
#include "protocol.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <sys/shm.h>

namespace {

using namespace shm_lab;

std::string exchange_one(int semid, Exchange& exchange, const std::string& message,
                         const lab::ClientCommand& command);

int run(int argc, char** argv) {
    lab::ClientCommand command = lab::parse_client_options(
        argc, argv,
        "Sends each MESSAGE (or each line of stdin) to the server through System V\n"
        "shared memory and prints each reply.");

    // 1. Find the server's objects.
    if (!lab::server_running(sysv_topic, command.name)) {
        throw lab::not_running(command.name, "no server holds its instance lock");
    }
    // TASK 7 (step 1): find the segment and the set with ftok, shmget and semget
    //   Look up the server's objects; set `shmid` and `semid`. The key:
    //   `ftok()` of the server's key file `lab::object_path(sysv_topic,
    //   command.name, "key")` with `key_project_id`; -1 (no key file):
    //   throw `lab::not_running(command.name, "ftok " + path + ": " +
    //   strerror(errno))`. Then `shmget(key, sizeof(SysvSegment), 0)` and
    //   `semget(key, semaphore_count, 0)`: no IPC_CREAT, the server makes
    //   them, we only look them up (EINVAL: an object smaller than ours).
    //   ENOENT from either: throw `lab::not_running(command.name, "no
    //   segment under key " + lab::key_text(key))` (or "no semaphore set");
    //   EINVAL from semget: `lab::Failure("semaphore set under key KEY has
    //   fewer than 3 semaphores: not this chapter's")`; any other errno:
    //   `lab::sys_error("shmget " + lab::key_text(key))` (or semget).
    //   man 3 ftok, man 2 shmget, man 2 semget
    //   check: `./client hi` with no server says `not running`, at once
    //   stub: int shmid = lab::not_written_yet<int>(
    //   stub:     1, 7, "find the segment and the set with ftok, shmget and semget");
    //   stub: int semid = -1;
    std::string key_path = lab::object_path(sysv_topic, command.name, "key");
    key_t key = ::ftok(key_path.c_str(), key_project_id);
    if (key == -1) {
        throw lab::not_running(command.name, "ftok " + key_path + ": " + std::strerror(errno));
    }
    int shmid = ::shmget(key, sizeof(SysvSegment), 0); // EINVAL: smaller than ours
    if (shmid < 0) {
        if (errno == ENOENT) {
            throw lab::not_running(command.name, "no segment under key " + lab::key_text(key));
        }
        throw lab::sys_error("shmget " + lab::key_text(key));
    }
    int semid = ::semget(key, semaphore_count, 0);
    if (semid < 0) {
        if (errno == ENOENT) {
            throw lab::not_running(command.name,
                                   "no semaphore set under key " + lab::key_text(key));
        }
        if (errno == EINVAL) { // a set with fewer semaphores than ours
            throw lab::Failure("semaphore set under key " + lab::key_text(key) +
                               " has fewer than " + std::to_string(semaphore_count) +
                               " semaphores: not this chapter's");
        }
        throw lab::sys_error("semget " + lab::key_text(key));
    }
    // END TASK 7

    // 2. Attach.
    // TASK 8 (step 2): attach the segment with shmat
    //   Map the server's segment: `shmat(shmid, nullptr, 0)`, which reports
    //   failure as `(void*)-1`, not NULL (throw `lab::sys_error("shmat " +
    //   shmid)`). Hand the address to an `Attachment` at once (protocol.hpp:
    //   it calls shmdt when it goes), and set `exchange` to the `exchange`
    //   of the `SysvSegment` at that address.
    //   man 2 shmat, man 2 shmdt
    //   check: `./client` (stdin) while a server runs: `ipcs -m` shows nattch 2
    //   stub: static_cast<void>(shmid); // yours to attach (an unused variable fails the build)
    //   stub: auto& exchange =
    //   stub:     lab::not_written_yet<Exchange&>(2, 8, "attach the segment with shmat");
    void* address = ::shmat(shmid, nullptr, 0);
    // shmat() reports failure as (void*)-1, not NULL.
    // NOLINTNEXTLINE(performance-no-int-to-ptr): that value is shmat(2)'s
    if (address == reinterpret_cast<void*>(-1)) {
        throw lab::sys_error("shmat " + std::to_string(shmid));
    }
    Attachment attachment(address);
    auto& exchange = static_cast<SysvSegment*>(address)->exchange;
    // END TASK 8

    // 3. One exchange per message.
    lab::for_each_message(command.messages, [&](const std::string& message) {
        std::string reply_text = exchange_one(semid, exchange, message, command);
        // Printed after the mutex is given back: a slow stdout (a full pipe)
        // must not hold up the other clients.
        lab::print_line(reply_text);
    });
    // 4. Detach: ~Attachment (shmdt).
    return lab::exit_ok;
}

// TASK 9 (step 3): take the mutex, post the request, wait for the reply
//   Write `exchange_one()`: one message there and back within one
//   `lab::Deadline deadline(command.timeout_seconds)`; the reply returned.
//   In turn: take the mutex, -1 on `mutex` with SEM_UNDO (if we are killed
//   holding it, the kernel gives it back), with `semtimedop(semid, &op, 1,
//   &left)` where `left = deadline.relative()` (a relative time); EAGAIN:
//   throw `lab::timed_out(command.timeout_seconds, "the mutex (held by
//   another client?)")`; EINTR (stopped and continued): wait on. Hold it
//   for the whole exchange and give it back (+1, SEM_UNDO, plain `semop`)
//   on every way out: an RAII class whose destructor does it. Write the
//   request with `write_request(exchange, message)` (protocol.hpp: it
//   returns the request's sequence number), post it (+1 on `request`,
//   `semop`), then wait (-1 on `reply`, `semtimedop` with
//   `deadline.relative()`) until `take_reply(exchange, sequence)` gives a
//   reply: another one is a stale post for a killed client, drop it and
//   wait again. EAGAIN: `lab::timed_out(command.timeout_seconds, "the
//   reply (server stopped or stuck?)")`. Any semop/semtimedop failing with
//   EIDRM or EINVAL means the server removed its set: throw
//   `lab::not_running(command.name, "its semaphore set N was removed")`;
//   other errno: `lab::sys_error("take the mutex (semtimedop)")` (or
//   "post request (semop)", "wait for reply (semtimedop)").
//   man 2 semop
//   check: `./server`, and `./client hello world` elsewhere prints `HELLO WORLD`
//   stub: std::string exchange_one(int, Exchange&, const std::string&,
//   stub:                          const lab::ClientCommand&) {
//   stub:     lab::not_written_yet(3, 9, "take the mutex, post the request, wait for the reply");
//   stub: }
// A semop()/semtimedop() on the set failed: EIDRM (removed while we waited)
// or EINVAL (already gone) is the server stopping and removing its set, or
// a new server taking over; anything else is an error.
[[noreturn]] void throw_semop_error(const lab::ClientCommand& command, int semid,
                                    const std::string& what) {
    if (errno == EIDRM || errno == EINVAL) {
        throw lab::not_running(command.name,
                               "its semaphore set " + std::to_string(semid) + " was removed");
    }
    throw lab::sys_error(what);
}

// The mutex, held for one whole exchange. SEM_UNDO: if we are killed while
// holding it, the kernel adds the 1 back, so the next client is not stuck.
class MutexHold {
  public:
    MutexHold(int semid, const lab::Deadline& deadline, const lab::ClientCommand& command)
        : semid_(semid) {
        sembuf take{mutex, -1, SEM_UNDO};
        for (;;) {
            timespec left = deadline.relative(); // semtimedop() takes a relative time
            if (::semtimedop(semid, &take, 1, &left) == 0) {
                return;
            }
            if (errno == EAGAIN) {
                throw lab::timed_out(command.timeout_seconds,
                                     "the mutex (held by another client?)");
            }
            if (errno != EINTR) {
                throw_semop_error(command, semid, "take the mutex (semtimedop)");
            }
            // EINTR: stopped and continued (SIGSTOP/SIGCONT): wait on.
        }
    }
    ~MutexHold() {
        sembuf release{mutex, 1, SEM_UNDO}; // cancels the -1's undo entry too
        ::semop(semid_, &release, 1);       // fails only if the set is gone: nothing to give back
    }
    MutexHold(const MutexHold&) = delete;
    MutexHold& operator=(const MutexHold&) = delete;

  private:
    int semid_;
};

std::string wait_for_reply(int semid, const Exchange& exchange, std::uint64_t sequence,
                           const lab::Deadline& deadline, const lab::ClientCommand& command) {
    sembuf take{reply, -1, 0};
    for (;;) {
        timespec left = deadline.relative();
        if (::semtimedop(semid, &take, 1, &left) < 0) {
            if (errno == EINTR) {
                continue; // stopped and continued (SIGSTOP/SIGCONT): wait on
            }
            if (errno == EAGAIN) {
                throw lab::timed_out(command.timeout_seconds,
                                     "the reply (server stopped or stuck?)");
            }
            throw_semop_error(command, semid, "wait for reply (semtimedop)");
        }
        if (auto text = take_reply(exchange, sequence)) {
            return *text;
        }
        // A post for a client that was killed or gave up: not ours, drop it.
    }
}

// Step 3 for one message, within one --timeout: in turn (the mutex), the
// request in, the reply out.
std::string exchange_one(int semid, Exchange& exchange, const std::string& message,
                         const lab::ClientCommand& command) {
    lab::Deadline deadline(command.timeout_seconds);
    MutexHold hold(semid, deadline, command);
    std::uint64_t sequence = write_request(exchange, message);
    sembuf post_request{request, 1, 0};
    if (::semop(semid, &post_request, 1) < 0) {
        throw_semop_error(command, semid, "post request (semop)");
    }
    return wait_for_reply(semid, exchange, sequence, deadline, command);
}
// END TASK 9

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
