// instance.hpp - at most one live server per TOPIC and NAME.
//
// A server holds a write lock on RUNTIME/TOPIC/NAME.lock for its whole life.
// The kernel drops the lock when the process dies, however it dies, so "is a
// server alive?" never depends on a pid that may have been reused or on
// objects a killed server left behind:
//   - lock taken: no live server; objects of that name are leftovers, the
//     new server removes and recreates them (takeover);
//   - lock busy: a live server; refuse with "already running".
// Clients use server_running() to say "not running" at once. It only asks
// (F_OFD_GETLK) and never takes the lock, so a client checking can never
// make a starting server think another one is alive.
//
// The lock is an open file description lock (fcntl F_OFD_SETLK): it belongs
// to the open file, not to the process, so it cannot be dropped by closing
// some other descriptor of the same file (01-file-locking shows that trap of
// classic fcntl locks). /proc/locks lists it as OFDLCK with pid -1.
#pragma once

#include "fd.hpp"
#include "owned_path.hpp"

#include <string>
#include <string_view>

namespace lab {

class InstanceLock {
  public:
    // Throws lab::Failure "NAME already running (pid P)" if a live server holds it.
    InstanceLock(std::string_view topic, std::string_view name);
    ~InstanceLock() = default; // removes the lock file, then releases the lock
    InstanceLock(const InstanceLock&) = delete;
    InstanceLock& operator=(const InstanceLock&) = delete;

    const std::string& path() const { return path_; }

  private:
    std::string path_;
    Fd fd_;
    // Set once the lock is ours, so that a failure after it (writing our pid
    // on a full file system) removes the file as ~InstanceLock would. Declared
    // after fd_: the file is unlinked before the lock goes with fd_.
    OwnedPath owned_;
};

// True while a live server of TOPIC and NAME holds its instance lock. Never
// blocks and never follows a link: anything but a regular file at NAME.lock
// (a FIFO, a symlink someone put there) is no server's lock, so false.
bool server_running(std::string_view topic, std::string_view name);

} // namespace lab
