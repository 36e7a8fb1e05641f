#include "instance.hpp"

#include "errors.hpp"
#include "io.hpp"
#include "runtime_dir.hpp"

#include <array>
#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>

namespace lab {

namespace {
constexpr mode_t owner_only = 0600;

std::string holder_pid(int fd) {
    std::array<char, 32> buffer{};
    std::size_t got = 0;
    if (::lseek(fd, 0, SEEK_SET) == 0) {
        got = read_some(fd, std::span<char>(buffer.data(), buffer.size() - 1), "read lock file");
    }
    std::string pid(buffer.data(), got);
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) {
        pid.pop_back();
    }
    return pid.empty() ? "unknown" : pid;
}

// A write lock over the whole file, for F_OFD_SETLK and F_OFD_GETLK
// (l_pid must be 0 for open file description locks).
struct flock whole_file_write_lock() {
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = 0;
    lock.l_len = 0; // to the end of the file, however long
    return lock;
}

bool same_file(int fd, const std::string& path) {
    struct stat by_fd {};
    struct stat by_path {};
    if (::fstat(fd, &by_fd) < 0) {
        throw sys_error("fstat " + path);
    }
    return ::stat(path.c_str(), &by_path) == 0 && by_fd.st_dev == by_path.st_dev &&
           by_fd.st_ino == by_path.st_ino;
}
} // namespace

InstanceLock::InstanceLock(std::string_view topic, std::string_view name)
    : path_(object_path(topic, name, "lock")) {
    for (;;) {
        fd_.reset(::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, owner_only));
        if (!fd_) {
            throw sys_error("open " + path_);
        }
        struct flock lock = whole_file_write_lock();
        if (::fcntl(fd_.get(), F_OFD_SETLK, &lock) < 0) {
            if (errno == EAGAIN || errno == EACCES) {
                throw Failure(std::string(name) + " already running (pid " + holder_pid(fd_.get()) +
                              ")");
            }
            throw sys_error("fcntl F_OFD_SETLK " + path_);
        }
        // A server exiting right now unlinks the file after we opened it:
        // then our lock is on a file nobody else will find. Start again.
        if (same_file(fd_.get(), path_)) {
            break;
        }
    }
    // The file is ours now, whoever created it: any failure from here on
    // unlinks it, so a full file system leaves no empty NAME.lock behind.
    owned_.reset(path_);
    // A leftover file keeps its old mode through O_CREAT: say what we mean.
    if (::fchmod(fd_.get(), owner_only) < 0) {
        throw sys_error("fchmod " + path_);
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_.get(), 0) < 0) {
        throw sys_error("ftruncate " + path_);
    }
    if (::pwrite(fd_.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
        throw sys_error("write " + path_);
    }
}

bool server_running(std::string_view topic, std::string_view name) {
    std::string path = object_path(topic, name, "lock");
    // Servers ask this about names that come from requests (03-fifo), so
    // whatever sits at the path must not stall or stop the caller: O_NONBLOCK,
    // or open() of a FIFO planted there waits for a writer, for ever; and
    // O_NOFOLLOW, as InstanceLock opens it. A server's lock is a regular file
    // it opened without following links: a symlink (ELOOP), a FIFO, a
    // directory is no live server's lock.
    Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
        if (errno == ENOENT || errno == ELOOP) {
            return false;
        }
        throw sys_error("open " + path);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) {
        throw sys_error("fstat " + path);
    }
    if (!S_ISREG(st.st_mode)) {
        return false;
    }
    // Ask, without taking it: would a write lock conflict with one held?
    struct flock lock = whole_file_write_lock();
    if (::fcntl(fd.get(), F_OFD_GETLK, &lock) < 0) {
        throw sys_error("fcntl F_OFD_GETLK " + path);
    }
    return lock.l_type != F_UNLCK; // F_UNLCK: nobody holds it (a killed server's leftover)
}

} // namespace lab
