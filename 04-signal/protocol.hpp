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
// Every signal the programs wait for is blocked first (sigprocmask(), each
// program at its step 1) and taken with sigtimedwait() or signalfd(): it
// waits, pending, in the kernel until asked for, so it can neither be missed
// nor run a handler. Each program sends with its own sigqueue() call.
#pragma once

#include "lab.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring> // sigabbrev_np (GNU)
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

} // namespace signal_lab
