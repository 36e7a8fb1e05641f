// 05-semaphore/posix-client.cpp - takes its turn through POSIX named
// semaphores and exchanges a message with the server through the shared file.
//
//   posix-client [--name NAME] [--timeout SECONDS] [MESSAGE...]
//   posix-client [--name NAME] [--timeout SECONDS] --increment COUNT [--no-lock]
//
// 1. Find: server_running() answers "not running" at once; sem_open()
//    without O_CREAT opens the server's three semaphores.
// 2. Per message, every wait a sem_timedwait() bounded by --timeout:
//    take the mutex and write our pid in NAME.owner; write "request PID SEQ"
//    and the message into NAME.txt; post request; wait for reply; read the
//    reply and check it carries our PID and SEQ; write 0 in NAME.owner and
//    post the mutex.
// There is no SEM_UNDO here: if we are killed holding the mutex, the server
// sees our dead pid in NAME.owner and posts the mutex for us.
#include "protocol.hpp"

#include <cerrno>
#include <fcntl.h>
#include <optional>
#include <semaphore.h>
#include <unistd.h>

namespace {

using namespace semaphore_lab;

// One of the server's semaphores, opened (never created) and closed when
// this goes. Only the server unlinks.
class OpenSemaphore {
  public:
    OpenSemaphore(const std::string& server_name, Semaphore which) {
        std::string name =
            lab::posix_ipc_name(posix_topic, server_name, semaphore_suffixes.at(which));
        sem_ = ::sem_open(name.c_str(), 0);
        if (sem_ == SEM_FAILED) {
            if (errno == ENOENT) { // the server is starting or exiting right now
                throw lab::Failure(server_name + ": server not running (no semaphore " + name +
                                   ")");
            }
            throw lab::sys_error("sem_open " + name);
        }
    }
    ~OpenSemaphore() { ::sem_close(sem_); }
    OpenSemaphore(const OpenSemaphore&) = delete;
    OpenSemaphore& operator=(const OpenSemaphore&) = delete;

    sem_t* get() const { return sem_; }

  private:
    sem_t* sem_ = SEM_FAILED;
};

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

struct Connection {
    OpenSemaphore mutex, request, reply;
    lab::Fd owner;
    lab::ProcessIdentity self; // what we write into NAME.owner
};

// 2. One message there and back; returns the reply.
std::string exchange(const Connection& server, const lab::Fd& file, const std::string& path,
                     const ClientSettings& settings, const std::string& message, long sequence) {
    lab::Deadline deadline(settings.timeout_seconds);
    if (!wait_until(server.mutex.get(), deadline)) {
        throw timed_out(settings, "the mutex (another client holds it, or the server is stuck)");
    }
    MutexHold hold(server.mutex.get(), server.owner.get(), server.self);
    const long pid = ::getpid();
    replace_file(file.get(), path, format_record("request", pid, sequence, message));
    hold.set_request_in_progress(true);
    if (::sem_post(server.request.get()) < 0) {
        throw lab::sys_error("sem_post request");
    }
    for (;;) {
        if (!wait_until(server.reply.get(), deadline)) {
            throw timed_out(settings, "the reply (is the server stopped?)");
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

int run(int argc, char** argv) {
    ClientSettings settings = parse_client_options(argc, argv);
    lab::ignore_sigpipe(); // `posix-client | head -c1` must give EPIPE, not a silent death

    // 1. Find.
    require_server(posix_topic, settings.name);
    Connection server{{settings.name, mutex},
                      {settings.name, request},
                      {settings.name, reply},
                      open_server_file(posix_topic, settings.name, owner_extension),
                      lab::ProcessIdentity::self()};
    if (settings.increment_count > 0) {
        std::optional<MutexHold> hold;
        run_increments(
            settings, posix_topic,
            [&] {
                if (!wait_until(server.mutex.get(), lab::Deadline(settings.timeout_seconds))) {
                    throw timed_out(settings, "the mutex");
                }
                hold.emplace(server.mutex.get(), server.owner.get(), server.self);
            },
            [&] { hold.reset(); });
        return lab::exit_ok;
    }
    // 2. Exchange.
    send_messages(
        settings, posix_topic,
        [&](const lab::Fd& file, const std::string& path, const std::string& message,
            long sequence) { return exchange(server, file, path, settings, message, sequence); });
    return lab::exit_ok;
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
