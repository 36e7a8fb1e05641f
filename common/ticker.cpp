// ticker.cpp - see ticker.hpp.
#include "ticker.hpp"

#include "errors.hpp"

#include <algorithm>
#include <cerrno>

namespace lab {

namespace {

// Does nothing: its only job is to exist, so that SIGALRM interrupts the
// blocking call instead of killing the process.
extern "C" void on_tick(int /*signal_number*/) {}

timespec milliseconds(int ms) {
    return {static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1'000'000L};
}

} // namespace

Ticker::Ticker(Restart restart) {
    sigemptyset(&alarm_only_);
    sigaddset(&alarm_only_, SIGALRM);
    struct sigaction action {};
    action.sa_handler = on_tick;
    sigemptyset(&action.sa_mask);
    action.sa_flags = restart == Restart::other_calls_restarted ? SA_RESTART : 0;
    if (::sigaction(SIGALRM, &action, &old_action_) < 0) {
        throw sys_error("sigaction SIGALRM");
    }
    if (::sigprocmask(SIG_UNBLOCK, &alarm_only_, &old_mask_) < 0) {
        int saved_errno = errno;
        ::sigaction(SIGALRM, &old_action_, nullptr);
        throw sys_error(saved_errno, "sigprocmask SIGALRM");
    }
    sigevent event{};
    event.sigev_notify = SIGEV_SIGNAL;
    event.sigev_signo = SIGALRM;
    if (::timer_create(CLOCK_MONOTONIC, &event, &timer_) < 0) {
        int saved_errno = errno;
        restore_signal_state();
        throw sys_error(saved_errno, "timer_create");
    }
}

Ticker::~Ticker() {
    ::timer_delete(timer_);
    restore_signal_state();
}

void Ticker::arm(int first_ms, int every_ms) {
    itimerspec spec{};
    spec.it_value = milliseconds(std::max(1, first_ms)); // a zero it_value disarms
    spec.it_interval = milliseconds(every_ms);
    if (::timer_settime(timer_, 0, &spec, nullptr) < 0) {
        throw sys_error("timer_settime");
    }
}

void Ticker::restore_signal_state() {
    ::sigprocmask(SIG_BLOCK, &alarm_only_, nullptr);
    const timespec no_wait{};
    ::sigtimedwait(&alarm_only_, nullptr, &no_wait);
    ::sigaction(SIGALRM, &old_action_, nullptr);
    ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
}

} // namespace lab
