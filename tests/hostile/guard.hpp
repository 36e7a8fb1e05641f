// guard.hpp - what every hostile plant does first. A plant imitates a
// student program that attacks the grader; it must only ever act inside the
// grader's sandbox (tools/grade), so it first checks that it runs as the
// sandbox's unprivileged user - its uid is GRADE_SANDBOX_IDS (524288) as
// seen from outside every user namespace, never root - with a process limit
// set. Anywhere else (run by hand, as root, a sandbox that did not confine
// it) it says so in one line and exits 3 without doing anything, so a broken
// sandbox fails the test instead of harming the machine.
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace hostile {

// The uid that `id` is outside this process's user namespace, read from
// /proc/self/uid_map ("inside outside count" lines); -1 when unmapped.
inline long long outside_uid(unsigned long long id) {
    std::ifstream map("/proc/self/uid_map");
    unsigned long long inside = 0;
    unsigned long long outside = 0;
    unsigned long long count = 0;
    while (map >> inside >> outside >> count) {
        if (id >= inside && id - inside < count) {
            return static_cast<long long>(outside + (id - inside));
        }
    }
    return -1;
}

// True when this process is in a PID namespace of its own (NSpid in
// /proc/self/status lists more than one pid).
inline bool in_child_pid_namespace() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("NSpid:", 0) == 0) {
            std::istringstream pids(line.substr(6));
            int pid = 0;
            int n = 0;
            while (pids >> pid) {
                ++n;
            }
            return n > 1;
        }
    }
    return false;
}

// Exits 3 unless confined as above; `also_pid_namespace` for a plant whose
// act would reach every process it may signal (kill -9 -1).
inline void require_sandbox(const char* plant, bool also_pid_namespace = false) {
    const char* wanted = std::getenv("GRADE_SANDBOX_IDS");
    const long long sandbox = wanted != nullptr ? std::strtoll(wanted, nullptr, 10) : 524288;
    rlimit nproc{};
    const bool limited = getrlimit(RLIMIT_NPROC, &nproc) == 0 && nproc.rlim_cur != RLIM_INFINITY &&
                         nproc.rlim_cur <= 4096;
    const bool as_sandbox =
        sandbox > 0 && outside_uid(getuid()) == sandbox && outside_uid(geteuid()) == sandbox;
    if (!as_sandbox || !limited || (also_pid_namespace && !in_child_pid_namespace())) {
        std::fprintf(stderr,
                     "hostile %s: not in the grader's sandbox (uid %lld outside, process limit "
                     "%s%s): doing nothing\n",
                     plant, outside_uid(geteuid()), limited ? "set" : "not set",
                     also_pid_namespace && !in_child_pid_namespace() ? ", no PID namespace" : "");
        std::exit(3);
    }
}

} // namespace hostile
