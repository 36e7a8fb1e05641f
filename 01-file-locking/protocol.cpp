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
//     clock. That is what wait_for_lock() does.
#include "protocol.hpp"

#include <algorithm>
#include <csignal>
#include <ctime>
#include <optional>
#include <poll.h>

namespace file_locking {

namespace {

// Does nothing: its only job is to exist, so that SIGALRM interrupts the
// blocking call instead of killing the process.
extern "C" void on_tick(int /*signal_number*/) {}

// A CLOCK_MONOTONIC timer that sends SIGALRM every tick while it lives.
class TickTimer {
  public:
    TickTimer() {
        sigemptyset(&alarm_only_);
        sigaddset(&alarm_only_, SIGALRM);
        struct sigaction action {};
        action.sa_handler = on_tick;
        sigemptyset(&action.sa_mask);
        action.sa_flags = 0; // no SA_RESTART: the kernel would restart F_SETLKW for us
        if (::sigaction(SIGALRM, &action, &old_action_) < 0) {
            throw lab::sys_error("sigaction SIGALRM");
        }
        // Unblocked: a mask inherited from the parent may block SIGALRM, and
        // then no tick would ever interrupt the wait.
        if (::sigprocmask(SIG_UNBLOCK, &alarm_only_, &old_mask_) < 0) {
            int saved_errno = errno;
            ::sigaction(SIGALRM, &old_action_, nullptr);
            throw lab::sys_error(saved_errno, "sigprocmask SIGALRM");
        }
        sigevent event{};
        event.sigev_notify = SIGEV_SIGNAL;
        event.sigev_signo = SIGALRM;
        if (::timer_create(CLOCK_MONOTONIC, &event, &timer_) < 0) {
            int saved_errno = errno;
            restore_signal_state();
            throw lab::sys_error(saved_errno, "timer_create");
        }
    }
    ~TickTimer() {
        ::timer_delete(timer_);
        restore_signal_state();
    }
    TickTimer(const TickTimer&) = delete;
    TickTimer& operator=(const TickTimer&) = delete;

    // First tick after `first_ms`, then one every `every_ms`. Periodic on
    // purpose: a tick that lands just before the call starts to block is
    // lost, and the next one still comes.
    void arm(int first_ms, int every_ms) {
        itimerspec spec{};
        spec.it_value = milliseconds(first_ms);
        spec.it_interval = milliseconds(every_ms);
        if (::timer_settime(timer_, 0, &spec, nullptr) < 0) {
            throw lab::sys_error("timer_settime");
        }
    }

  private:
    // A tick may have been sent and not yet delivered when the timer goes
    // (valgrind, for one, delivers signals late). Block SIGALRM and take
    // any such tick now: once the old action (by default: terminate) is
    // back, a late tick would kill us.
    void restore_signal_state() {
        ::sigprocmask(SIG_BLOCK, &alarm_only_, nullptr);
        const timespec no_wait{};
        ::sigtimedwait(&alarm_only_, nullptr, &no_wait);
        ::sigaction(SIGALRM, &old_action_, nullptr);
        ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
    }

    static timespec milliseconds(int ms) {
        return {static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1'000'000L};
    }

    timer_t timer_{};
    sigset_t alarm_only_{};
    sigset_t old_mask_{};
    struct sigaction old_action_ {};
};

} // namespace

bool wait_for_lock(const lab::Deadline& deadline, const std::string& what,
                   const std::function<int()>& blocking_lock) {
    TickTimer timer;
    for (;;) {
        if (deadline.expired()) {
            return false;
        }
        // The first tick comes when the deadline does, if that is sooner; at
        // least 1 ms, since a zero it_value would disarm the timer instead.
        timer.arm(std::max(1, deadline.tick_milliseconds(lab::stop_check_interval_ms)),
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

} // namespace file_locking
