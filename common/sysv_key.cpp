// sysv_key.cpp - NAME.key and the takeover: see sysv_key.hpp.
#include "sysv_key.hpp"

#include "contract.hpp"
#include "errors.hpp"
#include "io.hpp"
#include "messages.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fcntl.h>
#include <optional>
#include <span>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lab {

namespace {

// ftok() keeps only the low 16 bits of the inode: two key files can give the
// same key. How many fresh inodes renew() tries before giving up.
constexpr int key_attempts = 8;

constexpr std::size_t label_bytes = 6;   // "semid=" ...
constexpr std::size_t id_width = 10;     // ... INT_MAX has 10 digits ...
constexpr std::size_t record_bytes = 17; // ... and "\n"
static_assert(record_bytes == label_bytes + id_width + 1);

// A blank record (id < 0) or one with the id right-aligned in it.
std::string format_record(SysvKind kind, int id) {
    std::string digits = id < 0 ? "" : std::to_string(id);
    return std::string(sysv_label(kind)) + "=" + std::string(id_width - digits.size(), ' ') +
           digits + "\n";
}

// The id in one record line ("semid=    7"), if it is a whole one.
std::optional<int> parse_id(std::string_view digits_text) {
    std::string digits(digits_text);
    char* end = nullptr;
    long id = std::strtol(digits.c_str(), &end, 10); // skips the padding; all blank: no id
    if (end == digits.c_str() || *end != '\0' || id < 0 || id > INT_MAX) {
        return std::nullopt;
    }
    return static_cast<int>(id);
}

// semctl()'s fourth argument: the caller must define it (see semctl(2));
// IPC_STAT is the only use here.
union SemctlArg {
    semid_ds* buf;
};

// IPC_STAT: the object's permissions (its key and creator), or nothing
// when it is gone (EINVAL, EIDRM) or not readable by us (EACCES: not ours).
std::optional<ipc_perm> stat_object(SysvKind kind, int id) {
    int status = -1;
    ipc_perm perm{};
    switch (kind) {
    case SysvKind::semaphore_set: {
        semid_ds info{};
        SemctlArg arg{};
        arg.buf = &info;
        status = ::semctl(id, 0, IPC_STAT, arg);
        perm = info.sem_perm;
        break;
    }
    case SysvKind::message_queue: {
        msqid_ds info{};
        status = ::msgctl(id, IPC_STAT, &info);
        perm = info.msg_perm;
        break;
    }
    case SysvKind::shared_memory: {
        shmid_ds info{};
        status = ::shmctl(id, IPC_STAT, &info);
        perm = info.shm_perm;
        break;
    }
    }
    if (status < 0) {
        if (errno == EINVAL || errno == EIDRM || errno == EACCES) {
            return std::nullopt;
        }
        throw sys_error("IPC_STAT leftover " + std::string(sysv_label(kind)) + " " +
                        std::to_string(id));
    }
    return perm;
}

// IPC_RMID. False when it went meanwhile (EINVAL, EIDRM).
bool remove_object(SysvKind kind, int id) {
    int status = -1;
    switch (kind) {
    case SysvKind::semaphore_set:
        status = ::semctl(id, 0, IPC_RMID);
        break;
    case SysvKind::message_queue:
        status = ::msgctl(id, IPC_RMID, nullptr);
        break;
    case SysvKind::shared_memory:
        status = ::shmctl(id, IPC_RMID, nullptr);
        break;
    }
    if (status < 0) {
        if (errno == EINVAL || errno == EIDRM) {
            return false;
        }
        throw sys_error("IPC_RMID leftover " + std::string(sysv_label(kind)) + " " +
                        std::to_string(id));
    }
    return true;
}

} // namespace

std::string_view sysv_label(SysvKind kind) {
    switch (kind) {
    case SysvKind::semaphore_set:
        return "semid";
    case SysvKind::message_queue:
        return "msqid";
    case SysvKind::shared_memory:
        return "shmid";
    }
    return "id";
}

