// ticker.hpp - a bound on a blocking call that has no timeout of its own:
// fcntl(F_SETLKW), flock(LOCK_EX), msgsnd(), msgrcv().
//
// While a Ticker lives, a CLOCK_MONOTONIC timer sends SIGALRM to a handler
// that does nothing; the blocked call then fails with EINTR, and the loop
// around it looks at its deadline or its stop request again. The kernel
// still wakes the call the moment it can go on: the tick only bounds it.
// (Polling with F_SETLK or IPC_NOWAIT instead learns late, burns CPU, and
// loses its place in the queue of blocked waiters.)
//
// The choices, one for every chapter:
//   - SIGALRM is unblocked while the Ticker lives: a mask inherited from the
//     parent may block it, and then no tick would ever interrupt the wait;
//   - the timer is periodic: a tick that lands just before the call starts
//     to block is lost, and the next one still comes;
//   - the handler is installed without SA_RESTART unless the caller asks
//     for it: with it, the kernel restarts F_SETLKW and flock() itself and
//     the tick bounds nothing. (msgsnd/msgrcv are never restarted, signal(7):
//     a System V chapter may ask for SA_RESTART so that its reads and
//     writes of stdin/stdout never see the tick.)
//   - when it goes, a tick sent but not yet delivered is taken first, then
//     the previous action and mask come back: a late tick under the default
//     action would kill the process in the middle of its cleanup.
#pragma once

#include <csignal>
#include <ctime>

namespace lab {

class Ticker {
  public:
    enum class Restart { other_calls_see_eintr, other_calls_restarted };

    explicit Ticker(Restart restart = Restart::other_calls_see_eintr);
    ~Ticker();
    Ticker(const Ticker&) = delete;
    Ticker& operator=(const Ticker&) = delete;

    // First tick after `first_ms` (at least 1), then one every `every_ms`.
    void arm(int first_ms, int every_ms);

  private:
    void restore_signal_state();

    timer_t timer_{};
    sigset_t alarm_only_{};
    sigset_t old_mask_{};
    struct sigaction old_action_ {};
};

} // namespace lab
