// 05-semaphore/posix-server.cpp - POSIX named semaphores guarding a shared file.
//
//   posix-server [--name NAME]
//
// 1. Create: the files NAME.txt, NAME.count and NAME.owner; then the three
//    semaphores /ipc-lab-UID-semaphore-posix-NAME-mutex|-request|-reply with
//    sem_open(O_CREAT | O_EXCL, 0600, value): mutex 1, request 0, reply 0.
//    sem_open sets the value as it creates, so there is no window in which
//    a client finds one uninitialised. What a killed server left under
//    those names is sem_unlink()ed first.
// 2. Exchange, until SIGINT/SIGTERM: sem_timedwait(request), read the
//    request, log it, write the reply, sem_post(reply).
// 3. Repair, between requests: POSIX semaphores have no SEM_UNDO. If
//    NAME.owner names a client that is dead (its pid gone, or now another
//    process's: the start time differs), it was killed holding the mutex:
//    answer a request it posted (the reply goes to nobody), take out its
//    reply, clear NAME.owner, sem_post(mutex).
// 4. Remove: sem_close() and sem_unlink() each, and the files, by the
//    destructors.
#include "protocol.hpp"

#include <cerrno>
#include <cstdint>
#include <fcntl.h>
#include <semaphore.h>

namespace {

using namespace semaphore_lab;

NamedSemaphore create_semaphore(const std::string& name, Semaphore which, unsigned value);
void take_out_stale_posts(const PosixSemaphores& sems, const ServerFile& exchange);
void repair_abandoned_mutex(const PosixSemaphores& sems, const ServerFile& exchange,
                            const ServerFile& owner);
void post(sem_t* sem, const char* what);

int run(int argc, char** argv) {
    std::string name = lab::parse_server_options(
        argc, argv,
        "Serves clients through the shared file NAME.txt, guarded by three POSIX\n"
        "named semaphores (mutex, request, reply), until SIGINT/SIGTERM.");
    lab::InstanceLock instance(posix_topic, name); // first: "already running", takeover
    lab::ignore_sigpipe(); // a log reader that goes away: EPIPE, exit 1, objects removed
    lab::StopSignals stop;

    // 1. Create.
    ServerFile exchange(lab::object_path(posix_topic, name, exchange_extension), "");
    ServerFile counter(lab::object_path(posix_topic, name, counter_extension), "0\n");
    ServerFile owner(lab::object_path(posix_topic, name, owner_extension), "");
    write_owner(owner.fd(), {});
    PosixSemaphores sems{create_semaphore(name, mutex, 1), create_semaphore(name, request, 0),
                         create_semaphore(name, reply, 0)};
    lab::print_ready(
        {{"path", exchange.path()}, {"posix", lab::posix_ipc_name(posix_topic, name)}});

    // TASK 11 (step 2): wait for requests with sem_timedwait
    //   Until `stop.requested()`: take one post of request with
    //   `sem_timedwait(sems.request.get(), &until)`, `until` an absolute
    //   CLOCK_REALTIME time one tick ahead: `lab::Deadline(
    //   lab::stop_check_interval_ms / 1000.0).absolute_realtime()` (so a stop
    //   is seen within a tick). 0: `answer_request(exchange)` (given,
    //   protocol.cpp); true: post reply with `post()` (task 12); false (no
    //   request in the file): `take_out_stale_posts(sems, exchange)`.
    //   ETIMEDOUT: an idle tick: `repair_abandoned_mutex(sems, exchange,
    //   owner)` (task 13). EINTR: go round. Any other errno: throw
    //   `lab::sys_error("sem_timedwait request")`.
    //   man 3 sem_timedwait
    //   check: with tasks 12 and 14-17 written too, `./posix-client hello` prints `HELLO`
    while (!stop.requested()) {
        // Timed, so a stop request is seen within a tick even if the signal
        // came just before we went to sleep, and so that idle ticks can
        // look for a mutex left taken by a dead client.
        timespec until = lab::Deadline(lab::stop_check_interval_ms / 1000.0).absolute_realtime();
        if (::sem_timedwait(sems.request.get(), &until) == 0) {
            // 2. Exchange.
            if (answer_request(exchange)) {
                post(sems.reply.get(), "sem_post reply");
            } else {
                take_out_stale_posts(sems, exchange);
            }
        } else if (errno == ETIMEDOUT) {
            // 3. Repair.
            repair_abandoned_mutex(sems, exchange, owner);
        } else if (errno != EINTR) {
            throw lab::sys_error("sem_timedwait request");
        }
    }
    // END TASK 11
    // 4. Remove: ~NamedSemaphore (sem_close, then its lab::OwnedName: sem_unlink), ~ServerFile,
    // ~InstanceLock.
    return lab::exit_ok;
}

// 1. One named semaphore, made with its value set. We hold the instance
// lock: a semaphore of this name is a killed server's. Unlink it (clients
// still holding it keep the old one, and time out) and make ours.
// TASK 10 (step 1): create a named semaphore with sem_open
//   `create_semaphore()` makes the semaphore `which` (mutex, request or
//   reply) of server NAME, with its value set as it is created. Its name:
//   `lab::posix_ipc_name(posix_topic, name, semaphore_suffixes.at(which))`.
//   We hold the instance lock, so a semaphore of that name is a killed
//   server's: `sem_unlink()` it first (ENOENT is fine). Then
//   `sem_open(sem_name.c_str(), O_CREAT | O_EXCL, lab::owner_only, value)`;
//   it fails with SEM_FAILED (not nullptr): throw `lab::sys_error("sem_open "
//   + sem_name)`. Return `NamedSemaphore(sem, lab::OwnedName(sem_name,
//   ::sem_unlink))`: closed and unlinked when the server goes.
//   man 3 sem_open, man 3 sem_unlink, man 7 sem_overview
//   check: `./posix-server &`, then `ls -l /dev/shm` shows three `sem.ipc-lab-...` files, mode 600
//   stub: NamedSemaphore create_semaphore(const std::string&, Semaphore, unsigned) {
//   stub:     return lab::not_written_yet<NamedSemaphore>(1, 10, "create a named semaphore");
//   stub: }
NamedSemaphore create_semaphore(const std::string& name, Semaphore which, unsigned value) {
    std::string sem_name = lab::posix_ipc_name(posix_topic, name, semaphore_suffixes.at(which));
    if (::sem_unlink(sem_name.c_str()) < 0 && errno != ENOENT) {
        throw lab::sys_error("sem_unlink " + sem_name);
    }
    sem_t* sem = ::sem_open(sem_name.c_str(), O_CREAT | O_EXCL, lab::owner_only, value);
    if (sem == SEM_FAILED) { // not nullptr: sem_open's failure value is SEM_FAILED
        throw lab::sys_error("sem_open " + sem_name);
    }
    return NamedSemaphore(sem, lab::OwnedName(sem_name, ::sem_unlink)); // ours: closed, unlinked
}
// END TASK 10

// After a request that was none: a post with no request behind it, and maybe
// more of them: a same-user program posted request, or wrote its count into
// the semaphore's file. Take them all out and say so in one line, not one
// "ignored" line per post.
// TASK 12 (step 2): post with sem_post, and take out stale posts
//   `post()` adds one to `sem`: `sem_post(sem)`; -1: throw
//   `lab::sys_error(what)`.
//   `take_out_stale_posts()` runs after a post of request with no request
//   in NAME.txt: `lab::drain_stale_posts(*sems.request.get(), "request")`
//   (common/) takes out and counts the rest. None: return. Else log
//   `lab::log_ignored("N more stale posts taken out")`, and if NAME.txt now
//   holds a request (`parse_request(read_file(...), why)`) that
//   `answer_request(exchange)` answers, `post()` reply ("sem_post reply").
//   man 3 sem_post
//   stub: [[maybe_unused]] void take_out_stale_posts(const PosixSemaphores&, const ServerFile&) {
//   stub:     lab::not_written_yet(2, 12, "post with sem_post, and take out stale posts");
//   stub: }
//   stub: [[maybe_unused]] void post(sem_t*, const char*) {
//   stub:     lab::not_written_yet(2, 12, "post with sem_post, and take out stale posts");
//   stub: }
void take_out_stale_posts(const PosixSemaphores& sems, const ServerFile& exchange) {
    std::uint64_t more = lab::drain_stale_posts(*sems.request.get(), "request");
    if (more == 0) {
        return;
    }
    lab::log_ignored(std::to_string(more) + " more stale posts taken out");
    // A client that wrote its request and posted during the drain lost its
    // post with the rest: answer what the file holds now.
    std::string why;
    if (parse_request(read_file(exchange.fd(), exchange.path()), why) && answer_request(exchange)) {
        post(sems.reply.get(), "sem_post reply");
    }
}

void post(sem_t* sem, const char* what) {
    if (::sem_post(sem) < 0) {
        throw lab::sys_error(what);
    }
}
// END TASK 12

// TASK 13 (step 3): repair a mutex left taken by a dead client
//   POSIX semaphores have no SEM_UNDO, so a client writes its pid and start
//   time into NAME.owner right after taking the mutex, and 0 just before
//   posting it. `repair_abandoned_mutex()` runs on each idle tick:
//   `holder = read_owner(owner.fd())`; return unless `holder.pid > 0`, the
//   holder is dead (`!holder.alive()`: its pid gone or another process's)
//   and a second `read_owner()` still says the same. Then: answer a request
//   it posted (`sem_trywait(sems.request.get())` == 0: `answer_request()`;
//   errno not EAGAIN or EINTR: throw); take out what is left posted on
//   request and reply (loop `sem_trywait()` until EAGAIN); clear NAME.owner
//   (`write_owner(owner.fd(), {})`); `sem_getvalue()` the mutex and, if 0,
//   `post()` it ("sem_post mutex"); log `lab::print_line("repaired: pid=PID
//   died holding the mutex")`.
//   man 3 sem_trywait, man 3 sem_getvalue, man 3 sem_post
//   check: kill -9 a `./posix-client --increment 100000` midway: the log may say `repaired:`
//   stub: [[maybe_unused]] void repair_abandoned_mutex(const PosixSemaphores&, const ServerFile&,
//   stub:                                              const ServerFile&) {
//   stub:     lab::not_written_yet(3, 13, "repair a mutex left taken by a dead client");
//   stub: }
// Takes whatever is posted on `sem` without waiting.
void drain(sem_t* sem, const char* what) {
    for (;;) {
        if (::sem_trywait(sem) == 0 || errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN) {
            return;
        }
        throw lab::sys_error(what);
    }
}

// 3. A client writes its pid and start time in NAME.owner right after taking
// the mutex and 0 just before giving it back; nobody else writes there. So a
// dead holder read there twice (the second read after we saw it dead) was
// killed holding the mutex. The start time matters: by now a new process
// may have the dead one's pid, and kill(pid, 0) would call it alive. A client killed in the few
// instructions between sem_wait() returning and its pid being written, or between writing 0 and
// sem_post(), cannot be told from a live one: that mutex stays taken, and
// the clients time out until the server is restarted (README).
void repair_abandoned_mutex(const PosixSemaphores& sems, const ServerFile& exchange,
                            const ServerFile& owner) {
    lab::ProcessIdentity holder = read_owner(owner.fd());
    if (holder.pid <= 0 || holder.alive() || read_owner(owner.fd()) != holder) {
        return;
    }
    // A request the dead client posted is answered first, as in step 2: a
    // wait that timed out just as the post came (or a server stopped and
    // continued in between) must not make it a dropped one. Its reply goes
    // to nobody and is taken out below.
    if (::sem_trywait(sems.request.get()) == 0) {
        answer_request(exchange);
    } else if (errno != EAGAIN && errno != EINTR) {
        throw lab::sys_error("sem_trywait request");
    }
    // Nobody else can post request while the mutex is taken, and only we
    // post reply: what is left is the dead client's, and must not be
    // handed to the next one.
    drain(sems.request.get(), "sem_trywait request");
    drain(sems.reply.get(), "sem_trywait reply");
    write_owner(owner.fd(), {});
    int value = 0;
    if (::sem_getvalue(sems.mutex.get(), &value) < 0) {
        throw lab::sys_error("sem_getvalue mutex");
    }
    if (value == 0) {
        post(sems.mutex.get(), "sem_post mutex");
    }
    lab::print_line("repaired: pid=" + std::to_string(holder.pid) + " died holding the mutex");
}
// END TASK 13

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
