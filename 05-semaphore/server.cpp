// 05-semaphore/server.cpp - a System V semaphore set guarding a shared file.
//
//   server [--name NAME]
//
// 1. Create: the files NAME.txt (the message) and NAME.count (the counter),
//    then the key file NAME.key (lab::SysvKeyFile, common/sysv_key.cpp: a
//    set a killed server recorded there is removed first, if it is provably
//    its own); ftok() turns its inode into a key, and
//    semget(key, 3, IPC_CREAT | IPC_EXCL | 0600) makes a new set of three
//    semaphores (mutex, request, reply), all 0. Its semid is recorded in
//    NAME.key, for a later server's takeover.
// 2. Initialise: semop(mutex +1). Until then the mutex is 0, so a client
//    that finds the set early simply waits in its first semop.
// 3. Exchange, until SIGINT/SIGTERM: wait until request > 0 (without taking
//    it, so the file stays busy for the next client), read the request, log
//    it, write the reply, then in one semop: request -1, reply +1.
// 4. Remove: semctl(IPC_RMID) and the files, by the destructors.
#include "protocol.hpp"

#include <array>
#include <cerrno>
#include <span>
#include <sys/sem.h>

namespace {

using namespace semaphore_lab;

void semop_now(int semid, std::span<sembuf> operations, const char* what);
void reset_stale_request_count(int semid, const ServerFile& exchange);

int run(int argc, char** argv) {
    std::string name = lab::parse_server_options(
        argc, argv,
        "Serves clients through the shared file NAME.txt, guarded by a System V\n"
        "set of three semaphores (mutex, request, reply), until SIGINT/SIGTERM.");
    lab::InstanceLock instance(sysv_topic, name); // first: "already running", takeover
    lab::ignore_sigpipe(); // a log reader that goes away: EPIPE, exit 1, objects removed
    lab::StopSignals stop;

    // 1. Create.
    ServerFile exchange(lab::object_path(sysv_topic, name, exchange_extension), "");
    ServerFile counter(lab::object_path(sysv_topic, name, counter_extension), "0\n");
    lab::SysvKeyFile key_file(lab::object_path(sysv_topic, name, key_extension), key_project_id,
                              {lab::SysvKind::semaphore_set});
    // TASK 1 (step 1): create the set with ftok and semget
    //   Declare `lab::OwnedSysvId set(REMOVE)` after `key_file` (so the set is
    //   removed before NAME.key), REMOVE a lambda `[](int semid) {...}` that
    //   removes a set with `semctl(semid, 0, IPC_RMID)`. Declare `key_t key`
    //   too (the ready line prints it). Then loop while `set.get() < 0`:
    //   `key = ftok(key_file.path().c_str(), key_project_id)`
    //   (-1: throw `lab::sys_error("ftok " + key_file.path())`), then
    //   `semget(key, semaphore_count, IPC_CREAT | IPC_EXCL | lab::owner_only)`
    //   makes a new set of three semaphores, all 0. EEXIST: another program's
    //   set has our key (ftok keeps only 16 bits of the inode): never adopt
    //   it; call `key_file.renew()` (a new NAME.key, a new key) and loop.
    //   Other errors: throw `lab::sys_error("semget " + lab::key_text(key))`.
    //   Once you have the semid: `set.own(semid)` at once, then
    //   `key_file.record(lab::SysvKind::semaphore_set, semid)`.
    //   man 3 ftok, man 2 semget, man 2 semctl
    //   check: `./server &`, then `ipcs -s` lists a set of 3 semaphores, mode 600
    //   stub: key_t key = lab::not_written_yet<key_t>(
    //   stub:     1, 1, "create the set with ftok and semget");
    //   stub: lab::OwnedSysvId set([](int) {});
    // After key_file: the set is removed before NAME.key.
    lab::OwnedSysvId set([](int semid) { ::semctl(semid, 0, IPC_RMID); });
    key_t key = -1;
    while (set.get() < 0) {
        key = ::ftok(key_file.path().c_str(), key_project_id);
        if (key == -1) {
            throw lab::sys_error("ftok " + key_file.path());
        }
        // IPC_EXCL: never adopt a set that is already there under this key.
        int semid = ::semget(key, semaphore_count, IPC_CREAT | IPC_EXCL | lab::owner_only);
        if (semid < 0) {
            if (errno != EEXIST) {
                throw lab::sys_error("semget " + lab::key_text(key));
            }
            // Another program's set has our key (ftok keeps only 16 bits of
            // the inode): leave it alone, and make NAME.key again (a new
            // inode, a new key; bounded: it gives up after a few).
            key_file.renew();
            continue;
        }
        set.own(semid); // owned at once: nothing after this may leave it behind
        key_file.record(lab::SysvKind::semaphore_set, semid);
    }
    // END TASK 1

    // 2. Initialise: values start at 0 and sem_otime at 0; this first semop
    // opens the mutex and sets sem_otime. (SETALL would not set sem_otime,
    // and run after a client's semop it would wipe that semop out.)
    // TASK 2 (step 2): open the mutex with semop
    //   One operation on the set: semaphore `mutex`, +1, no flags. Write it
    //   as `std::array<sembuf, 1> open_mutex{{{mutex, +1, 0}}}` (sem_num,
    //   sem_op, sem_flg) and perform it with `semop_now(set.get(), open_mutex,
    //   "semop initialise mutex")` (task 3). Until then the mutex is 0, so a
    //   client that found the set early waits in its first semop.
    //   man 2 semop
    //   check: `ipcs -s -i SEMID` (SEMID: the ready line's) shows semnum 0 with value 1
    std::array<sembuf, 1> open_mutex{{{mutex, +1, 0}}};
    semop_now(set.get(), open_mutex, "semop initialise mutex");
    // END TASK 2
    lab::print_ready({{"path", exchange.path()},
                      {"key", lab::key_text(key)},
                      {"semid", std::to_string(set.get())}});
    key_file.print_took_over();

    // 3. Exchange. Wait until request > 0 without taking it: -1 then +1 in
    // one atomic semop. request stays 1 while we work, and a client only
    // comes in when it is 0 again, so nobody writes NAME.txt under our feet
    // - even when the client that posted it was killed and SEM_UNDO freed
    // the mutex.
    // TASK 4 (step 3): wait for requests with semtimedop and post the replies
    //   Three operation arrays on the set (`std::array<sembuf, N>`):
    //   wait_for_request = {request -1, request +1}: in one atomic semop it
    //   waits until request > 0 without taking it (request stays 1 while we
    //   work, so no client writes NAME.txt under our feet);
    //   finish_with_reply = {request -1, reply +1}; finish_without_reply =
    //   {request -1}. Then, while `!stop.requested()`: `semtimedop(set.get(),
    //   wait_for_request.data(), wait_for_request.size(), &tick)`, tick a
    //   `timespec` of `lab::stop_check_interval_ms` (so a stop is seen within a
    //   tick); on EAGAIN (timed out) or EINTR go round again, any other error
    //   throws `lab::sys_error("semtimedop wait for request")`. Then
    //   `answer_request(exchange)` (given, protocol.cpp): true: `semop_now()`
    //   finish_with_reply; false (no request in the file): finish_without_reply,
    //   then `reset_stale_request_count(set.get(), exchange)` (task 5).
    //   man 2 semtimedop
    //   check: with tasks 6-9 written too, `./client hello` prints `HELLO`
    std::array<sembuf, 2> wait_for_request{{{request, -1, 0}, {request, +1, 0}}};
    std::array<sembuf, 2> finish_with_reply{{{request, -1, 0}, {reply, +1, 0}}};
    std::array<sembuf, 1> finish_without_reply{{{request, -1, 0}}};
    const timespec tick{0, lab::stop_check_interval_ms * 1'000'000L};
    while (!stop.requested()) {
        // Timed, so a stop request is seen within a tick even if the signal
        // came just before we went to sleep.
        if (::semtimedop(set.get(), wait_for_request.data(), wait_for_request.size(), &tick) < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                continue;
            }
            throw lab::sys_error("semtimedop wait for request");
        }
        if (answer_request(exchange)) {
            semop_now(set.get(), finish_with_reply, "semop post reply");
        } else {
            semop_now(set.get(), finish_without_reply, "semop drop request");
            reset_stale_request_count(set.get(), exchange);
        }
    }
    // END TASK 4
    // 4. Remove: ~OwnedSysvId (IPC_RMID), ~SysvKeyFile, ~ServerFile, ~InstanceLock.
    return lab::exit_ok;
}

