// 05-semaphore/server.cpp - a System V semaphore set guarding a shared file.
//
//   server [--name NAME]
//
// 1. Create: the files NAME.txt (the message) and NAME.count (the counter),
//    then the key file NAME.key; ftok() turns its inode into a key, and
//    semget(key, 3, IPC_CREAT | IPC_EXCL | 0600) makes a new set of three
//    semaphores (mutex, request, reply), all 0. A set a killed server left
//    is removed first; its semid is written in NAME.key to know it by
//    (into room the file already has: see key_file_record).
// 2. Initialise: semop(mutex +1). Until then the mutex is 0, so a client
//    that finds the set early simply waits in its first semop.
// 3. Exchange, until SIGINT/SIGTERM: wait until request > 0 (without taking
//    it, so the file stays busy for the next client), read the request, log
//    it, write the reply, then in one semop: request -1, reply +1.
// 4. Remove: semctl(IPC_RMID) and the files, by the destructors.
#include "protocol.hpp"

#include <array>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <memory>
#include <span>
#include <sys/sem.h>
#include <vector>

namespace {

using namespace semaphore_lab;

// NAME.key records the set made under its key: "semid=N\n", N right-aligned
// in a fixed width. The record is written blank BEFORE semget(), so that a
// full file system fails us before there is a set to lose, and the semid
// then overwrites it in place, in bytes the file already has.
constexpr std::string_view semid_label = "semid=";
constexpr int semid_width = 10; // INT_MAX has 10 digits
std::string key_file_record(int semid) {
    std::string digits = semid < 0 ? "" : std::to_string(semid);
    return std::string(semid_label) +
           std::string(static_cast<std::size_t>(semid_width) - digits.size(), ' ') + digits + "\n";
}
// The semid recorded in `text`, or -1.
int recorded_semid(const std::string& text) {
    if (text.rfind(semid_label, 0) != 0) {
        return -1;
    }
    const char* digits = text.c_str() + semid_label.size();
    char* end = nullptr;
    long semid = std::strtol(digits, &end, 10); // skips the padding; all blank: no semid
    bool whole = end != digits && *end == '\n' && semid >= 0 && semid <= INT_MAX;
    return whole ? static_cast<int>(semid) : -1;
}

// Removes the set a killed server of this NAME made, if it is still there.
// Only the set whose semid that server wrote in NAME.key, and only if it
// still has that key: ftok() keys collide (it keeps 16 bits of the inode),
// so "a set exists under our key" alone may be somebody else's live set.
void remove_leftover_set(const std::string& key_path) {
    lab::Fd old_key(::open(key_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!old_key) {
        return;
    }
    int semid = recorded_semid(read_file(old_key.get(), key_path, 31));
    key_t key = ::ftok(key_path.c_str(), key_project_id);
    semid_ds info{};
    if (semid >= 0 && key != -1 && ::semctl(semid, 0, IPC_STAT, &info) == 0 &&
        info.sem_perm.__key == key) {
        if (::semctl(semid, 0, IPC_RMID) < 0) {
            throw lab::sys_error("semctl IPC_RMID leftover semid " + std::to_string(semid));
        }
    }
}

// A semid this server made: IPC_RMID when it goes (a waiting client wakes
// with EIDRM). Held from the moment semget() returns, so that no later
// failure can leave the set behind: nobody could take it over, since its
// key died with NAME.key.
class OwnedSetId {
  public:
    OwnedSetId() = default;
    OwnedSetId(const OwnedSetId&) = delete;
    OwnedSetId& operator=(const OwnedSetId&) = delete;
    ~OwnedSetId() {
        if (semid_ >= 0) {
            ::semctl(semid_, 0, IPC_RMID);
        }
    }
    void own(int semid) { semid_ = semid; }
    int get() const { return semid_; }

  private:
    int semid_ = -1;
};

// The set: made in the constructor, removed (IPC_RMID) in the destructor.
// NAME.key goes with it.
class SemaphoreSet {
  public:
    explicit SemaphoreSet(std::string key_path) : key_path_(std::move(key_path)) {
        remove_leftover_set(key_path_);
        // A set under our new key that is not ours: another server's key
        // collides with ours. Leave it alone and make NAME.key again (a new
        // inode, a new key), keeping the old one open so its inode is not
        // handed straight back to us.
        constexpr int attempts = 8;
        std::vector<lab::Fd> collided; // closed when we are done
        for (int attempt = 0; attempt < attempts; ++attempt) {
            if (key_file_) {
                collided.emplace_back(::dup(key_file_->fd()));
                key_file_.reset(); // unlinks it
            }
            key_file_ = std::make_unique<ServerFile>(key_path_, key_file_record(-1));
            key_ = ::ftok(key_path_.c_str(), key_project_id);
            if (key_ == -1) {
                throw lab::sys_error("ftok " + key_path_);
            }
            int semid = ::semget(key_, semaphore_count, IPC_CREAT | IPC_EXCL | 0600);
            if (semid >= 0) {
                semid_.own(semid);
                replace_file(key_file_->fd(), key_path_, key_file_record(semid));
                return;
            }
            if (errno != EEXIST) {
                throw lab::sys_error("semget " + key_text());
            }
        }
        throw lab::Failure("semget " + key_text() + ": a set of another program has our key " +
                           std::to_string(attempts) + " times in a row (ftok collision)");
    }
    SemaphoreSet(const SemaphoreSet&) = delete;
    SemaphoreSet& operator=(const SemaphoreSet&) = delete;

    int id() const { return semid_.get(); }
    std::string key_text() const {
        std::array<char, 16> text{};
        std::snprintf(text.data(), text.size(), "0x%08x", static_cast<unsigned>(key_));
        return text.data();
    }

  private:
    std::string key_path_;
    std::unique_ptr<ServerFile> key_file_;
    key_t key_ = -1;
    OwnedSetId semid_; // after key_file_: the set is removed before NAME.key
};

// semop() that cannot block here: the server only lowers `request` after
// seeing it above 0, and nobody else lowers it.
void semop_now(int semid, std::span<sembuf> operations, const char* what) {
    while (::semop(semid, operations.data(), operations.size()) < 0) {
        if (errno != EINTR) {
            throw lab::sys_error(what);
        }
    }
}

// After a request that was none: a client enters only when request is 0 and
// posts it once, so a count still above 0 was set by a same-user program
// (semctl SETVAL, up to SEMVMX 32767) with no requests behind it. Set it
// back to 0 and say so in one line, instead of one "ignored" line per count.
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
    if (holds_request(exchange) && answer_request(exchange)) {
        std::array<sembuf, 1> post_reply{{{reply, +1, 0}}};
        semop_now(semid, post_reply, "semop post reply");
    }
}

void serve(int semid, const ServerFile& exchange, const lab::StopSignals& stop) {
    // Wait until request > 0 without taking it: -1 then +1 in one atomic
    // semop. request stays 1 while we work, and a client only comes in when
    // it is 0 again, so nobody writes NAME.txt under our feet - even when
    // the client that posted it was killed and SEM_UNDO freed the mutex.
    std::array<sembuf, 2> wait_for_request{{{request, -1, 0}, {request, +1, 0}}};
    std::array<sembuf, 2> finish_with_reply{{{request, -1, 0}, {reply, +1, 0}}};
    std::array<sembuf, 1> finish_without_reply{{{request, -1, 0}}};
    const timespec tick{0, lab::stop_check_interval_ms * 1'000'000L};
    while (!stop.requested()) {
        // Timed, so a stop request is seen within a tick even if the signal
        // came just before we went to sleep.
        if (::semtimedop(semid, wait_for_request.data(), wait_for_request.size(), &tick) < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                continue;
            }
            throw lab::sys_error("semtimedop wait for request");
        }
        if (answer_request(exchange)) {
            semop_now(semid, finish_with_reply, "semop post reply");
        } else {
            semop_now(semid, finish_without_reply, "semop drop request");
            reset_stale_request_count(semid, exchange);
        }
    }
}

