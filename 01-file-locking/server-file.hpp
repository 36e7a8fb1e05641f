// server-file.hpp - a part of the server (server.cpp): ServerFile, one of the
// files it makes, NAME.txt or NAME.count.
#pragma once

#include "protocol.hpp"

#include <cerrno>
#include <sys/stat.h>

namespace file_locking_lab {

// One of the server's files: made under a temporary name, given its own
// name by publish(), and unlinked when the server goes (the server that
// made an object removes it). Its descriptor is the only one the server
// ever opens on the file: closing ANY descriptor of a file drops all of the
// process's fcntl locks on it.
class ServerFile {
  public:
    explicit ServerFile(std::string path)
        : path_(std::move(path)), temporary_path_(path_ + ".new") {
        // A killed server's files, the half-made one included: stale text
        // must not be served while we build the new one.
        remove_leftover(path_);
        remove_leftover(temporary_path_);
        // O_EXCL|O_NOFOLLOW: never open something planted under our name.
        fd_.reset(::open(temporary_path_.c_str(),
                         O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, lab::owner_only));
        if (!fd_) {
            throw lab::sys_error("open " + temporary_path_);
        }
        owned_.reset(temporary_path_); // from here on, every way out unlinks it
        // The umask may have taken bits away: say exactly what we mean.
        if (::fchmod(fd_.get(), lab::owner_only) < 0) {
            throw lab::sys_error("fchmod " + temporary_path_);
        }
    }
    ServerFile(const ServerFile&) = delete;
    ServerFile& operator=(const ServerFile&) = delete;

    int fd() const { return fd_.get(); }
    const std::string& path() const { return path_; }

    // rename() is atomic: a client finds no file, or one already locked or
    // filled. (It renames our open descriptor too: /proc/PID/fd and lslocks
    // show NAME.txt.)
    void publish() {
        if (::rename(temporary_path_.c_str(), path_.c_str()) < 0) {
            throw lab::sys_error("rename " + temporary_path_ + " to " + path_);
        }
        owned_.release();    // the temporary name is gone:
        owned_.reset(path_); // the file is removed under its own name
    }

  private:
    static void remove_leftover(const std::string& path) {
        if (::unlink(path.c_str()) < 0 && errno != ENOENT) {
            throw lab::sys_error("unlink " + path);
        }
    }

    std::string path_;
    std::string temporary_path_;
    lab::Fd fd_;
    // After fd_: unlinked before the descriptor closes (and its locks go),
    // so the name never shows an unlocked file.
    lab::OwnedPath owned_;
};

} // namespace file_locking_lab
