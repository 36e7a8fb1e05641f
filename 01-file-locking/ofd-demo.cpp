// 01-file-locking/ofd-demo.cpp - who owns an fcntl lock: the process, or
// the open file description?
//
//   ofd-demo [--hold SECONDS] FILE
//
// Prints what happens, step by step, with three descriptors of FILE, each
// from its own open() and so its own open file description: A takes the
// locks, P probes them, B is opened and closed.
//
// 1. Classic record locks (F_SETLK) belong to the PROCESS: a second lock
//    through P does not conflict, and closing B - ANY descriptor of the
//    file - drops them all. The classic trap: a library that opens and
//    closes your locked file behind your back unlocks it.
// 2. Open file description locks (F_OFD_SETLK, Linux 3.15) belong to the
//    open file description: closing B leaves A's lock alone, and P, another
//    description in the same process, conflicts with it like a stranger.
// 3. With --hold, keep the OFD lock a while so /proc/locks shows OFDLCK.
#include "protocol.hpp"

#include <cstring>

namespace {

using namespace file_locking_lab;

// Below run(): what A, P and B do.
std::string try_write_lock(int fd, int command);
std::string probe(int fd);
void open_and_close_another(const std::string& path);

int run(int argc, char** argv) {
    lab::Options options(
        "[--hold SECONDS] FILE",
        "Shows, step by step, that classic fcntl locks belong to the process (and\n"
        "vanish when ANY descriptor of the file is closed) while OFD locks belong to\n"
        "the open file description. FILE is made 0600 if missing.");
    double hold_seconds = 0;
    add_hold_option(options, hold_seconds,
                    "at the end, hold the OFD lock this long (default 0; SIGINT/SIGTERM end it)");
    const std::string path = the_file_operand(options.parse(argc, argv));
    lab::StopSignals stop;
    lab::Fd a = open_demo_file(path);
    lab::Fd p = open_demo_file(path);

    // 1. Classic locks: P does not conflict; closing B drops A's lock.
    lab::print_line("1. classic fcntl locks belong to the process (pid " +
                    std::to_string(::getpid()) + ")");
    lab::print_line("   A F_SETLK write:     " + try_write_lock(a.get(), F_SETLK));
    lab::print_line("   P F_SETLK write:     " + try_write_lock(p.get(), F_SETLK) +
                    " (a process never conflicts with itself)");
    lab::print_line("   P F_OFD_GETLK:       " + probe(p.get()));
    open_and_close_another(path);
    lab::print_line("   B open() + close()");
    lab::print_line("   P F_OFD_GETLK:       " + probe(p.get()) +
                    " (closing ANY descriptor dropped the process's locks)");

    // 2. OFD locks: closing B leaves A's lock; P conflicts with it.
    lab::print_line("2. OFD locks belong to the open file description");
    // TASK 8 (step 2): do step 1 again with open file description locks
    //   As in step 1, but A takes its write lock with F_OFD_SETLK, and P tries
    //   one too. Print, as step 1 does (`lab::print_line`, the same indentation
    //   and alignment; the README's ofd-demo transcript shows every line):
    //   A's `try_write_lock(a.get(), F_OFD_SETLK)`; then
    //   `open_and_close_another(path)` and the line `B open() + close()`; then
    //   P's `probe(p.get())`, followed by `(still there; an OFD lock has no pid)`;
    //   then P's `try_write_lock(p.get(), F_OFD_SETLK)`, followed by
    //   `(same process, other description: a conflict)`.
    //   Where step 1's second lock was granted and then lost, this one must
    //   be refused and A's lock must survive B's close.
    //   man 2 fcntl
    //   check: `./ofd-demo /tmp/f`: step 2 shows A's lock kept and P refused
    lab::print_line("   A F_OFD_SETLK write: " + try_write_lock(a.get(), F_OFD_SETLK));
    open_and_close_another(path);
    lab::print_line("   B open() + close()");
    lab::print_line("   P F_OFD_GETLK:       " + probe(p.get()) +
                    " (still there; an OFD lock has no pid)");
    lab::print_line("   P F_OFD_SETLK write: " + try_write_lock(p.get(), F_OFD_SETLK) +
                    " (same process, other description: a conflict)");
    // END TASK 8

    // 3. With --hold, A's OFD lock stays a while, for /proc/locks.
    if (hold_seconds > 0) {
        lab::print_line("3. holding A's OFD lock for " + lab::seconds_text(hold_seconds) +
                        ": /proc/locks shows it as OFDLCK");
        pause_unless_stopped(stop, hold_seconds);
    }
    // A's lock goes when its open file description does: with the close()
    // of its last descriptor, in the destructor.
    return lab::exit_ok;
}

// TASK 7 (step 1): try a write lock and probe for one, with fcntl
//   `try_write_lock(fd, command)`: `fcntl(fd, command, &lock)` with
//   `lock = whole_file(F_WRLCK)` and `command` F_SETLK or F_OFD_SETLK, never
//   waiting. Return `"locked"`; or, when it fails with an errno for which
//   `lock_is_busy(errno)` holds, `"refused: "` followed by `strerror(errno)`;
//   any other errno: throw `lab::sys_error("fcntl")`.
//   `probe(fd)`: `fcntl(fd, F_OFD_GETLK, &lock)` with
//   `lock = whole_file(F_WRLCK)` (F_OFD_GETLK wants `l_pid` 0; error:
//   `lab::sys_error("fcntl F_OFD_GETLK")`). If `lock.l_type` comes back
//   F_UNLCK return `"no lock"`; else `write lock held by pid=PID` (or
//   `read`, by its `l_type`), PID being its `l_pid`.
//   man 2 fcntl
//   check: `./ofd-demo /tmp/f` prints step 1 as the README shows it
//   stub: std::string try_write_lock(int, int) {
//   stub:     return lab::not_written_yet<std::string>(1, 7, "try a write lock with fcntl");
//   stub: }
//   stub: std::string probe(int) {
//   stub:     return lab::not_written_yet<std::string>(1, 7, "probe for a lock with fcntl");
//   stub: }
// fcntl(F_SETLK or F_OFD_SETLK) for a write lock on all of the file:
// "locked" or why not.
std::string try_write_lock(int fd, int command) {
    struct flock lock = whole_file(F_WRLCK);
    if (::fcntl(fd, command, &lock) == 0) {
        return "locked";
    }
    if (!lock_is_busy(errno)) {
        throw lab::sys_error("fcntl");
    }
    return std::string("refused: ") + std::strerror(errno);
}

// What P sees with F_OFD_GETLK. As an open file description of its own, P
// is told about every lock that conflicts with a write lock - the classic
// locks of its own process included, which F_GETLK would not report.
std::string probe(int fd) {
    struct flock lock = whole_file(F_WRLCK); // F_OFD_GETLK wants l_pid 0
    if (::fcntl(fd, F_OFD_GETLK, &lock) < 0) {
        throw lab::sys_error("fcntl F_OFD_GETLK");
    }
    if (lock.l_type == F_UNLCK) {
        return "no lock";
    }
    return std::string(lock.l_type == F_WRLCK ? "write" : "read") +
           " lock held by pid=" + std::to_string(lock.l_pid);
}
// END TASK 7

// Opens B and closes it again: nothing else.
void open_and_close_another(const std::string& path) {
    lab::Fd b = open_demo_file(path);
    b.reset(); // close()
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
