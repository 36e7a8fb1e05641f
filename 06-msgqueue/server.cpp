// 06-msgqueue/server.cpp - a System V message queue: one queue, replies
// told apart by their mtype.
//
//   server [--name NAME]
//
// 1. Create: the key file NAME.key (ftok() needs a file that exists), the
//    key from ftok(), the queue from msgget(key, IPC_CREAT | IPC_EXCL | 0600).
//    A killed server's queue, named in its key file, is removed first.
// 2. Attach: nothing to map or open: every call names the queue by its id.
// 3. Exchange: msgrcv(mtype 1) takes the next request, whoever sent it;
//    the reply goes back with msgsnd(mtype = the client's pid, IPC_NOWAIT)
//    through the Outbox (outbox.hpp), which never lets a full queue block us.
// 4. Detach: nothing.
// 5. Remove: msgctl(IPC_RMID), then the key file; on SIGINT/SIGTERM too,
//    through the same destructors as a normal return.
#include "outbox.hpp"
#include "protocol.hpp"

#include <fcntl.h>
#include <optional>
#include <sys/ipc.h>
#include <sys/stat.h>
#include <utility>
#include <vector>

namespace {

using namespace msgqueue;

// ftok() keeps only the low 16 bits of the inode: two key files can give the
// same key. How many fresh inodes to try before giving up.
constexpr int key_attempts = 8;

// A queue this server made: msgctl(IPC_RMID) when it goes. Removal is at
// once, even for clients blocked in msgrcv on it: they get EIDRM.
class OwnedQueue {
  public:
    explicit OwnedQueue(int msqid) : msqid_(msqid) {}
    OwnedQueue(OwnedQueue&& other) noexcept : msqid_(std::exchange(other.msqid_, -1)) {}
    OwnedQueue& operator=(OwnedQueue&&) = delete;
    ~OwnedQueue() {
        if (msqid_ >= 0) {
            ::msgctl(msqid_, IPC_RMID, nullptr);
        }
    }
    int id() const { return msqid_; }

