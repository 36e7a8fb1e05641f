// 07-shm/posix-server.cpp - POSIX shared memory: one named object holds the
// message and, next to it, its own synchronisation.
//
//   posix-server [--name NAME]
//
// 1. Name: the instance lock first (one live server per NAME); the object is
//    /ipc-lab-UID-shm-posix-NAME (a file in /dev/shm on Linux).
// 2. Create, taking over: shm_open(O_CREAT|O_EXCL, 0600); if a killed
//    server's object is still there, shm_unlink() it and create afresh.
// 3. Size and map: posix_fallocate() to sizeof(PosixSegment) (the size and
//    its pages: a full /dev/shm is an error here, not a SIGBUS later),
//    mmap(MAP_SHARED), guard it against SIGBUS (someone may truncate the
//    object); the descriptor can be closed then, the mapping stays.
// 4. Initialise inside the memory: sem_init(pshared=1) for request and
//    reply; a mutex with PTHREAD_PROCESS_SHARED and PTHREAD_MUTEX_ROBUST for
//    the clients' turns; then set `initialised`, the sign clients wait for.
// 5. Exchange: sem_timedwait() on request; copy the request out, log it,
//    write the reply, sem_post() on reply. A post with no new request
//    behind it is stale: take out any others at once, log them once.
// 6. Unmap and remove on SIGINT/SIGTERM: munmap(), shm_unlink() (by
//    lab::Mapping and lab::OwnedName as they go). The memory itself goes when the
//    last client unmaps it.
#include "protocol.hpp"

#include <cerrno>
#include <fcntl.h>
#include <memory>
#include <sys/mman.h>
#include <sys/stat.h>

