// signals.hpp - stop signals turned into a clean return from main, stray
// signals ignored, and SIGPIPE off.
//
// What a signal does while a StopSignals object lives (CONTRACT.md: a server
// stops cleanly on SIGINT, SIGTERM and SIGHUP; a closed terminal must not
// strand its objects):
//
//   stop: the same clean path as SIGTERM (flag + self-pipe, see below)
//     SIGINT   Ctrl-C
//     SIGTERM  kill, the polite way to end a process
//     SIGHUP   the terminal closed (or the ssh session dropped)
//     SIGQUIT  Ctrl-\; its default action would dump core and strand everything
//     SIGXCPU  the soft CPU limit: the hard one's SIGKILL follows, clean up now
//   ignored: nobody sends these to end a server on purpose, and their
//   default action (terminate) would strand every object it made
//     SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGPWR,
//     SIGSTKFLT, SIGRTMIN..SIGRTMAX (a stray one from a mistyped pid)
//     SIGXFSZ  the file size limit: write() then fails with EFBIG, which is
//              reported and cleaned up like any failed write
//   left alone: SIGKILL and SIGSTOP (cannot be caught), the job-control
//     stops (SIGTSTP, SIGTTIN, SIGTTOU: the process only pauses), the signals
//     ignored by default (SIGCHLD, SIGURG, SIGWINCH), and the ones a bug
//     raises (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS):
//     a crash must still show as one.
//
// A program that uses one of the ignored signals itself (04-signal's
// SIGUSR1/SIGUSR2/SIGRTMIN, a SIGALRM timer tick) says so, and that signal
// is left exactly as the program sets it:
//
//     lab::StopSignals stop(lab::keeping, {SIGALRM});
//
// An ignored signal stays ignored across exec() (that is POSIX): a child
// forked while a StopSignals lives inherits it; handlers are reset.
//
// The stop handler only sets a flag and writes one byte to a self-pipe (both
// async-signal-safe). It is installed without SA_RESTART, so a blocking call
// (read, poll, semop, msgrcv, ...) fails with EINTR and the loop around it
// sees requested() and returns: cleanup then runs through the same
// destructors as a normal exit.
//
// The window between checking requested() and entering a blocking call is
// closed in one of two ways, whichever the mechanism allows:
//   - poll()/epoll loops watch fd(), which is readable once a stop came;
//   - calls with no descriptor (semop, msgrcv, mq_receive, sem_wait) use their
//     timed form with a tick of stop_check_interval_ms and check again.
#pragma once

#include "fd.hpp"

#include <csignal>
#include <initializer_list>
#include <string_view>
#include <vector>

namespace lab {

inline constexpr int stop_check_interval_ms = 100;

// The tag of StopSignals' second constructor: "stop signals, keeping these".
struct Keeping {};
inline constexpr Keeping keeping{};

class StopSignals {
  public:
    // Installs the handlers and ignores the stray signals; only one may
    // exist at a time.
    StopSignals() : StopSignals(keeping, {}) {}
    // The same, leaving the signals in `own` (ones the program uses itself)
    // as they are.
    StopSignals(Keeping /*tag*/, std::initializer_list<int> own);
    // Restores every disposition it changed and closes the pipe; the stop
    // signals stay blocked (pending until exit), so the destructors still to
    // run finish the way out and the exit status is the program's own.
    ~StopSignals();
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

    bool requested() const;
    int signal_number() const; // the stop signal once requested(), else 0
    int fd() const { return read_end_.get(); }
    // Throws lab::Failure "interrupted by Interrupt" (or Terminated, Hangup,
    // ...) once a stop was requested: for loops that must give up mid-wait
    // (exit 1).
    void throw_if_requested() const;

  private:
    Fd read_end_;
    Fd write_end_;
    struct Changed {
        int signal_number;
        struct sigaction previous;
    };
    std::vector<Changed> changed_; // in the order changed, restored backwards
    sigset_t handled_{};           // the stop signals handled here: blocked by the destructor
    void change(int signal_number, const struct sigaction& action);
    void restore();
};

// Writes all of `data` to `fd` like write_all(), except that once a
// StopSignals has seen a stop it never waits for `fd` to have room: what
// does not fit at once is dropped, and it returns false. Without this, a
// stop arriving while a log reader has stopped reading would leave a
// server blocked in write() (or failing with EINTR, exit 1) instead of
// stopping cleanly.
bool write_unless_stopped(int fd, std::string_view data, const char* what);

// Servers and clients write to peers that may vanish: without this, the
// first write to a closed pipe or socket kills the process with SIGPIPE
// instead of failing with EPIPE.
void ignore_sigpipe();

} // namespace lab
