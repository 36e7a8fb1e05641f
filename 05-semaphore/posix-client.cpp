// 05-semaphore/posix-client.cpp - takes its turn through POSIX named
// semaphores and exchanges a message with the server through the shared file.
//
//   posix-client [--name NAME] [--timeout SECONDS] [MESSAGE...]
//   posix-client [--name NAME] [--timeout SECONDS] --increment COUNT [--no-lock]
//
// 1. Find: server_running() answers "not running" at once; sem_open()
//    without O_CREAT opens the server's three semaphores.
// 2. With --increment, COUNT times: take the mutex and write our pid in
//    NAME.owner, read NAME.count, write it plus one, write 0 in NAME.owner
//    and post the mutex. The loop of 01-file-locking's client, the mutex in
//    place of the write lock.
// 3. Otherwise per message, every wait a sem_timedwait() bounded by --timeout:
//    take the mutex and write our pid in NAME.owner; write "request PID SEQ"
//    and the message into NAME.txt; post request; wait for reply; read the
//    reply and check it carries our PID and SEQ; write 0 in NAME.owner and
//    post the mutex.
// There is no SEM_UNDO here: if we are killed holding the mutex, the server
// sees our dead pid in NAME.owner and posts the mutex for us.
// client.cpp is this file with a System V set: diff them.
#include "protocol.hpp"

#include <cerrno>
#include <fcntl.h>
#include <optional>
#include <semaphore.h>
#include <unistd.h>

