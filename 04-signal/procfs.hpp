// procfs.hpp - telling one process from another that later got the same pid.
//
// A pid is all a signal has for an address, and it names a process only
// while that process lives: then it is handed out again (pid_max is 32768
// on many systems, so that can be soon). /proc/PID/stat field 22, the
// process's start time, tells the two apart.
//
// What /proc cannot tell reliably is whether a process is ready for a
// signal: SigBlk in /proc/PID/status loses the waited-for signals while the
// process sits in sigwaitinfo()/sigtimedwait(), which unblock them for the
// length of the wait. A correct server or client, caught waiting, would
// look like a process the signal kills. SigCgt has no such gap, which is why
// the client also catches SIGRTMIN (client.cpp, step 1).
#pragma once

#include <optional>
#include <string>
#include <sys/types.h>

namespace signal_lab {

// When `pid` started (clock ticks after boot), or nothing if there is no
// such process or it is a zombie: it has exited, whoever will reap it.
std::optional<unsigned long long> process_start_time(pid_t pid);

// Why `pid` cannot be a client we may answer, or nothing if it can. si_pid
// is written by the sender (rt_sigqueueinfo() takes a whole siginfo_t), so
// a forger can name any process: never ourselves (we would answer our own
// reply forever) or pid 1 and below; only a process of our own uid (the
// owner of /proc/PID: si_uid is forged as easily) that blocks or catches
// SIGRTMIN, which a real client does before sending (SIGRTMIN's default
// action would kill anyone else).
std::optional<std::string> why_not_a_client(pid_t pid, int message_signal);

} // namespace signal_lab
