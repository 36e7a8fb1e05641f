// 01-file-locking/flock-demo.cpp - takes an flock(2) lock on FILE and holds it.
//
//   flock-demo [--shared] [--try] [--timeout SECONDS] [--hold SECONDS] FILE
//
// flock(2) is the other lock of Unix: a whole file, shared (LOCK_SH) or
// exclusive (LOCK_EX), no byte ranges. Against fcntl record locks:
//   - it belongs to the open file description, like an OFD lock: a fork()ed
//     child shares it, and closing some other descriptor of the file does
//     not drop it;
//   - there is no F_GETLK: nobody can ask who holds it (/proc/locks can);
//   - on Linux the two kinds never see each other: a file flock()ed here
//     can still be fcntl-locked by anyone.
// util-linux flock(1) takes the same locks from a shell, so it is our
// peer: while this holds LOCK_EX, `flock -n FILE true` fails, and while
// `flock FILE sleep 60` runs, `flock-demo --try FILE` exits 3.
//
// 1. Open FILE read-write (made 0600 if missing).
// 2. flock(LOCK_EX or LOCK_SH | LOCK_NB). Busy: say so; with --try exit 3,
//    else wait in flock() without LOCK_NB, bounded by --timeout.
// 3. Say "locked", hold it --hold seconds or until SIGINT/SIGTERM.
// 4. flock(LOCK_UN), say "unlocked".
#include "protocol.hpp"

#include <sys/file.h>

namespace {

using namespace file_locking_lab;

int run(int argc, char** argv) {
    lab::Options options(
        "[--shared] [--try] [--timeout SECONDS] [--hold SECONDS] FILE",
        "Takes an flock(2) lock on FILE (made 0600 if missing), says so, and holds\n"
        "it for --hold seconds or until SIGINT/SIGTERM.");
    bool shared = false;
    bool try_only = false;
    double timeout_seconds = lab::default_timeout_seconds;
    double hold_seconds = -1; // until a signal
    options.flag("--shared", "LOCK_SH instead of LOCK_EX: other shared holders welcome", shared);
    options.flag("--try", "do not wait: exit 3 at once when FILE is locked", try_only);
    options.add_timeout(timeout_seconds);
    add_hold_option(options, hold_seconds,
                    "hold the lock this long (default: until SIGINT/SIGTERM)");
    const std::string path = the_file_operand(options.parse(argc, argv));
    const std::string operation_name = shared ? "LOCK_SH" : "LOCK_EX";

    // 1. FILE, ours to lock.
    lab::Fd fd = open_demo_file(path);

    // 2. The lock at once; if busy, say so, then give up (--try) or wait.
    // TASK 5 (step 2): take the flock, at once or by waiting
    //   The lock is `LOCK_SH` with `--shared`, else `LOCK_EX`. First
    //   `flock(fd.get(), operation | LOCK_NB)`: with LOCK_NB a busy lock
    //   fails at once with EWOULDBLOCK (any other errno: throw
    //   `lab::sys_error("flock " + path)`). Busy: print
    //   `busy: PATH is flock()ed by someone else (see /proc/locks)`; with
    //   `try_only` throw `lab::Failure(path + " is locked (--try)", exit_locked)`;
    //   else wait in `flock(fd.get(), operation)` (no LOCK_NB), bounded by
    //   `timeout_seconds`: `wait_for_lock(lab::Deadline(timeout_seconds),
    //   "flock " + path, [&] { return ::flock(...); })` (protocol.hpp) is false
    //   at the deadline: throw `lab::timed_out(timeout_seconds, "flock " +
    //   operation_name + " on " + path)`.
    //   man 2 flock
    //   check: `flock /tmp/f sleep 9 &`, then `./flock-demo --try /tmp/f` exits 3
    const int operation = shared ? LOCK_SH : LOCK_EX;
    if (::flock(fd.get(), operation | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK) {
            throw lab::sys_error("flock " + path);
        }
        // No F_GETLK here: all we can say is that someone holds it.
        lab::print_line("busy: " + path + " is flock()ed by someone else (see /proc/locks)");
        if (try_only) {
            throw lab::Failure(path + " is locked (--try)", exit_locked);
        }
        lab::Deadline deadline(timeout_seconds);
        if (!wait_for_lock(deadline, "flock " + path,
                           [&] { return ::flock(fd.get(), operation); })) {
            throw lab::timed_out(timeout_seconds, "flock " + operation_name + " on " + path);
        }
    }
    // END TASK 5
    // 3. Hold it. Stop signals are installed only now: while we wait,
    //    SIGINT/SIGTERM keep their default action and simply end us (there
    //    is no lock to give back yet).
    lab::StopSignals stop;
    lab::print_line("locked " + path + " (flock " + operation_name + ", pid " +
                    std::to_string(::getpid()) + ")");
    pause_unless_stopped(stop, hold_seconds);

    // 4. Give it back.
    // TASK 6 (step 4): give the flock back with LOCK_UN
    //   `flock(fd.get(), LOCK_UN)`; on failure throw
    //   `lab::sys_error("flock LOCK_UN " + path)`. (Closing the last
    //   descriptor of the open file description would release it too.)
    //   man 2 flock
    //   check: `./flock-demo --hold 1 /tmp/f` prints "unlocked /tmp/f" and exits 0
    if (::flock(fd.get(), LOCK_UN) < 0) {
        throw lab::sys_error("flock LOCK_UN " + path);
    }
    // END TASK 6
    lab::print_line("unlocked " + path);
    return lab::exit_ok;
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
