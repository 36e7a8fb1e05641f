// 05-semaphore/client.cpp - takes its turn through a System V semaphore set
// and exchanges a message with the server through the shared file.
//
//   client [--name NAME] [--timeout SECONDS] [MESSAGE...]
//   client [--name NAME] [--timeout SECONDS] --increment COUNT [--no-lock]
//
// 1. Find: server_running() answers "not running" at once; ftok() of
//    NAME.key gives the key, semget(key, 3, 0) the set.
// 2. With --increment, COUNT times: take the mutex (SEM_UNDO), read
//    NAME.count, write it plus one, give the mutex back. The loop of
//    01-file-locking's client, the mutex in place of the write lock.
// 3. Otherwise per message, every wait a semtimedop() bounded by --timeout:
//    take the mutex (SEM_UNDO) once no request is in progress; throw away a
//    reply nobody took; write "request PID SEQ" and the message into
//    NAME.txt; post request; wait for reply; read the reply and check it
//    carries our PID and SEQ; give the mutex back.
// SEM_UNDO makes the kernel give the mutex back if we are killed holding it.
// posix-client.cpp is this file with POSIX named semaphores: diff them.
#include "protocol.hpp"

#include <cerrno>
#include <span>
#include <sys/sem.h>
#include <unistd.h>