namespace {

using namespace semaphore_lab;

NamedSemaphore open_semaphore(const std::string& name, Semaphore which);
void increment(const PosixSemaphores& sems, int owner_fd, const lab::ProcessIdentity& self,
               const ClientSettings& settings);
std::string exchange(const PosixSemaphores& sems, int owner_fd, const lab::ProcessIdentity& self,
                     const lab::Fd& file, const std::string& path, const ClientSettings& settings,
                     const std::string& message, long sequence);

int run(int argc, char** argv) {
    ClientSettings settings = parse_client_options(argc, argv);
    lab::ignore_sigpipe(); // `posix-client | head -c1` must give EPIPE, not a silent death

    // 1. Find.
    require_server(posix_topic, settings.name);
    PosixSemaphores sems{open_semaphore(settings.name, mutex),
                         open_semaphore(settings.name, request),
                         open_semaphore(settings.name, reply)};
    lab::Fd owner = open_server_file(posix_topic, settings.name, owner_extension);
    const lab::ProcessIdentity self = lab::ProcessIdentity::self(); // what goes into NAME.owner

    // 2. Increment.
    if (settings.increment_count > 0) {
        increment(sems, owner.get(), self, settings);
        return lab::exit_ok;
    }

    // 3. Exchange.
    const std::string path = lab::object_path(posix_topic, settings.name, exchange_extension);
    lab::Fd file = open_server_file(posix_topic, settings.name, exchange_extension);
    long sequence = 0;
    lab::for_each_message(settings.messages, [&](const std::string& message) {
        // Printed after the exchange gave the mutex back: a slow reader of
        // our stdout never holds up the other clients.
        lab::print_line(
            exchange(sems, owner.get(), self, file, path, settings, message, ++sequence));
    });
    return lab::exit_ok;
}

// 1. One of the server's semaphores, opened: no O_CREAT, only the server
// makes them (and only the server unlinks).
// TASK 14 (step 1): open the server's semaphore with sem_open
//   `open_semaphore()` opens the semaphore `which` of server NAME, named
//   `lab::posix_ipc_name(posix_topic, name, semaphore_suffixes.at(which))`:
//   `sem_open(sem_name.c_str(), 0)`, no O_CREAT (only the server makes it).
//   SEM_FAILED with ENOENT: the server is starting or exiting, throw
//   `lab::not_running(name, "no semaphore " + sem_name)`; other errors:
//   `lab::sys_error("sem_open " + sem_name)`. Return `NamedSemaphore(sem)`:
//   closed when it goes, never unlinked (that is the server's).
//   man 3 sem_open
//   check: `./posix-server &`, then `./posix-client hi` gets as far as task 17
//   stub: NamedSemaphore open_semaphore(const std::string&, Semaphore) {
//   stub:     return lab::not_written_yet<NamedSemaphore>(1, 14, "open the server's semaphore");
//   stub: }
NamedSemaphore open_semaphore(const std::string& name, Semaphore which) {
    std::string sem_name = lab::posix_ipc_name(posix_topic, name, semaphore_suffixes.at(which));
    sem_t* sem = ::sem_open(sem_name.c_str(), 0);
    if (sem == SEM_FAILED) {
        if (errno == ENOENT) { // the server is starting or exiting right now
            throw lab::not_running(name, "no semaphore " + sem_name);
        }
        throw lab::sys_error("sem_open " + sem_name);
    }
    return NamedSemaphore(sem); // closed when it goes, never unlinked
}
// END TASK 14

// TASK 15 (step 3): wait with sem_timedwait, and hold the mutex
//   `wait_until()` takes one post of `sem`, waiting at most until
//   `deadline`: `sem_timedwait(sem, &until)`, `until =
//   deadline.absolute_realtime()` recomputed before each try (it takes an
//   absolute CLOCK_REALTIME time). 0: true. ETIMEDOUT once
//   `deadline.expired()`: false. ETIMEDOUT before it, or EINTR: try again.
//   Other errors: `lab::sys_error("sem_timedwait")`.
//   And a class `MutexHold(sem_t* mutex, int owner_fd, const
//   lab::ProcessIdentity& self)` for tasks 16 and 17: its constructor writes
//   `write_owner(owner_fd, self)` (if that throws, `sem_post(mutex)` and
//   rethrow); its destructor writes `write_owner(owner_fd, {})` then
//   `sem_post(mutex)`, in that order (else the next holder's pid is lost),
//   catching any exception; except while `set_request_in_progress(true)`:
//   then it leaves the mutex taken, for the server to repair once we are
//   gone (the next client must not write NAME.txt while the server works).
//   man 3 sem_timedwait, man 3 sem_post
//   stub: [[maybe_unused]] bool wait_until(sem_t*, const lab::Deadline&) {
//   stub:     return lab::not_written_yet<bool>(3, 15, "wait with sem_timedwait");
//   stub: }
// sem_timedwait() until `deadline` (it takes an absolute CLOCK_REALTIME
// time, recomputed from our monotonic deadline on every try). False when
// the deadline passed first.
bool wait_until(sem_t* sem, const lab::Deadline& deadline) {
    for (;;) {
        timespec until = deadline.absolute_realtime();
        if (::sem_timedwait(sem, &until) == 0) {
            return true;
        }
        if (errno == ETIMEDOUT && deadline.expired()) {
            return false;
        }
        if (errno != ETIMEDOUT && errno != EINTR) {
            throw lab::sys_error("sem_timedwait");
        }
    }
}

// The mutex, taken: our pid and start time go into NAME.owner at once, so
// the server can tell if we die holding it. Given back when this goes out of scope, unless
// a request of ours is still in progress: then the next client could write
// NAME.txt while the server works on it. We leave the mutex taken instead;
// once we have exited, the server repairs it, after finishing our request.
class MutexHold {
  public:
    MutexHold(sem_t* mutex, int owner_fd, const lab::ProcessIdentity& self)
        : mutex_(mutex), owner_fd_(owner_fd) {
        try {
            write_owner(owner_fd_, self);
        } catch (...) {
            ::sem_post(mutex_);
            throw;
        }
    }
    ~MutexHold() {
        if (request_in_progress_) {
            return;
        }
        try {
            write_owner(owner_fd_, {}); // before the post, or the next holder's pid is lost
            ::sem_post(mutex_);
        } catch (...) {
            // NAME.owner still names us: the server will repair the mutex.
        }
    }
    MutexHold(const MutexHold&) = delete;
    MutexHold& operator=(const MutexHold&) = delete;

    void set_request_in_progress(bool in_progress) { request_in_progress_ = in_progress; }

