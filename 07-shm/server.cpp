// 07-shm/server.cpp - System V shared memory: the message lives in a
// segment, a semaphore set (mutex, request, reply) says when.
//
//   server [--name NAME]
//
// 1. Key: the instance lock first (one live server per NAME), then the key
//    file RUNTIME/shm/NAME.key and ftok() of it.
// 2. Take over (takeover.cpp): a segment or semaphore set that a killed
//    server left under the key is removed (IPC_RMID) - unless a live process
//    owns it, which means another program's key collided with ours (ftok is
//    not unique).
// 3. Create and attach: shmget(IPC_CREAT|IPC_EXCL, 0600), shmat(); then
//    semget(IPC_CREAT|IPC_EXCL, 0600) and SETALL to 0.
// 4. Open for clients: semop() +1 on the mutex. That first semop() also sets
//    sem_otime, the mark a client waits for before trusting the values
//    (a new set's values are not defined until SETALL).
// 5. Exchange: semtimedop() -1 on request; copy the request out of the
//    segment, log it, write the reply into it, semop() +1 on reply. A post
//    with no new request behind it is stale: take out any others at once
//    (one semop() of -N), log them once.
// 6. Detach and remove on SIGINT/SIGTERM: IPC_RMID the set (a client still
//    waiting on it wakes with EIDRM), shmdt(), IPC_RMID the segment, unlink
//    the key file - the destructors below, in reverse order of creation.
#include "protocol.hpp"
#include "takeover.hpp"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <memory>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>

namespace {

using namespace shm_lab;

// RUNTIME/shm/NAME.key: the file whose inode ftok() turns into our key.
class KeyFile {
  public:
    explicit KeyFile(std::string path) : path_(std::move(path)) {
        // No O_EXCL here, on purpose: a killed server's key file must keep its
        // inode, or the key changes and its leftovers are never found again.
        // O_NOFOLLOW and the 0700 directory keep anyone else's file out.
        lab::Fd fd(::open(path_.c_str(), O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, owner_only));
        struct stat st {};
        if (!fd || ::fstat(fd.get(), &st) < 0) {
            throw lab::sys_error("open " + path_);
        }
        if (!S_ISREG(st.st_mode)) {
            throw lab::Failure("key file " + path_ + ": not a regular file");
        }
        if (::fchmod(fd.get(), owner_only) < 0) { // open's mode is cut by the umask
            throw lab::sys_error("chmod " + path_);
        }
        key_ = ::ftok(path_.c_str(), key_project_id);
        if (key_ == -1) {
            throw lab::sys_error("ftok " + path_);
        }
    }
    ~KeyFile() { ::unlink(path_.c_str()); }
    KeyFile(const KeyFile&) = delete;
    KeyFile& operator=(const KeyFile&) = delete;

    const std::string& path() const { return path_; }
    key_t key() const { return key_; }

  private:
    std::string path_;
    key_t key_ = -1;
};

// A segment this server made; IPC_RMID when it goes. The kernel frees the
// memory once the last process has detached.
class Segment {
  public:
    Segment(key_t key, std::size_t bytes)
        : id_(::shmget(key, bytes, IPC_CREAT | IPC_EXCL | owner_only)) {
        if (id_ < 0) {
            throw lab::sys_error("shmget " + key_hex(key));
        }
    }
    ~Segment() { ::shmctl(id_, IPC_RMID, nullptr); }
    Segment(const Segment&) = delete;
    Segment& operator=(const Segment&) = delete;
    int id() const { return id_; }

  private:
    int id_;
};

// A semaphore set this server made; IPC_RMID (immediate) when it goes.
class SemaphoreSet {
  public:
    explicit SemaphoreSet(key_t key)
        : id_(::semget(key, semaphore_count, IPC_CREAT | IPC_EXCL | owner_only)) {
        if (id_ < 0) {
            throw lab::sys_error("semget " + key_hex(key));
        }
    }
    ~SemaphoreSet() { ::semctl(id_, 0, IPC_RMID); }
    SemaphoreSet(const SemaphoreSet&) = delete;
    SemaphoreSet& operator=(const SemaphoreSet&) = delete;
    int id() const { return id_; }