namespace {

using namespace semaphore_lab;

int find_set(const std::string& name);
void increment(int semid, const ClientSettings& settings);
std::string exchange(int semid, const lab::Fd& file, const std::string& path,
                     const ClientSettings& settings, const std::string& message, long sequence);

int run(int argc, char** argv) {
    ClientSettings settings = parse_client_options(argc, argv);
    lab::ignore_sigpipe(); // `client | head -c1` must give EPIPE, not a silent death

    // 1. Find.
    int semid = find_set(settings.name);

    // 2. Increment.
    if (settings.increment_count > 0) {
        increment(semid, settings);
        return lab::exit_ok;
    }

    // 3. Exchange.
    const std::string path = lab::object_path(sysv_topic, settings.name, exchange_extension);
    lab::Fd file = open_server_file(sysv_topic, settings.name, exchange_extension);
    long sequence = 0;
    lab::for_each_message(settings.messages, [&](const std::string& message) {
        // Printed after the exchange gave the mutex back: a slow reader of
        // our stdout never holds up the other clients.
        lab::print_line(exchange(semid, file, path, settings, message, ++sequence));
    });
    return lab::exit_ok;
}

// 1. Find the server's set. No IPC_CREAT: only the server makes it.
// TASK 6 (step 1): find the server's set with ftok and semget
//   `find_set()` returns the semid of the server NAME's set. First
//   `require_server(sysv_topic, name)` ("not running" at once when no
//   server holds NAME's lock). The key: `ftok(key_path.c_str(),
//   key_project_id)`, key_path = `lab::object_path(sysv_topic, name,
//   key_extension)`; ENOENT there means the server is starting or exiting:
//   throw `lab::not_running(name, key_path + " is missing")`. Then
//   `semget(key, semaphore_count, 0)`: no IPC_CREAT, only the server makes
//   the set; ENOENT: `lab::not_running(name, "no semaphore set for " +
//   key_path)`. Other errors: `lab::sys_error("ftok " + key_path)` or
//   `lab::sys_error("semget " + key_path)`. No need to wait for the server to
//   initialise the set: your first wait is on the mutex, which it opens last.
//   man 3 ftok, man 2 semget
//   check: `./server &`, then `./client hi` gets as far as task 9
//   stub: int find_set(const std::string&) {
//   stub:     return lab::not_written_yet<int>(1, 6, "find the server's set with ftok and semget");
//   stub: }
int find_set(const std::string& name) {
    require_server(sysv_topic, name);
    std::string key_path = lab::object_path(sysv_topic, name, key_extension);
    key_t key = ::ftok(key_path.c_str(), key_project_id);
    if (key == -1) {
        if (errno == ENOENT) { // the server is starting or exiting right now
            throw lab::not_running(name, key_path + " is missing");
        }
        throw lab::sys_error("ftok " + key_path);
    }
    // A set the server has just made is all zeros (sem_otime 0) until its
    // first semop opens the mutex; our first wait is on the mutex, so it is
    // also the wait for initialisation - no polling of sem_otime needed.
    int semid = ::semget(key, semaphore_count, 0);
    if (semid < 0) {
        if (errno == ENOENT) {
            throw lab::not_running(name, "no semaphore set for " + key_path);
        }
        throw lab::sys_error("semget " + key_path);
    }
    return semid;
}
// END TASK 6

// TASK 7 (step 3): wait for semaphore operations with semtimedop
//   `semop_until()` performs `operations` all at once, waiting while any of
//   them would block, at most until `deadline`: `semtimedop(semid,
//   operations.data(), operations.size(), &left)` with `left =
//   deadline.relative()` recomputed before each call. 0: return true.
//   EAGAIN once `deadline.expired()`: return false. EAGAIN before it, or
//   EINTR: try again. Any other errno goes to a `[[noreturn]] void
//   throw_semop_error(name, what)` of yours, which tasks 8 and 9 use too:
//   EIDRM or EINVAL mean the server removed the set, so throw
//   `lab::not_running(name, "its semaphore set was removed")`; anything else
//   `lab::sys_error(what)`.
//   man 2 semtimedop
//   stub: [[maybe_unused]] bool semop_until(int, std::span<sembuf>, const lab::Deadline&,
//   stub:                                   const std::string&) {
//   stub:     return lab::not_written_yet<bool>(3, 7, "wait for semaphore operations");
//   stub: }
[[noreturn]] void throw_semop_error(const std::string& name, const std::string& what) {
    if (errno == EIDRM || errno == EINVAL) { // the server removed the set
        throw lab::not_running(name, "its semaphore set was removed");
    }
    throw lab::sys_error(what);
}

// Performs `operations` all at once, waiting while any of them would block,
// at most until `deadline`. False when the deadline passed first.
bool semop_until(int semid, std::span<sembuf> operations, const lab::Deadline& deadline,
                 const std::string& name) {
    for (;;) {
        timespec left = deadline.relative();
        if (::semtimedop(semid, operations.data(), operations.size(), &left) == 0) {
            return true;
        }
        if (errno == EAGAIN && deadline.expired()) {
            return false;
        }
        if (errno != EAGAIN && errno != EINTR) {
            throw_semop_error(name, "semtimedop");
        }
    }
}
// END TASK 7

// 2. COUNT times: read, add, write under the mutex (skipped with --no-lock);
// prints the last value written.
// TASK 8 (step 2): increment the counter under the mutex
//   `increment()` opens NAME.count (`open_server_file(sysv_topic,
//   settings.name, counter_extension)`) and, `settings.increment_count`
//   times: take the mutex, `{mutex, -1, SEM_UNDO}`, with `semop_until()` and
//   a `lab::Deadline(settings.timeout_seconds)` (false: throw
//   `lab::timed_out(settings.timeout_seconds, "the mutex")`); read the value
//   (`read_counter()`), write it plus one and a newline (`replace_file()`);
//   give the mutex back with `semop()` of `{mutex, +1, SEM_UNDO}` (which also
//   cancels the undo entry the -1 made; on error `throw_semop_error(
//   settings.name, "semop give mutex")`). With `settings.no_lock`, skip
//   both semops (to see the race). Print the last value written.
//   SEM_UNDO: if we are killed holding the mutex, the kernel gives it back.
//   man 2 semop
//   check: two `./client --increment 1000` at once: the later one prints 2000
//   stub: void increment(int, const ClientSettings&) {
//   stub:     lab::not_written_yet(2, 8, "increment the counter under the mutex");
//   stub: }
void increment(int semid, const ClientSettings& settings) {
    const std::string path = lab::object_path(sysv_topic, settings.name, counter_extension);
    lab::Fd fd = open_server_file(sysv_topic, settings.name, counter_extension);
    std::array<sembuf, 1> take{{{mutex, -1, SEM_UNDO}}};
    sembuf give{mutex, +1, SEM_UNDO}; // also cancels the undo entry the -1 made
    long value = 0;
    for (long i = 0; i < settings.increment_count; ++i) {
        if (!settings.no_lock &&
            !semop_until(semid, take, lab::Deadline(settings.timeout_seconds), settings.name)) {
            throw lab::timed_out(settings.timeout_seconds, "the mutex");
        }
        // Read, add, write: three steps another client can come between
        // unless the mutex keeps it out.
        value = read_counter(fd.get(), path) + 1;
        replace_file(fd.get(), path, std::to_string(value) + "\n");
        if (!settings.no_lock && ::semop(semid, &give, 1) < 0) {
            throw_semop_error(settings.name, "semop give mutex");
        }
    }
    lab::print_line(std::to_string(value));
}
// END TASK 8

// TASK 9 (step 3): exchange one message under the mutex
//   `exchange()` sends `message` and returns the reply, all waits through
//   `semop_until()` with one `lab::Deadline deadline(settings.timeout_seconds)`:
//   1. Enter: `{mutex, -1, SEM_UNDO}` and `{request, 0, 0}` (0 waits until
//      request is 0: the server is done with NAME.txt) in one semop; false:
//      throw `lab::timed_out(settings.timeout_seconds, "the mutex (another
//      client holds it, or the server is stuck)")`.
//   2. From here the mutex must go back however we leave: a small class
//      whose destructor does `semop()` of `{mutex, +1, SEM_UNDO}`.
//   3. Clear a stale reply: `semctl(semid, reply, SETVAL, 0)`.
//   4. Write `format_record("request", getpid(), sequence, message)` into
//      NAME.txt (`replace_file()`), then post request: `{request, +1, 0}`.
//   5. Take reply: `{reply, -1, 0}` (false: `lab::timed_out(...,
//      "the reply (is the server stopped?)")`), `parse_record(read_file(...))`
//      and return its message if it is a "reply" with our pid and sequence;
//      else wait for reply again.
//   man 2 semop, man 2 semctl
//   check: `./server &`, then `./client hello` prints `HELLO`
//   stub: std::string exchange(int, const lab::Fd&, const std::string&, const ClientSettings&,
//   stub:                      const std::string&, long) {
//   stub:     return lab::not_written_yet<std::string>(3, 9, "exchange one message");
//   stub: }
// Holding the mutex: given back (+1 with SEM_UNDO, which also cancels the
// undo entry the -1 made) when this goes out of scope, however we leave.
class MutexHold {
  public:
    explicit MutexHold(int semid) : semid_(semid) {}
    ~MutexHold() {
        sembuf give{mutex, +1, SEM_UNDO};
        ::semop(semid_, &give, 1); // fails only when the set is gone: nothing to give back
    }
    MutexHold(const MutexHold&) = delete;
    MutexHold& operator=(const MutexHold&) = delete;