namespace {

using namespace shm_lab;

void check_intact(const std::string& object);
bool wait_for_request(PosixSegment& segment, const std::string& object,
                      const lab::StopSignals& stop);
void answer(PosixSegment& segment, const Request& incoming);

int run(int argc, char** argv) {
    std::string name = lab::parse_server_options(
        argc, argv,
        "Serves clients through a POSIX shared memory object that holds the\n"
        "message and its own semaphores and robust mutex, until SIGINT or SIGTERM.");

    // 1. One live server per NAME; then the object's name.
    lab::InstanceLock instance(posix_topic, name);
    lab::ignore_sigpipe(); // a log reader that goes away: EPIPE, exit 1, objects removed
    lab::StopSignals stop;
    const std::string object = lab::posix_ipc_name(posix_topic, name);

    // 2. Create, taking over.
    // TASK 10 (step 2): create the object with shm_open
    //   Make the object `object`, new: `shm_open(object.c_str(), O_RDWR |
    //   O_CREAT | O_EXCL, lab::owner_only)`, its descriptor owned by a
    //   `lab::Fd fd` (false when the call failed). On EEXIST it is a killed
    //   server's (we hold the instance lock, and no other program uses our
    //   uid, topic and NAME): `shm_unlink()` it (ENOENT is fine; other
    //   errno: throw `lab::sys_error("shm_unlink " + object)`) and
    //   `shm_open` again, once. Still no descriptor: throw
    //   `lab::sys_error("shm_open " + object)`. Then own the name at once,
    //   `lab::OwnedName owned_name(object, ::shm_unlink)`, so that every way
    //   out removes it, and `fchmod(fd, lab::owner_only)`: shm_open's mode
    //   is cut by the umask (failure: throw `lab::sys_error("fchmod " +
    //   object)`).
    //   man 3 shm_open, man 3 shm_unlink, man 2 fchmod
    //   check: `./posix-server`, then `ls -l /dev/shm` shows the object, mode 600
    //   stub: lab::Fd fd(lab::not_written_yet<int>(2, 10, "create the object with shm_open"));
    lab::Fd fd(::shm_open(object.c_str(), O_RDWR | O_CREAT | O_EXCL, lab::owner_only));
    if (!fd && errno == EEXIST) {
        // We hold the instance lock: no live server of this NAME made it.
        // Another program cannot own this name either (it holds our uid,
        // topic and NAME), so it is a killed server's: take it over.
        if (::shm_unlink(object.c_str()) < 0 && errno != ENOENT) {
            throw lab::sys_error("shm_unlink " + object);
        }
        fd.reset(::shm_open(object.c_str(), O_RDWR | O_CREAT | O_EXCL, lab::owner_only));
    }
    if (!fd) {
        throw lab::sys_error("shm_open " + object);
    }
    lab::OwnedName owned_name(object, ::shm_unlink); // from here on, every way out unlinks it
    if (::fchmod(fd.get(), lab::owner_only) < 0) {   // shm_open's mode is cut by the umask
        throw lab::sys_error("fchmod " + object);
    }
    // END TASK 10

    // 3. Size and map. A new object has size 0: without a size every access
    // to the mapping would be SIGBUS. ftruncate() would set the size but
    // take no pages, and on a full /dev/shm the first store would be SIGBUS
    // too; posix_fallocate() takes them now (it returns the error, not
    // errno). The new bytes read as zero.
    // TASK 11 (step 3): size the object with posix_fallocate, map it with mmap
    //   A new object has size 0, and every access to a mapping past the end
    //   is SIGBUS. `posix_fallocate(fd, 0, sizeof(PosixSegment))` sets the
    //   size AND takes the pages now (ftruncate would take none, and a full
    //   /dev/shm would be a SIGBUS at the first store); it returns the
    //   error number instead of setting errno:
    //   `lab::check_error_number(result, "posix_fallocate " + object)`. Then
    //   `mmap(nullptr, sizeof(PosixSegment), PROT_READ | PROT_WRITE,
    //   MAP_SHARED, fd, 0)`, which fails with `MAP_FAILED`, not NULL (throw
    //   `lab::sys_error("mmap " + object)`); own it at once in a
    //   `lab::Mapping mapping(address, size)` (munmap when it goes), and
    //   close the descriptor (`fd.reset()`): the mapping stays. Guard it,
    //   `lab::SigbusGuard guard(address, size)`: anyone of our uid can
    //   still truncate the object, which is then an error line, not a
    //   SIGBUS death. Set `segment` to `*std::construct_at(
    //   static_cast<PosixSegment*>(address))`.
    //   man 3 posix_fallocate, man 2 mmap
    //   check: `./posix-server`, then `ls -l /dev/shm` shows the object's size
    //   stub: PosixSegment& segment = lab::not_written_yet<PosixSegment&>(
    //   stub:     3, 11, "size the object with posix_fallocate, map it with mmap");
    lab::check_error_number(::posix_fallocate(fd.get(), 0, sizeof(PosixSegment)),
                            "posix_fallocate " + object);
    void* address =
        ::mmap(nullptr, sizeof(PosixSegment), PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (address == MAP_FAILED) { // not NULL
        throw lab::sys_error("mmap " + object);
    }
    lab::Mapping mapping(address, sizeof(PosixSegment));
    fd.reset(); // the mapping stays without the descriptor
    // Anyone of our uid can still truncate the object: from here on that is
    // an error line (check_intact), not a SIGBUS death.
    lab::SigbusGuard guard(address, sizeof(PosixSegment));
    PosixSegment& segment = *std::construct_at(static_cast<PosixSegment*>(address));
    // END TASK 11

    // 4. Initialise inside the memory. No sem_destroy()/
    // pthread_mutex_destroy() at the end, on purpose: destroying a semaphore
    // or mutex another process still waits on is undefined, and a client may
    // be waiting right then. They need no cleanup beyond their memory, which
    // goes with the last mapping.
    // TASK 12 (step 4): initialise the semaphores and the robust mutex
    //   Inside the memory: `sem_init(&segment.request, 1, 0)` and the same
    //   for `segment.reply` (pshared 1: shared between processes; value 0;
    //   -1: throw `lab::sys_error("sem_init")`). The clients' mutex
    //   `segment.turn`: a `pthread_mutexattr_t` made with
    //   `pthread_mutexattr_init`, set PTHREAD_PROCESS_SHARED
    //   (`pthread_mutexattr_setpshared`: without it a mutex in shared
    //   memory is only promised to work between threads of one process) and
    //   PTHREAD_MUTEX_ROBUST (`pthread_mutexattr_setrobust`: a client killed
    //   holding it must not leave it locked for ever), then
    //   `pthread_mutex_init(&segment.turn, &attributes)` and
    //   `pthread_mutexattr_destroy`. These return the error number: check
    //   each with `lab::check_error_number(result, "CALL")`. Last,
    //   `segment.initialised.store(initialised_magic,
    //   std::memory_order_release)`: a client that sees the magic also
    //   sees everything above. No sem_destroy/pthread_mutex_destroy at the
    //   end: a client may still wait on them.
    //   man 3 sem_init, man 3 pthread_mutexattr_setpshared, man 3 pthread_mutexattr_setrobust
    //   check: `./posix-server`, and `./posix-client hi` elsewhere no longer says "setting up"
    if (::sem_init(&segment.request, 1, 0) < 0 || ::sem_init(&segment.reply, 1, 0) < 0) {
        throw lab::sys_error("sem_init");
    }
    pthread_mutexattr_t attributes;
    lab::check_error_number(::pthread_mutexattr_init(&attributes), "pthread_mutexattr_init");
    // Without PROCESS_SHARED a mutex in shared memory is only promised to
    // work between threads of one process.
    lab::check_error_number(::pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED),
                            "pthread_mutexattr_setpshared");
    // Without ROBUST a client killed while holding the mutex leaves it
    // locked for ever; with it the next locker gets EOWNERDEAD instead.
    lab::check_error_number(::pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST),
                            "pthread_mutexattr_setrobust");
    int made = ::pthread_mutex_init(&segment.turn, &attributes);
    ::pthread_mutexattr_destroy(&attributes);
    lab::check_error_number(made, "pthread_mutex_init");
    // Release: a client that sees the magic also sees everything above.
    segment.initialised.store(initialised_magic, std::memory_order_release);
    // END TASK 12
    check_intact(object);
    lab::print_ready({{"posix", object}});