// semop() that cannot block here: the server only lowers `request` after
// seeing it above 0, and nobody else lowers it.
// TASK 3 (step 2): perform operations with semop
//   `semop_now()` performs all of `operations` at once: `semop(semid,
//   operations.data(), operations.size())`. It returns 0, or -1 with errno;
//   on EINTR (a signal came in) call it again, on any other error throw
//   `lab::sys_error(what)`.
//   man 2 semop
//   stub: [[maybe_unused]] void semop_now(int, std::span<sembuf>, const char*) {
//   stub:     lab::not_written_yet(2, 3, "perform operations with semop");
//   stub: }
void semop_now(int semid, std::span<sembuf> operations, const char* what) {
    while (::semop(semid, operations.data(), operations.size()) < 0) {
        if (errno != EINTR) {
            throw lab::sys_error(what);
        }
    }
}
// END TASK 3

// After a request that was none: a client enters only when request is 0 and
// posts it once, so a count still above 0 was set by a same-user program
// (semctl SETVAL, up to SEMVMX 32767) with no requests behind it. Set it
// back to 0 and say so in one line, instead of one "ignored" line per count.
// TASK 5 (step 3): take out stale request posts with semctl
//   `reset_stale_request_count()` runs after a request that was none. Read
//   request's value: `semctl(semid, request, GETVAL)` (-1: throw
//   `lab::sys_error("semctl GETVAL request")`). 0: return. Else set it back
//   to 0 with `semctl(semid, request, SETVAL, 0)` (error: "semctl SETVAL
//   request"), log `lab::log_ignored("N more stale posts taken out")`, and,
//   if NAME.txt now holds a request (`parse_request(read_file(...), why)`)
//   that `answer_request(exchange)` answers, post reply alone: an array
//   `{reply, +1, 0}` through `semop_now()` (error text "semop post reply").
//   man 2 semctl
//   stub: [[maybe_unused]] void reset_stale_request_count(int, const ServerFile&) {
//   stub:     lab::not_written_yet(3, 5, "take out stale request posts with semctl");
//   stub: }
void reset_stale_request_count(int semid, const ServerFile& exchange) {
    int more = ::semctl(semid, request, GETVAL);
    if (more < 0) {
        throw lab::sys_error("semctl GETVAL request");
    }
    if (more == 0) {
        return;
    }
    if (::semctl(semid, request, SETVAL, 0) < 0) {
        throw lab::sys_error("semctl SETVAL request");
    }
    lab::log_ignored(std::to_string(more) + " more stale posts taken out");
    // A client that entered before the count was set, and posted since,
    // lost its post with the rest: answer what the file holds now. Its
    // request is then not counted, so only reply goes up.
    std::string why;
    if (parse_request(read_file(exchange.fd(), exchange.path()), why) && answer_request(exchange)) {
        std::array<sembuf, 1> post_reply{{{reply, +1, 0}}};
        semop_now(semid, post_reply, "semop post reply");
    }
}
// END TASK 5

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
