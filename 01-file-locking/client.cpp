// 01-file-locking/client.cpp - reads the shared file under a read lock, or
// bumps the shared counter under a write lock.
//
//   client [--name NAME] [--try] [--timeout SECONDS]
//   client [--name NAME] [--try] [--timeout SECONDS] --increment COUNT [--no-lock]
//
// 1. Open the server's file: NAME.txt to read it, NAME.count with
//    --increment. No live server (its instance lock is free): "not
//    running", at once.
// 2. Reading: fcntl(F_SETLK, F_RDLCK) over all of NAME.txt. If a writer
//    holds a conflicting lock, fcntl(F_GETLK) names it ("locked by
//    pid=PID"), then we wait in fcntl(F_SETLKW) - bounded by --timeout -
//    or, with --try, exit 3. Read it all, fcntl(F_SETLK, F_UNLCK), then
//    print it. Readers share the lock with each other; a writer excludes
//    them all.
// 3. Incrementing: COUNT times, write-lock NAME.count the same way, read
//    the number, write it plus one, unlock. Without the lock (--no-lock)
//    two clients can read the same number and both write it plus one: one
//    increment is lost.
#include "protocol.hpp"

#include <array>
#include <cerrno>
#include <cstdlib>

namespace {

using namespace file_locking_lab;

struct Settings {
    std::string name;
    double timeout_seconds = lab::default_timeout_seconds;
    bool try_only = false;
};

// Below run(), in the order run() needs them.
lab::Fd open_server_file(const Settings& settings, const std::string& path, int flags);
void print_document(int fd, const std::string& path, const Settings& settings);
void increment(int fd, const std::string& path, const Settings& settings, long count,
               bool use_locks);
pid_t lock_whole_file(int fd, short type, const std::string& path, const Settings& settings,
                      bool report_holder);
void unlock_whole_file(int fd, const std::string& path);
long read_counter(int fd, const std::string& path);
void write_counter(int fd, long value, const std::string& path);

int run(int argc, char** argv) {
    lab::Options options(
        "[--name NAME] [--try] [--timeout SECONDS] [--increment COUNT [--no-lock]]",
        "Prints NAME.txt read under a shared fcntl lock (first 'locked by pid=PID'\n"
        "if a writer holds it), or with --increment adds 1 to NAME.count COUNT\n"
        "times, each under an exclusive lock, and prints the last value written.");
    Settings settings;
    long count = 0;
    bool no_lock = false;
    options.add_name(settings.name);
    options.add_timeout(settings.timeout_seconds);
    options.flag("--try", "do not wait: exit 3 at once when the file is locked", settings.try_only);
    options.value("--increment", "COUNT", "add 1 to NAME.count COUNT times (1-1000000000)",
                  [&](const std::string& text) {
                      count = lab::parse_integer("--increment", text, 1, 1'000'000'000);
                  });
    options.flag("--no-lock", "with --increment: skip the locks, to see updates get lost", no_lock);
    if (auto operands = options.parse(argc, argv); !operands.empty()) {
        throw lab::UsageError("unexpected argument '" + operands.front() + "'");
    }
    if (no_lock && count == 0) {
        throw lab::UsageError("--no-lock goes with --increment COUNT");
    }
    lab::ignore_sigpipe(); // `client | head -c1` must give EPIPE, not a silent death

    // 1. The server's file, or "not running".
    const bool incrementing = count > 0;
    const std::string path = lab::object_path(
        topic, settings.name, incrementing ? counter_extension : document_extension);
    lab::Fd fd = open_server_file(settings, path, incrementing ? O_RDWR : O_RDONLY);

    if (!incrementing) {
        // 2. Read under a read lock over the whole file; print after unlocking.
        print_document(fd.get(), path, settings);
    } else {
        // 3. COUNT times: write lock, read, write plus one, unlock.
        increment(fd.get(), path, settings, count, !no_lock);
    }
    return lab::exit_ok;
}

// Opens one of the server's files, or says the server is not there. The
// instance lock tells a live server from a killed one's leftovers at once.
lab::Fd open_server_file(const Settings& settings, const std::string& path, int flags) {
    if (!lab::server_running(topic, settings.name)) {
        throw lab::not_running(settings.name);
    }
    lab::Fd fd(::open(path.c_str(), flags | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
        if (errno == ENOENT) { // the server is exiting right now
            throw lab::not_running(settings.name, path + " is gone");
        }
        throw lab::sys_error("open " + path);
    }
    return fd;
}

// Prints NAME.txt as it was while we held a read lock: whole, never half of
// the server's writes. Read under the lock, print after releasing it, so a
// slow reader of our stdout never keeps the writer waiting.
void print_document(int fd, const std::string& path, const Settings& settings) {
    pid_t writer = lock_whole_file(fd, F_RDLCK, path, settings, true);
    // A write lock also goes when its holder is killed mid-document: the lock
    // we now hold proves nobody is writing, not that the writing was finished.
    // A server that is gone says the document may be half-written. Ask about
    // the writer itself too: a killed process drops its fcntl locks before
    // its instance lock (an open file description lock, released last).
    if (!lab::server_running(topic, settings.name) || (writer > 0 && !lab::process_alive(writer))) {
        throw lab::not_running(settings.name,
                               "it ended while we waited; " + path + " may be incomplete");
    }
    std::string text;
    std::array<char, 4096> buffer;
    while (std::size_t got = lab::read_some(fd, buffer, "read document")) {
        text.append(buffer.data(), got);
    }
    unlock_whole_file(fd, path);
    lab::write_all(STDOUT_FILENO, text, "write stdout");
}

void increment(int fd, const std::string& path, const Settings& settings, long count,
               bool use_locks) {
    long value = 0;
    for (long i = 0; i < count; ++i) {
        if (use_locks) {
            lock_whole_file(fd, F_WRLCK, path, settings, false);
        }
        // Read, add, write: three steps another process can come between
        // unless the lock keeps it out.
        value = read_counter(fd, path) + 1;
        write_counter(fd, value, path);
        if (use_locks) {
            unlock_whole_file(fd, path);
        }
    }
    lab::print_line(std::to_string(value));
}

// TASK 3 (step 2): lock the whole file with fcntl, naming the holder when it is busy
//   Return the pid you waited for: 0 if the lock came at once.
//   1. Try `fcntl(fd, F_SETLK, &lock)` with `lock = whole_file(type)`
//      (protocol.hpp). 0: locked, return 0. Failing with an errno for which
//      `lock_is_busy(errno)` is true (EACCES or EAGAIN): someone holds a
//      conflicting lock; any other errno: throw
//      `lab::sys_error("fcntl F_SETLK " + path)`.
//   2. Busy: ask who, with `fcntl(fd, F_GETLK, &probe)` on a fresh
//      `probe = whole_file(type)` (error: `"fcntl F_GETLK " + path`). The
//      kernel rewrites `probe` with one conflicting lock: its `l_pid` is the
//      holder (-1 for an open file description lock). If `probe.l_type` came
//      back F_UNLCK the lock was released between the two calls: go back to 1.
//   3. HOLDER below is that pid as text. With `report_holder`, print
//      `locked by pid=HOLDER` (`lab::print_line`). With `settings.try_only`,
//      throw `lab::Failure(path + " is locked by pid " + HOLDER + " (--try)",
//      exit_locked)` (exit 3).
//   4. Else wait in `fcntl(fd, F_SETLKW, &lock)`, bounded by
//      `settings.timeout_seconds`: `wait_for_lock(lab::Deadline(...),
//      "fcntl F_SETLKW " + path, [&] { return ::fcntl(...); })` (protocol.hpp)
//      retries it on EINTR and returns false at the deadline; then throw
//      `lab::timed_out(settings.timeout_seconds, "a lock on " + path + " (held
//      by pid " + HOLDER + ")")`. Return HOLDER's pid.
//   man 2 fcntl
//   check: `./server --hold 5 &`, then `./client` says "locked by pid=PID" and waits
//   stub: pid_t lock_whole_file(int, short, const std::string&, const Settings&, bool) {
//   stub:     return lab::not_written_yet<pid_t>(2, 3, "lock the whole file with fcntl");
//   stub: }
// Takes a lock of `type` over all of the file. If someone holds a
// conflicting one, names them (on stdout when `report_holder`), then waits
// for it bounded by --timeout, or with --try gives up at once (exit 3).
// Returns the pid it waited for (0: none; -1: an open file description lock).
pid_t lock_whole_file(int fd, short type, const std::string& path, const Settings& settings,
                      bool report_holder) {
    struct flock lock = whole_file(type);
    pid_t holder = 0;
    for (;;) {
        if (::fcntl(fd, F_SETLK, &lock) == 0) {
            return 0;
        }
        if (!lock_is_busy(errno)) {
            throw lab::sys_error("fcntl F_SETLK " + path);
        }
        // F_GETLK fills `probe` with one lock that conflicts with it: its
        // type, range and holder's pid (-1 for an open file description lock).
        struct flock probe = whole_file(type);
        if (::fcntl(fd, F_GETLK, &probe) < 0) {
            throw lab::sys_error("fcntl F_GETLK " + path);
        }
        if (probe.l_type != F_UNLCK) {
            holder = probe.l_pid;
            break;
        }
        // Released between our two calls: just try again.
    }
    const std::string holder_text = std::to_string(holder);
    if (report_holder) {
        lab::print_line("locked by pid=" + holder_text);
    }
    if (settings.try_only) {
        throw lab::Failure(path + " is locked by pid " + holder_text + " (--try)", exit_locked);
    }
    lab::Deadline deadline(settings.timeout_seconds);
    if (!wait_for_lock(deadline, "fcntl F_SETLKW " + path,
                       [&] { return ::fcntl(fd, F_SETLKW, &lock); })) {
        throw lab::timed_out(settings.timeout_seconds,
                             "a lock on " + path + " (held by pid " + holder_text + ")");
    }
    return holder;
}
// END TASK 3

// TASK 4 (step 2): unlock the whole file with fcntl F_UNLCK
//   `fcntl(fd, F_SETLK, &unlock)` with `unlock = whole_file(F_UNLCK)`; on
//   failure throw `lab::sys_error("fcntl F_SETLK F_UNLCK " + path)`. Unlock,
//   do not close: closing any descriptor of the file would drop all of the
//   process's locks on it, and this one is still read and written.
//   man 2 fcntl
//   check: two `./client --increment 1000` at once: one of them prints 2000
//   stub: void unlock_whole_file(int, const std::string&) {
//   stub:     lab::not_written_yet(2, 4, "unlock the whole file with fcntl F_UNLCK");
//   stub: }
void unlock_whole_file(int fd, const std::string& path) {
    struct flock unlock = whole_file(F_UNLCK);
    if (::fcntl(fd, F_SETLK, &unlock) < 0) {
        throw lab::sys_error("fcntl F_SETLK F_UNLCK " + path);
    }
}
// END TASK 4

long read_counter(int fd, const std::string& path) {
    std::array<char, 32> text{};
    ssize_t got = ::pread(fd, text.data(), text.size() - 1, 0);
    if (got < 0) {
        throw lab::sys_error("read " + path);
    }
    // Digits up to the first non-digit: what a torn unlocked write (--no-lock)
    // may leave behind the number is ignored.
    char* end = nullptr;
    errno = 0;
    long value = std::strtol(text.data(), &end, 10);
    if (end == text.data() || errno != 0 || value < 0) {
        throw lab::Failure(path + ": not a counter: '" + std::string(text.data()) + "'");
    }
    return value;
}

void write_counter(int fd, long value, const std::string& path) {
    const std::string text = counter_text(value);
    if (::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
        throw lab::sys_error("write " + path);
    }
    // Cut after writing, not before: an unlocked reader may look at any
    // moment, and must never find the file empty.
    if (::ftruncate(fd, static_cast<off_t>(text.size())) < 0) {
        throw lab::sys_error("ftruncate " + path);
    }
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