  private:
    int id_;
};

// Takes out every post counted on `request` now and returns how many: one
// semop() of -N with IPC_NOWAIT, as System V can take N at once. Nobody
// but the server takes from `request`, so the N counted are still there.
// Anyone of our uid can set the count (semctl SETVAL, up to SEMVMX):
// without this, the server would turn and log once per post.
int drain_stale_posts(int semid) {
    int counted = ::semctl(semid, request, GETVAL);
    if (counted < 0) {
        throw lab::sys_error("semctl GETVAL " + std::to_string(semid));
    }
    if (counted > 0) {
        sembuf take{request, static_cast<short>(-counted), IPC_NOWAIT};
        if (::semop(semid, &take, 1) < 0) {
            throw lab::sys_error("drain stale posts (semop)");
        }
    }
    return counted;
}

void answer(int semid, Exchange& exchange, const Request& incoming) {
    lab::log_received(incoming.message);
    write_reply(exchange, incoming);
    semaphore_post(semid, reply, 0, "post reply");
}

int run(int argc, char** argv) {
    std::string name;
    lab::Options options("[--name NAME]",
                         "Serves clients through a System V shared memory segment and a\n"
                         "semaphore set (mutex, request, reply) until SIGINT or SIGTERM.");
    options.add_name(name);
    if (auto operands = options.parse(argc, argv); !operands.empty()) {
        throw lab::UsageError("unexpected argument '" + operands.front() + "'");
    }

    // 1. One live server per NAME; then the key.
    lab::InstanceLock instance(sysv_topic, name);
    lab::ignore_sigpipe(); // a log reader that goes away: EPIPE, exit 1, objects removed
    lab::StopSignals stop;
    KeyFile key_file(lab::object_path(sysv_topic, name, "key"));
    const key_t key = key_file.key();

    // 2. Take over what a killed server left.
    remove_leftovers(key);

    // 3. Create and attach. A new segment is zero-filled by the kernel.
    Segment segment(key, sizeof(SysvSegment));
    Attachment attachment(segment.id());
    SysvSegment& shared = *std::construct_at(static_cast<SysvSegment*>(attachment.address()));
    Exchange& exchange = shared.exchange;
    SemaphoreSet semaphores(key);
    shared.semid.store(semaphores.id());
    unsigned short initial[semaphore_count] = {0, 0, 0};
    semun values{};
    values.array = initial;
    if (::semctl(semaphores.id(), 0, SETALL, values) < 0) {
        throw lab::sys_error("semctl SETALL " + std::to_string(semaphores.id()));
    }

    // 4. Open the mutex: from here on clients may come.
    semaphore_post(semaphores.id(), mutex, 0, "open the mutex");
    lab::print_ready({{"key", key_hex(key)},
                      {"shmid", std::to_string(segment.id())},
                      {"semid", std::to_string(semaphores.id())},
                      {"path", key_file.path()}});

    // 5. Serve. The wait wakes every tick to look at the stop flag: a signal
    // that lands just before semtimedop() would otherwise go unnoticed.
    const timespec tick{0, lab::stop_check_interval_ms * 1'000'000L};
    std::uint64_t last_answered = 0;
    while (!stop.requested()) {
        if (semaphore_op(semaphores.id(), request, -1, 0, &tick, "wait for request") !=
            Waited::done) {
            continue;
        }
        Request incoming = read_request(exchange, last_answered);
        if (!incoming.ignored.empty()) {
            // No reply: nobody waits for one. Other posts counted now are
            // stale too: take them all out and log them in this one line.
            int more = drain_stale_posts(semaphores.id());
            lab::log_ignored(
                incoming.ignored +
                (more == 0 ? "" : "; " + std::to_string(more) + " more stale posts taken out"));
            // A client that wrote its request and posted during the drain
            // lost its post with the rest: look at the segment once more.
            incoming = read_request(exchange, last_answered);
            if (!incoming.ignored.empty()) {
                continue;
            }
        }
        answer(semaphores.id(), exchange, incoming);
        last_answered = incoming.sequence;
    }
    // 6. The destructors remove the set, detach, remove the segment and the
    // key file, and drop the instance lock.
    return lab::exit_ok;
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