SysvKeyFile::SysvKeyFile(std::string path, int project_id, std::initializer_list<SysvKind> kinds)
    : path_(std::move(path)), project_id_(project_id), kinds_(kinds) {
    take_over();
    create();
}

void SysvKeyFile::take_over() {
    // O_NONBLOCK: a FIFO planted here must not stall us (a file ignores it).
    Fd old_file(::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
    if (!old_file) {
        if (errno == ENOENT) {
            return; // no server of this NAME was killed here
        }
        throw sys_error("open leftover " + path_);
    }
    // One record more than ours is room enough: a longer file is not ours.
    std::array<char, record_bytes * 4> text{};
    std::size_t got = read_full(old_file.get(), text, ("read leftover " + path_).c_str());
    // The key those objects were made under: ftok() of this very inode.
    key_t key = ::ftok(path_.c_str(), project_id_);
    if (key == -1) {
        throw sys_error("ftok leftover " + path_);
    }
    std::string_view rest(text.data(), got);
    while (!rest.empty()) {
        std::size_t end = rest.find('\n');
        if (end == std::string_view::npos) {
            break; // a cut record: no id to trust
        }
        std::string_view line = rest.substr(0, end);
        rest.remove_prefix(end + 1);
        for (SysvKind kind : kinds_) {
            std::string_view label = sysv_label(kind);
            if (line.size() <= label.size() || line.substr(0, label.size()) != label ||
                line[label.size()] != '=') {
                continue;
            }
            std::optional<int> id = parse_id(line.substr(label.size() + 1));
            if (!id) {
                break; // blank: the server was killed before that get()
            }
            std::optional<ipc_perm> perm = stat_object(kind, *id);
            if (perm && perm->__key == key && perm->cuid == ::geteuid() &&
                remove_object(kind, *id)) {
                took_over_.push_back({kind, *id});
            }
            break;
        }
    }
    if (::unlink(path_.c_str()) < 0 && errno != ENOENT) {
        throw sys_error("unlink leftover " + path_);
    }
}

void SysvKeyFile::create() {
    fd_.reset(
        ::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, owner_only));
    if (!fd_) {
        throw sys_error("create " + path_);
    }
    owned_.reset(path_);                       // ours from here: every way out removes it
    if (::fchmod(fd_.get(), owner_only) < 0) { // the umask may have cut the mode
        throw sys_error("fchmod " + path_);
    }
    std::string blank;
    for (SysvKind kind : kinds_) {
        blank += format_record(kind, -1);
    }
    write_all(fd_.get(), blank, ("write " + path_).c_str());
}

void SysvKeyFile::record(SysvKind kind, int id) {
    auto slot = std::find(kinds_.begin(), kinds_.end(), kind);
    if (slot == kinds_.end()) {
        throw Failure("record " + std::string(sysv_label(kind)) + ": no such record in " + path_);
    }
    std::string text = format_record(kind, id);
    off_t offset = static_cast<off_t>(slot - kinds_.begin()) * static_cast<off_t>(record_bytes);
    ssize_t written = ::pwrite(fd_.get(), text.data(), text.size(), offset);
    if (written < 0) {
        throw sys_error("write " + path_);
    }
    if (static_cast<std::size_t>(written) != text.size()) { // a regular file takes it whole
        throw Failure("write " + path_ + ": short write");
    }
    collided_.clear();
}

void SysvKeyFile::renew() {
    if (++renewals_ >= key_attempts) { // counted over the whole start, records or not
        throw Failure("no free System V key for " + path_ + " after " +
                      std::to_string(key_attempts) +
                      " tries (other programs' objects under each: ipcs)");
    }
    collided_.push_back(std::move(fd_));
    owned_.reset(); // unlinks it
    create();
}

void SysvKeyFile::print_took_over() const {
    for (const SysvLeftover& leftover : took_over_) {
        print_line("took over: removed " + std::string(sysv_label(leftover.kind)) + " " +
                   std::to_string(leftover.id) + " left by a killed server");
    }
}

} // namespace lab
