// owned_path.hpp - a file this process made: unlinked when its owner goes.
//
// Take ownership the moment the file exists, before anything else can fail:
// a constructor that throws runs no destructor of its own class, only those
// of the members already built. So a server that open()s NAME.count, then
// fails to write it (ENOSPC on a full runtime dir), would leave a half-made
// file behind unless an OwnedPath member already holds the path.
//
//   lab::Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL ..., 0600));
//   if (!fd) throw ...;
//   lab::OwnedPath owned(path); // from here on, every way out unlinks it
//   write_all(fd.get(), ...);   // may throw: the file goes with `owned`
//
// Never give it a path this process did not create: it removes whatever is
// there under that name when it goes. release() hands the path on (to a
// rename(), to whoever removes it later) without unlinking.
//
// Where another process may lawfully make a file under the same name while
// we live (03-fifo: server "a.123" and client 123 of server "a" both use
// a.123.fifo), take it with lab::same_file_only: it remembers which file
// the path names now (device and inode) and, when it goes, unlinks the path
// only if it still names that file.
#pragma once

#include "errors.hpp"

#include <cerrno>
#include <string>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <utility>

namespace lab {

struct SameFileOnly {};
inline constexpr SameFileOnly same_file_only{};

class OwnedPath {
  public:
    OwnedPath() = default;
    explicit OwnedPath(std::string path) : path_(std::move(path)) {}
    // lstat()s the path now; if it cannot, unlinks it and throws.
    OwnedPath(std::string path, SameFileOnly /*tag*/)
        : path_(std::move(path)), same_file_only_(true) {
        struct stat st {};
        if (::lstat(path_.c_str(), &st) < 0) {
            int error = errno;
            ::unlink(path_.c_str());
            throw sys_error(error, "lstat " + path_);
        }
        device_ = st.st_dev;
        inode_ = st.st_ino;
    }
    OwnedPath(OwnedPath&& other) noexcept
        : path_(other.release()), same_file_only_(other.same_file_only_), device_(other.device_),
          inode_(other.inode_) {}
    OwnedPath& operator=(OwnedPath&& other) noexcept {
        if (this != &other) {
            reset();
            same_file_only_ = other.same_file_only_;
            device_ = other.device_;
            inode_ = other.inode_;
            path_ = other.release();
        }
        return *this;
    }
    OwnedPath(const OwnedPath&) = delete;
    OwnedPath& operator=(const OwnedPath&) = delete;
    ~OwnedPath() { reset(); }

    const std::string& path() const { return path_; }
    explicit operator bool() const { return !path_.empty(); }

    // Gives up ownership without unlinking: the path stays.
    std::string release() { return std::exchange(path_, {}); }

    // Unlinks what it holds (if anything) and takes `path`.
    void reset(std::string path = {}) {
        if (!path_.empty() && still_ours()) {
            ::unlink(path_.c_str()); // on the way out: nothing to report an error to
        }
        path_ = std::move(path);
        same_file_only_ = false;
    }

  private:
    bool still_ours() const {
        if (!same_file_only_) {
            return true;
        }
        struct stat st {};
        return ::lstat(path_.c_str(), &st) == 0 && st.st_dev == device_ && st.st_ino == inode_;
    }

    std::string path_;
    bool same_file_only_ = false;
    dev_t device_ = 0;
    ino_t inode_ = 0;
};

} // namespace lab