    // 5.
    std::uint64_t last_answered = 0;
    while (wait_for_request(segment, object, stop)) {
        Request incoming = read_request(segment.exchange, last_answered);
        if (!incoming.ignored.empty()) {
            // No reply: nobody waits for one. Other posts counted now are
            // stale too (or written by someone not a client): take them all
            // out and log them in this one line, rather than a turn and a
            // line each.
            std::uint64_t more = lab::drain_stale_posts(segment.request, "(request)");
            lab::log_ignored(
                incoming.ignored +
                (more == 0 ? "" : "; " + std::to_string(more) + " more stale posts taken out"));
            // A client that wrote its request and posted during the drain
            // lost its post with the rest: look at the buffer once more.
            incoming = read_request(segment.exchange, last_answered);
            if (!incoming.ignored.empty()) {
                continue;
            }
        }
        answer(segment, incoming);
        last_answered = incoming.sequence;
    }
    // 6. Unmap and remove: ~lab::Mapping (munmap), ~lab::OwnedName
    // (shm_unlink), ~InstanceLock.
    return lab::exit_ok;
}

// Someone of our uid truncated the object: the memory we shared with the
// clients is gone (the SigbusGuard put private zeros in its place).
void check_intact(const std::string& object) {
    if (lab::SigbusGuard::tripped()) {
        throw lab::Failure(object + ": truncated while mapped; giving up");
    }
}

// Waits for a request, waking every tick to look at the stop flag and at
// the object.
// TASK 13 (step 5): wait for a request with sem_timedwait
//   Write `wait_for_request()`: true when a request was posted, false once
//   a stop is requested. While `!stop.requested()`: `sem_timedwait(
//   &segment.request, &until)` with `until` an absolute CLOCK_REALTIME
//   time one tick ahead, `lab::Deadline(lab::stop_check_interval_ms /
//   1000.0).absolute_realtime()`. Keep its errno (`error_number`), then call
//   `check_intact(object)` (the object may have been truncated) whatever
//   it returned. 0: return true; ETIMEDOUT or EINTR: wait again; other
//   errno: throw `lab::sys_error(error_number, "sem_timedwait (request)")`.
//   man 3 sem_timedwait
//   check: `./posix-server`, and `./posix-client hi` elsewhere: it logs `received: hi`
//   stub: bool wait_for_request(PosixSegment&, const std::string&, const lab::StopSignals&) {
//   stub:     return lab::not_written_yet<bool>(5, 13, "wait for a request with sem_timedwait");
//   stub: }
bool wait_for_request(PosixSegment& segment, const std::string& object,
                      const lab::StopSignals& stop) {
    while (!stop.requested()) {
        // sem_timedwait() takes an absolute CLOCK_REALTIME time.
        timespec until = lab::Deadline(lab::stop_check_interval_ms / 1000.0).absolute_realtime();
        int waited = ::sem_timedwait(&segment.request, &until);
        int error_number = errno;
        check_intact(object);
        if (waited == 0) {
            return true;
        }
        if (error_number != ETIMEDOUT && error_number != EINTR) {
            throw lab::sys_error(error_number, "sem_timedwait (request)");
        }
    }
    return false;
}
// END TASK 13

// TASK 14 (step 5): post the reply with sem_post
//   In `answer()`, once the reply is in the memory (`write_reply`), tell
//   the client: `sem_post(&segment.reply)` (-1: throw
//   `lab::sys_error("sem_post (reply)")`).
//   man 3 sem_post
//   check: `./posix-server`, and `./posix-client hi` elsewhere prints `HI`
//   stub: void answer(PosixSegment& segment, const Request& incoming) {
//   stub:     lab::log_received(incoming.message);
//   stub:     write_reply(segment.exchange, incoming);
//   stub:     lab::not_written_yet(5, 14, "post the reply with sem_post");
//   stub: }
void answer(PosixSegment& segment, const Request& incoming) {
    lab::log_received(incoming.message);
    write_reply(segment.exchange, incoming);
    if (::sem_post(&segment.reply) < 0) {
        throw lab::sys_error("sem_post (reply)");
    }
}
// END TASK 14

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