int run(int argc, char** argv) {
    std::string name = parse_server_options(
        argc, argv,
        "Serves clients through the shared file NAME.txt, guarded by a System V\n"
        "set of three semaphores (mutex, request, reply), until SIGINT/SIGTERM.");
    lab::InstanceLock instance(sysv_topic, name); // first: "already running", takeover
    lab::ignore_sigpipe(); // a log reader that goes away: EPIPE, exit 1, objects removed
    lab::StopSignals stop;

    // 1. Create.
    ServerFile exchange(lab::object_path(sysv_topic, name, exchange_extension), "");
    ServerFile counter(lab::object_path(sysv_topic, name, counter_extension), "0\n");
    SemaphoreSet set(lab::object_path(sysv_topic, name, key_extension));

    // 2. Initialise: values start at 0 and sem_otime at 0; this first semop
    // opens the mutex and sets sem_otime. (SETALL would not set sem_otime,
    // and run after a client's semop it would wipe that semop out.)
    std::array<sembuf, 1> open_mutex{{{mutex, +1, 0}}};
    semop_now(set.id(), open_mutex, "semop initialise mutex");
    lab::print_ready(
        {{"path", exchange.path()}, {"key", set.key_text()}, {"semid", std::to_string(set.id())}});

    // 3. Exchange.
    serve(set.id(), exchange, stop);
    // 4. Remove: ~SemaphoreSet (IPC_RMID), ~ServerFile, ~InstanceLock.
    return lab::exit_ok;
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