  private:
    sem_t* mutex_;
    int owner_fd_;
    bool request_in_progress_ = false;
};
// END TASK 15

// 2. COUNT times: read, add, write under the mutex (skipped with --no-lock);
// prints the last value written.
// TASK 16 (step 2): increment the counter under the mutex
//   As client.cpp's `increment()`, with POSIX semaphores: open NAME.count
//   (`open_server_file(posix_topic, settings.name, counter_extension)`);
//   `settings.increment_count` times: unless `settings.no_lock`, take the
//   mutex with `wait_until(sems.mutex.get(),
//   lab::Deadline(settings.timeout_seconds))` (false: throw
//   `lab::timed_out(settings.timeout_seconds, "the mutex")`) and hold it in
//   a `MutexHold` (a `std::optional<MutexHold>` emplaced, so that it goes
//   at the end of each round); read the value (`read_counter()`), write it
//   plus one and a newline (`replace_file()`). Print the last value.
//   man 3 sem_timedwait, man 3 sem_post
//   check: two `./posix-client --increment 1000` at once: the later one prints 2000
//   stub: void increment(const PosixSemaphores&, int, const lab::ProcessIdentity&,
//   stub:                const ClientSettings&) {
//   stub:     lab::not_written_yet(2, 16, "increment the counter under the mutex");
//   stub: }
void increment(const PosixSemaphores& sems, int owner_fd, const lab::ProcessIdentity& self,
               const ClientSettings& settings) {
    const std::string path = lab::object_path(posix_topic, settings.name, counter_extension);
    lab::Fd fd = open_server_file(posix_topic, settings.name, counter_extension);
    long value = 0;
    for (long i = 0; i < settings.increment_count; ++i) {
        std::optional<MutexHold> hold;
        if (!settings.no_lock) {
            if (!wait_until(sems.mutex.get(), lab::Deadline(settings.timeout_seconds))) {
                throw lab::timed_out(settings.timeout_seconds, "the mutex");
            }
            hold.emplace(sems.mutex.get(), owner_fd, self);
        }
        // Read, add, write: three steps another client can come between
        // unless the mutex keeps it out.
        value = read_counter(fd.get(), path) + 1;
        replace_file(fd.get(), path, std::to_string(value) + "\n");
    } // ~MutexHold: 0 into NAME.owner, sem_post(mutex)
    lab::print_line(std::to_string(value));
}
// END TASK 16

// 3. One message there and back; returns the reply.
// TASK 17 (step 3): exchange one message under the mutex
//   `exchange()` sends `message` and returns the reply, every wait a
//   `wait_until()` with one `lab::Deadline deadline(settings.timeout_seconds)`:
//   take the mutex (false: `lab::timed_out(settings.timeout_seconds, "the
//   mutex (another client holds it, or the server is stuck)")`) and hold it
//   in a `MutexHold`; write `format_record("request", getpid(), sequence,
//   message)` into NAME.txt (`replace_file()`); mark the request in
//   progress; `sem_post(sems.request.get())` (error: `lab::sys_error(
//   "sem_post request")`); then wait for reply (false: `lab::timed_out(...,
//   "the reply (is the server stopped?)")`), `parse_record(read_file(...))`
//   and, if it is a "reply" with our pid and sequence, mark the request done
//   and return its message; else wait for reply again.
//   man 3 sem_post, man 3 sem_timedwait
//   check: `./posix-server &`, then `./posix-client hello` prints `HELLO`
//   stub: std::string exchange(const PosixSemaphores&, int, const lab::ProcessIdentity&,
//   stub:                      const lab::Fd&, const std::string&, const ClientSettings&,
//   stub:                      const std::string&, long) {
//   stub:     return lab::not_written_yet<std::string>(3, 17, "exchange one message");
//   stub: }
std::string exchange(const PosixSemaphores& sems, int owner_fd, const lab::ProcessIdentity& self,
                     const lab::Fd& file, const std::string& path, const ClientSettings& settings,
                     const std::string& message, long sequence) {
    lab::Deadline deadline(settings.timeout_seconds);
    if (!wait_until(sems.mutex.get(), deadline)) {
        throw lab::timed_out(settings.timeout_seconds,
                             "the mutex (another client holds it, or the server is stuck)");
    }
    MutexHold hold(sems.mutex.get(), owner_fd, self);
    const long pid = ::getpid();
    replace_file(file.get(), path, format_record("request", pid, sequence, message));
    hold.set_request_in_progress(true);
    if (::sem_post(sems.request.get()) < 0) {
        throw lab::sys_error("sem_post request");
    }
    for (;;) {
        if (!wait_until(sems.reply.get(), deadline)) {
            throw lab::timed_out(settings.timeout_seconds, "the reply (is the server stopped?)");
        }
        std::string why;
        auto record = parse_record(read_file(file.get(), path), why);
        // Not ours (cannot happen with the protocol above; a hand-made post
        // could do it): wait on for ours.
        if (record && record->kind == "reply" && record->pid == pid &&
            record->sequence == sequence) {
            hold.set_request_in_progress(false);
            return record->message;
        }
    }
}
// END TASK 17

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
