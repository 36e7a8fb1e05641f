// protocol.cpp - bounded waits for the programs of 01-file-locking (every
// one of them links it): the lock call itself is always the caller's.
//
// fcntl(F_SETLKW) and flock(LOCK_EX) block until the lock is free, with no
// timeout argument. Two ways to bound them:
//   - poll: F_SETLK (or LOCK_NB) again every few milliseconds. The waiter
//     learns late that the lock came free, burns CPU, and loses its place:
//     the kernel hands a freed lock to a process blocked in F_SETLKW, so a
//     poller can be passed over again and again by blocked waiters.
//   - block, and let a timer signal interrupt the call. The kernel wakes us
//     the moment the lock is free (or its holder dies); the timer only
//     makes the call fail with EINTR now and then, so we can look at the
//     clock. That is what wait_for_lock() does, with lab::Ticker
//     (common/ticker.hpp), the same tick 06 uses around msgsnd/msgrcv.
#include "protocol.hpp"

#include <algorithm>
#include <csignal>
#include <ctime>
#include <optional>
#include <poll.h>

namespace file_locking_lab {

bool wait_for_lock(const lab::Deadline& deadline, const std::string& what,
                   const std::function<int()>& blocking_lock) {
    lab::Ticker timer; // SIGALRM every tick: F_SETLKW and flock() fail with EINTR
    for (;;) {
        if (deadline.expired()) {
            return false;
        }
        // The first tick comes when the deadline does, if that is sooner; at
        // least 1 ms, since a zero it_value would disarm the timer instead.
        timer.arm(deadline.tick_milliseconds(lab::stop_check_interval_ms),
                  lab::stop_check_interval_ms);
        if (blocking_lock() == 0) {
            return true;
        }
        if (errno != EINTR) {
            throw lab::sys_error(what);
        }
    }
}

bool pause_unless_stopped(const lab::StopSignals& stop, double seconds) {
    std::optional<lab::Deadline> deadline;
    if (seconds >= 0) {
        deadline.emplace(seconds);
    }
    while (!stop.requested()) {
        if (deadline && deadline->expired()) {
            return true;
        }
        // stop.fd() turns readable when SIGINT/SIGTERM comes, even if the
        // signal lands between the check above and poll() below.
        pollfd stop_request{stop.fd(), POLLIN, 0};
        if (::poll(&stop_request, 1, deadline ? deadline->milliseconds_left() : -1) < 0 &&
            errno != EINTR) {
            throw lab::sys_error("poll");
        }
    }
    return false;
}

} // namespace file_locking_lab