  private:
    int semid_;
};

// 3. One message there and back; returns the reply.
std::string exchange(int semid, const lab::Fd& file, const std::string& path,
                     const ClientSettings& settings, const std::string& message, long sequence) {
    lab::Deadline deadline(settings.timeout_seconds);
    // The mutex, and request == 0 in the same atomic semop (sem_op 0 waits
    // for zero): if the client before us was killed after posting its
    // request, the server is still busy with NAME.txt until request is 0.
    // SEM_UNDO: if we are killed from here on, the kernel adds the 1 back.
    std::array<sembuf, 2> enter{{{mutex, -1, SEM_UNDO}, {request, 0, 0}}};
    if (!semop_until(semid, enter, deadline, settings.name)) {
        throw lab::timed_out(settings.timeout_seconds,
                             "the mutex (another client holds it, or the server is stuck)");
    }
    MutexHold hold(semid);
    // A reply posted for a client killed before it took it is stale: nobody
    // else can post one now (no request is in progress), so clear it.
    if (::semctl(semid, reply, SETVAL, 0) < 0) {
        throw lab::sys_error("semctl SETVAL reply");
    }
    const long pid = ::getpid();
    replace_file(file.get(), path, format_record("request", pid, sequence, message));
    sembuf post_request{request, +1, 0};
    if (::semop(semid, &post_request, 1) < 0) {
        throw_semop_error(settings.name, "semop post request");
    }
    std::array<sembuf, 1> take_reply{{{reply, -1, 0}}};
    for (;;) {
        if (!semop_until(semid, take_reply, deadline, settings.name)) {
            throw lab::timed_out(settings.timeout_seconds, "the reply (is the server stopped?)");
        }
        std::string why;
        auto record = parse_record(read_file(file.get(), path), why);
        // Not ours (cannot happen with the protocol above; a hand-made post
        // could do it): wait on for ours.
        if (record && record->kind == "reply" && record->pid == pid &&
            record->sequence == sequence) {
            return record->message;
        }
    }
}
// END TASK 9

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
