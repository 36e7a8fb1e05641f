// signals.hpp - SIGINT/SIGTERM turned into a clean return from main, and SIGPIPE off.
//
// While a StopSignals object lives, SIGINT and SIGTERM only set a flag and
// write one byte to a self-pipe (both async-signal-safe). The handler is
// installed without SA_RESTART, so a blocking call (read, poll, semop,
// msgrcv, ...) fails with EINTR and the loop around it sees requested() and
// returns: cleanup then runs through the same destructors as a normal exit.
//
// The window between checking requested() and entering a blocking call is
// closed in one of two ways, whichever the mechanism allows:
//   - poll()/epoll loops watch fd(), which is readable once a stop came;
//   - calls with no descriptor (semop, msgrcv, mq_receive, sem_wait) use their
//     timed form with a tick of stop_check_interval_ms and check again.
#pragma once

#include "fd.hpp"

#include <csignal>

namespace lab {

inline constexpr int stop_check_interval_ms = 100;

class StopSignals {
  public:
    StopSignals();  // installs the handlers; only one may exist at a time
    ~StopSignals(); // restores the previous handlers, closes the pipe
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

    bool requested() const;
    int signal_number() const; // SIGINT or SIGTERM once requested(), else 0
    int fd() const { return read_end_.get(); }
    // Throws lab::Failure "interrupted by Interrupt" (or Terminated) once a
    // stop was requested: for loops that must give up mid-wait (exit 1).
    void throw_if_requested() const;

  private:
    Fd read_end_;
    Fd write_end_;
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
};

// Servers and clients write to peers that may vanish: without this, the
// first write to a closed pipe or socket kills the process with SIGPIPE
// instead of failing with EPIPE.
void ignore_sigpipe();

} // namespace lab
