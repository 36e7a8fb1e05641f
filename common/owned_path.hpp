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
#pragma once

#include <string>
#include <unistd.h>
#include <utility>

namespace lab {

class OwnedPath {
  public:
    OwnedPath() = default;
    explicit OwnedPath(std::string path) : path_(std::move(path)) {}
    OwnedPath(OwnedPath&& other) noexcept : path_(other.release()) {}
    OwnedPath& operator=(OwnedPath&& other) noexcept {
        reset(other.release());
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
        if (!path_.empty()) {
            ::unlink(path_.c_str()); // on the way out: nothing to report an error to
        }
        path_ = std::move(path);
    }

  private:
    std::string path_;
};

} // namespace lab
