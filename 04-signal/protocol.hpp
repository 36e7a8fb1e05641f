// protocol.hpp - what the 04-signal programs agree on.
//
// The server publishes its pid in RUNTIME/signal/NAME.pid; that number is
// the only "address" a signal has. Two kinds of signal reach it:
//
//   SIGUSR1, SIGUSR2   notifications: no payload, and they do not queue -
//                      ten sent while one is pending arrive as one.
//   SIGRTMIN           the carrier: real-time signals queue, one entry per
//                      sigqueue() call, in order, each with an int value.
//                      A message is one signal per byte (value 0-255), then
//                      one with value 256 to end it. The reply comes back
//                      the same way, from the server's pid.
//
// Every signal the programs wait for is blocked first and taken with
// sigwaitinfo()/sigtimedwait() or signalfd(): it waits, pending, in the
// kernel until asked for, so it can neither be missed nor run a handler.
#pragma once

#include "lab.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring> // sigabbrev_np (GNU)
#include <initializer_list>
#include <string>
#include <unistd.h>

namespace signal_lab {

inline constexpr const char* topic = "signal";
inline constexpr const char* pid_file_extension = "pid";

// A byte travels as its value 0-255; this value, one past the bytes, ends a message.
inline constexpr int end_of_message = 256;
inline constexpr int max_byte_value = 255;

// SIGRTMIN is not a constant: glibc keeps the first real-time signals for
// its threads and tells the rest at run time. Never hard-code 34.
inline int message_signal() {
    return SIGRTMIN;
}

// "SIGUSR1", "SIGRTMIN" (sigabbrev_np knows only the standard signals).
inline std::string signal_name(int signo) {
    if (signo == SIGRTMIN) {
        return "SIGRTMIN";
    }
    const char* abbreviation = ::sigabbrev_np(signo);
    return abbreviation ? std::string("SIG") + abbreviation : "signal " + std::to_string(signo);
}

inline std::string pid_file_path(const std::string& name) {
    return lab::object_path(topic, name, pid_file_extension);
}

// Blocks `signals` for the rest of the process's life and returns them as a
// set, for sigwaitinfo()/signalfd(). Blocked, a signal is not lost and does
// not act: it stays pending until taken. We never unblock: a SIGUSR1 still
// pending when main returns would then run its default action (death, exit
// status 138) instead of the clean return we chose.
inline sigset_t block_signals(std::initializer_list<int> signals) {
    sigset_t set;
    sigemptyset(&set);
    for (int signo : signals) {
        sigaddset(&set, signo);
    }
    if (::sigprocmask(SIG_BLOCK, &set, nullptr) < 0) {
        throw lab::sys_error("sigprocmask");
    }
    return set;
}

// Installs a handler for `signo` that does nothing: for a signal that stays
// blocked and is taken by sigtimedwait(), so the handler never runs, but
// /proc/PID/status SigCgt shows the process is ready for it.
extern "C" inline void on_message_signal(int /*signo*/) {}
inline void catch_without_running(int signo) {
    struct sigaction action {};
    action.sa_handler = on_message_signal;
    sigemptyset(&action.sa_mask);
    if (::sigaction(signo, &action, nullptr) < 0) {
        throw lab::sys_error("sigaction " + signal_name(signo));
    }
}

// One value to `pid` as SIGRTMIN with sigqueue(). Returns 0 or the errno:
// EAGAIN (the receiver's queue is full, RLIMIT_SIGPENDING), ESRCH (no such
// process), EPERM (not ours). The caller decides what each one means.
inline int queue_value(pid_t pid, int value) {
    sigval carried{};
    carried.sival_int = value;
    return ::sigqueue(pid, message_signal(), carried) == 0 ? 0 : errno;
}

} // namespace signal_lab
