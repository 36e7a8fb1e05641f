// client-lookup.hpp - the client's way from a NAME (or a PID) to a server it may signal.
//
// A pid is a dangerous address: sent to the wrong process, SIGRTMIN or
// SIGUSR1 kills it (their default action is to terminate). So, before the
// first signal, the client makes sure that
//   - a live server holds NAME's instance lock: a killed server's NAME.pid
//     may hold a pid that now names someone else's process;
//   - kill(pid, 0) finds the process (ESRCH: it is gone), and it is not a
//     zombie (which kill(pid, 0) finds too) or exiting: lab::process_alive().
// Anything else is "not running", at once. With --pid the client trusts the
// user: it cannot tell a server from any other process of the same user.
#pragma once

#include <string>
#include <sys/types.h>

namespace signal_lab {

// The pid in NAME.pid of a live server; else lab::not_running.
pid_t find_server(const std::string& name);

// `pid` itself, if it is a live process we may signal; else lab::Failure.
pid_t check_server_pid(pid_t pid);

} // namespace signal_lab
