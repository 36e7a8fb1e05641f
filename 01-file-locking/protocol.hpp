// protocol.hpp - what the 01-file-locking programs agree on.
//
// The "protocol" here is two files and the locks on them:
//   RUNTIME/file-locking/NAME.txt    the shared document: the server writes it
//                                    under a write lock, clients read it under
//                                    a read lock;
//   RUNTIME/file-locking/NAME.count  a counter, one decimal number and a
//                                    newline, that clients bump under a write
//                                    lock.
// Every lock covers the whole file (l_start 0, l_len 0), so the two sides
// never disagree about which bytes a lock protects.
#pragma once

#include "lab.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace file_locking_lab {

inline constexpr std::string_view topic = "file-locking";
inline constexpr std::string_view document_extension = "txt";
inline constexpr std::string_view counter_extension = "count";

inline constexpr double default_hold_seconds = 2.0;
inline constexpr const char* default_server_message = "hello from server";
inline constexpr int exit_locked = 3; // client --try: the lock was busy

// A request for a lock of `type` (F_RDLCK, F_WRLCK, F_UNLCK) over the whole
// file. l_len 0 means "to the end of the file, however far it grows": a
// length taken from st_size would leave bytes appended later unprotected.
inline struct flock whole_file(short type) {
    struct flock lock {};
    lock.l_type = type;
    lock.l_whence = SEEK_SET;
    lock.l_start = 0;
    lock.l_len = 0;
    return lock;
}

// F_SETLK on a range someone else holds fails with EAGAIN on Linux, but
// POSIX allows EACCES too: portable code checks both.
inline bool lock_is_busy(int error_number) {
    return error_number == EAGAIN || error_number == EACCES;
}

// The counter file's contents: "42\n".
inline std::string counter_text(long value) {
    return std::to_string(value) + "\n";
}

// --hold SECONDS, as the server and both demos take it (decimals, 0 allowed).
inline void add_hold_option(lab::Options& options, double& seconds, const std::string& help) {
    options.value("--hold", "SECONDS", help, [&seconds](const std::string& text) {
        seconds = lab::parse_seconds("--hold", text);
    });
}

// The demos' FILE operand: exactly one, else a usage error.
inline std::string the_file_operand(const std::vector<std::string>& operands) {
    if (operands.size() != 1) {
        throw lab::UsageError("want exactly one FILE (try --help)");
    }
    return operands.front();
}

// The demos' FILE, opened read-write (write locks need it) and made 0600 if missing.
inline lab::Fd open_demo_file(const std::string& path) {
    lab::Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, lab::owner_only));
    if (!fd) {
        throw lab::sys_error("open " + path);
    }
    return fd;
}

// Defined in protocol.cpp, which every program of the chapter links: the
// bounded waits around the lock calls (the lock calls themselves are the
// programs').

// Waits for a lock with a call that blocks and has no timeout of its own
// (fcntl F_SETLKW, flock without LOCK_NB), bounded by `deadline`: a periodic
// timer signal interrupts the call (EINTR) so the deadline is checked. True
// once `blocking_lock` returned 0, false when the deadline passed; any other
// error throws lab::sys_error(what).
bool wait_for_lock(const lab::Deadline& deadline, const std::string& what,
                   const std::function<int()>& blocking_lock);

// Waits `seconds` (forever when negative), returning early once SIGINT or
// SIGTERM came: true if the time ran out, false if a stop was requested.
bool pause_unless_stopped(const lab::StopSignals& stop, double seconds);

} // namespace file_locking_lab