  private:
    int msqid_;
};

struct Queue {
    lab::OwnedPath key_file; // declared first, so removed after the queue
    key_t key;
    OwnedQueue queue;
};

// Takeover: a killed server left NAME.key, holding the id of its queue, and
// the queue. We hold the instance lock, so no live server of this NAME uses
// them; but the queue is removed only if it still has the key that file
// gives and the id written in it. Otherwise (an ftok collision, an id used
// again) the queue is somebody else's and stays. Returns the removed id.
std::optional<int> remove_leftover(const std::string& key_path) {
    lab::Fd file(::open(key_path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!file) {
        if (errno == ENOENT) {
            return std::nullopt;
        }
        throw lab::sys_error("open leftover " + key_path);
    }
    char text[32] = {};
    lab::read_some(file.get(), std::span<char>(text, sizeof text - 1), "read leftover key file");
    char* end = nullptr;
    long recorded_id = std::strtol(text, &end, 10); // blank or "": no id
    bool has_id = end != text && *end == '\n';
    key_t key = ::ftok(key_path.c_str(), key_project_id);
    msqid_ds info{};
    std::optional<int> removed;
    if (key != -1 && has_id && ::msgctl(static_cast<int>(recorded_id), IPC_STAT, &info) == 0 &&
        info.msg_perm.__key == key && info.msg_perm.cuid == ::geteuid()) {
        if (::msgctl(static_cast<int>(recorded_id), IPC_RMID, nullptr) < 0) {
            throw lab::sys_error("msgctl IPC_RMID leftover msqid " + std::to_string(recorded_id));
        }
        removed = static_cast<int>(recorded_id);
    }
    if (::unlink(key_path.c_str()) < 0 && errno != ENOENT) {
        throw lab::sys_error("unlink leftover " + key_path);
    }
    return removed;
}

// The key file's record: the msqid, right-aligned in a fixed width, then a
// newline. Written blank before msgget(), so that a full file system fails
// us while there is no queue to lose; the msqid then overwrites it in place,
// in bytes the file already has. (strtol skips the padding; all blank reads
// as no id.)
constexpr int msqid_width = 10; // INT_MAX has 10 digits
std::string key_file_record(int msqid) {
    std::string digits = msqid < 0 ? "" : std::to_string(msqid);
    return std::string(static_cast<std::size_t>(msqid_width) - digits.size(), ' ') + digits + "\n";
}

Queue create_queue(const std::string& key_path) {
    std::vector<lab::Fd> collided; // kept open, so that their inodes are not handed out again
    for (int attempt = 0; attempt < key_attempts; ++attempt) {
        lab::Fd fd(::open(key_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                          owner_only));
        if (!fd) {
            throw lab::sys_error("create " + key_path);
        }
        lab::OwnedPath key_file(key_path);        // ours from here: every way out removes it
        if (::fchmod(fd.get(), owner_only) < 0) { // the umask may have cut the mode
            throw lab::sys_error("fchmod " + key_path);
        }
        const std::string blank = key_file_record(-1);
        lab::write_all(fd.get(), blank, ("write " + key_path).c_str());
        key_t key = ::ftok(key_path.c_str(), key_project_id);
        if (key == -1) {
            throw lab::sys_error("ftok " + key_path);
        }
        // IPC_EXCL: never adopt a queue that is already there under this key.
        int msqid = ::msgget(key, IPC_CREAT | IPC_EXCL | owner_only);
        if (msqid >= 0) {
            // Owned at once: nothing after this may leave the queue behind.
            OwnedQueue queue(msqid);
            // The id in the key file is what lets a later server take over safely.
            if (::lseek(fd.get(), 0, SEEK_SET) < 0) {
                throw lab::sys_error("lseek " + key_path);
            }
            lab::write_all(fd.get(), key_file_record(msqid), ("write " + key_path).c_str());
            return {std::move(key_file), key, std::move(queue)};
        }
        if (errno != EEXIST) {
            throw lab::sys_error("msgget " + key_hex(key));
        }
        // Someone else's queue has this key (an ftok collision): leave it
        // alone; this key file goes, and the next one gets another inode.
        collided.push_back(std::move(fd));
    }
    throw lab::Failure("no free System V key for " + key_path + " after " +
                       std::to_string(key_attempts) + " tries (ipcs -q: stale queues?)");
}

int run(int argc, char** argv) {
    std::string name = parse_server_options(
        argc, argv,
        "Serves clients through one System V message queue until SIGINT or\n"
        "SIGTERM: requests are mtype 1, each reply's mtype is its client's pid.");
    lab::InstanceLock instance(sysv_topic, name); // first: "already running", safe takeover
    lab::StopSignals stop(lab::keeping, {SIGALRM});
    lab::ignore_sigpipe(); // a closed stdout must fail a write, not kill us before cleanup

    std::string key_path = lab::object_path(sysv_topic, name, "key");
    std::optional<int> taken_over = remove_leftover(key_path);
    Queue made = create_queue(key_path);
    int msqid = made.queue.id();
    Ticker ticker(lab::stop_check_interval_ms);

    lab::print_ready(
        {{"path", key_path}, {"key", key_hex(made.key)}, {"msqid", std::to_string(msqid)}});
    if (taken_over) {
        lab::print_line("took over: removed msqid " + std::to_string(*taken_over) +
                        " left by a killed server");
    }

    Outbox outbox(msqid);
    lab::Deadline next_housekeeping(0);
    while (!stop.requested()) {
        if (next_housekeeping.expired()) {
            outbox.forget_vanished_clients();
            outbox.clear_if_clogged();
            next_housekeeping = lab::Deadline(lab::stop_check_interval_ms / 1000.0);
        }
        outbox.flush();

        Request request;
        std::memset(&request, 0, sizeof request);
        // MSG_NOERROR: a longer request is cut, not left stuck at the head of the queue.
        ssize_t got = ::msgrcv(msqid, &request, request_max_body_bytes, request_type, MSG_NOERROR);
        if (got < 0) {
            if (errno == EINTR) {
                continue; // a tick or a stop signal
            }
            if (errno == EIDRM || errno == EINVAL) {
                throw lab::Failure("queue msqid " + std::to_string(msqid) +
                                   " was removed under us (ipcrm?)");
            }
            throw lab::sys_error("msgrcv");
        }
        // The body starts at client_pid: view the struct's bytes from there.
        const char* body = reinterpret_cast<const char*>(&request) + offsetof(Request, client_pid);
        auto parsed = parse_request({body, static_cast<std::size_t>(got)});
        if (!parsed) {
            continue;
        }
        if (parsed->client_pid == request_type) { // replies to pid 1 would look like requests
            lab::log_ignored("request with pid 1");
            continue;
        }
        lab::log_received(parsed->message);
        outbox.add(parsed->client_pid, lab::to_upper(parsed->message));
    }
    return lab::exit_ok;
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
