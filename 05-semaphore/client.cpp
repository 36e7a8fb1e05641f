// 05-semaphore/client.cpp - takes its turn through a System V semaphore set
// and exchanges a message with the server through the shared file.
//
//   client [--name NAME] [--timeout SECONDS] [MESSAGE...]
//   client [--name NAME] [--timeout SECONDS] --increment COUNT [--no-lock]
//
// 1. Find: server_running() answers "not running" at once; ftok() of
//    NAME.key gives the key, semget(key, 3, 0) the set.
// 2. Per message, every wait a semtimedop() bounded by --timeout:
//    take the mutex (SEM_UNDO) once no request is in progress; throw away a
//    reply nobody took; write "request PID SEQ" and the message into
//    NAME.txt; post request; wait for reply; read the reply and check it
//    carries our PID and SEQ; give the mutex back.
// SEM_UNDO makes the kernel give the mutex back if we are killed holding it.
#include "protocol.hpp"

#include <cerrno>
#include <span>
#include <sys/sem.h>
#include <unistd.h>

namespace {

using namespace semaphore_lab;

// 1. Find the server's set. No IPC_CREAT: only the server makes it.
int attach(const std::string& name) {
    require_server(sysv_topic, name);
    std::string key_path = lab::object_path(sysv_topic, name, key_extension);
    key_t key = ::ftok(key_path.c_str(), key_project_id);
    if (key == -1) {
        if (errno == ENOENT) { // the server is starting or exiting right now
            throw lab::Failure(name + ": server not running (" + key_path + " is missing)");
        }
        throw lab::sys_error("ftok " + key_path);
    }
    // A set the server has just made is all zeros (sem_otime 0) until its
    // first semop opens the mutex; our first wait is on the mutex, so it is
    // also the wait for initialisation - no polling of sem_otime needed.
    int semid = ::semget(key, semaphore_count, 0);
    if (semid < 0) {
        if (errno == ENOENT) {
            throw lab::Failure(name + ": server not running (no semaphore set for " + key_path +
                               ")");
        }
        throw lab::sys_error("semget " + key_path);
    }
    return semid;
}

[[noreturn]] void throw_semop_error(const std::string& what) {
    if (errno == EIDRM || errno == EINVAL) { // the server removed the set
        throw lab::Failure("server not running: its semaphore set was removed");
    }
    throw lab::sys_error(what);
}

// Performs `operations` all at once, waiting while any of them would block,
// at most until `deadline`. False when the deadline passed first.
bool semop_until(int semid, std::span<sembuf> operations, const lab::Deadline& deadline) {
    for (;;) {
        timespec left = deadline.relative();
        if (::semtimedop(semid, operations.data(), operations.size(), &left) == 0) {
            return true;
        }
        if (errno == EAGAIN && deadline.expired()) {
            return false;
        }
        if (errno != EAGAIN && errno != EINTR) {
            throw_semop_error("semtimedop");
        }
    }
}

// semop() for a post (+1), which never waits.
void post(int semid, Semaphore which, short flags, const char* what) {
    sembuf operation{which, +1, flags};
    if (::semop(semid, &operation, 1) < 0) {
        throw_semop_error(what);
    }
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

// 2. One message there and back; returns the reply.
std::string exchange(int semid, const lab::Fd& file, const std::string& path,
                     const ClientSettings& settings, const std::string& message, long sequence) {
    lab::Deadline deadline(settings.timeout_seconds);
    // The mutex, and request == 0 in the same atomic semop (sem_op 0 waits
    // for zero): if the client before us was killed after posting its
    // request, the server is still busy with NAME.txt until request is 0.
    // SEM_UNDO: if we are killed from here on, the kernel adds the 1 back.
    std::array<sembuf, 2> enter{{{mutex, -1, SEM_UNDO}, {request, 0, 0}}};
    if (!semop_until(semid, enter, deadline)) {
        throw timed_out(settings, "the mutex (another client holds it, or the server is stuck)");
    }
    MutexHold hold(semid);
    // A reply posted for a client killed before it took it is stale: nobody
    // else can post one now (no request is in progress), so clear it.
    if (::semctl(semid, reply, SETVAL, 0) < 0) {
        throw lab::sys_error("semctl SETVAL reply");
    }
    const long pid = ::getpid();
    replace_file(file.get(), path, format_record("request", pid, sequence, message));
    post(semid, request, 0, "semop post request");
    std::array<sembuf, 1> take_reply{{{reply, -1, 0}}};
    for (;;) {
        if (!semop_until(semid, take_reply, deadline)) {
            throw timed_out(settings, "the reply (is the server stopped?)");
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

int run(int argc, char** argv) {
    ClientSettings settings = parse_client_options(argc, argv);
    lab::ignore_sigpipe(); // `client | head -c1` must give EPIPE, not a silent death

    // 1. Find.
    int semid = attach(settings.name);
    if (settings.increment_count > 0) {
        std::array<sembuf, 1> take{{{mutex, -1, SEM_UNDO}}};
        run_increments(
            settings, sysv_topic,
            [&] {
                if (!semop_until(semid, take, lab::Deadline(settings.timeout_seconds))) {
                    throw timed_out(settings, "the mutex");
                }
            },
            [&] { post(semid, mutex, SEM_UNDO, "semop give mutex"); });
        return lab::exit_ok;
    }
    // 2. Exchange.
    send_messages(
        settings, sysv_topic,
        [&](const lab::Fd& file, const std::string& path, const std::string& message,
            long sequence) { return exchange(semid, file, path, settings, message, sequence); });
    return lab::exit_ok;
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
