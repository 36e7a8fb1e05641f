// process.hpp - "is this still the same live process?", asked of a pid that
// an object recorded: a lock holder in a file, the creator or last user of a
// System V object.
//
// A pid names a process only while it lives; then the kernel hands it out
// again (in order, wrapping at /proc/sys/kernel/pid_max). kill(pid, 0) only
// says that *some* process has the pid now. What tells two processes with
// one pid apart is when they started: field 22 of /proc/PID/stat, in clock
// ticks after boot (1/100 s). Record it beside the pid (ProcessIdentity), or
// compare it with a time the kernel stamped on the object (started_before()).
// Two processes that started in the same tick look alike: the pid counter
// does not go round that fast, but root can set the next pid of its own pid
// namespace (ns_last_pid), and the tests that do so wait two ticks first.
//
// When /proc does not answer for a process that exists (mounted with
// hidepid=, say), both say "alive": taking a live process for dead would
// break what it holds, while the other mistake only leaves a leftover.
#pragma once

#include <ctime>
#include <optional>
#include <sys/types.h>

namespace lab {

struct ProcessIdentity {
    pid_t pid = 0;                     // 0: nobody
    unsigned long long start_time = 0; // /proc/PID/stat field 22, clock ticks after boot

    // The calling process.
    static ProcessIdentity self();

    // The live process that has `pid` now; nullopt when none has it (or it
    // is a zombie, or exiting) or /proc will not say when it started. For a
    // pid a peer gave us, recorded to tell it apart from a later reuse.
    static std::optional<ProcessIdentity> of(pid_t pid);

    // True while this very process lives: the pid is there, it is neither a
    // zombie (exited, not yet reaped) nor exiting, and it started when this
    // one did.
    bool alive() const;

    bool operator==(const ProcessIdentity&) const = default;
};

// True while some process has `pid` and is neither a zombie nor exiting:
// for a pid that cannot have been handed out again yet (a lock holder we
// just waited for).
bool process_alive(pid_t pid);

} // namespace lab
