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

// 2. COUNT times: read, add, write under the mutex (skipped with --no-lock);
// prints the last value written.
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

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
