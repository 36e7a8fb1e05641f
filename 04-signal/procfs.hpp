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
// look like a process the signal kills.
#pragma once

#include <optional>
#include <sys/types.h>

namespace signal_lab {

// When `pid` started (clock ticks after boot), or nothing if there is no
// such process or it is a zombie: it has exited, whoever will reap it.
std::optional<unsigned long long> process_start_time(pid_t pid);

} // namespace signal_lab
