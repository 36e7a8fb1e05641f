#include "process.hpp"

#include "errors.hpp"

#include <cerrno>
#include <csignal>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <unistd.h>

namespace lab {

namespace {

// What /proc says about a pid.
struct ProcStat {
    enum { gone, unknown, running } state; // unknown: it exists, /proc will not say more
    unsigned long long start_time;
};

ProcStat read_proc_stat(pid_t pid) {
    if (pid <= 0) {
        return {ProcStat::gone, 0};
    }
    // Signal 0 sends nothing; ESRCH: no such process. EPERM: it exists,
    // another user's.
    if (::kill(pid, 0) < 0 && errno == ESRCH) {
        return {ProcStat::gone, 0};
    }
    std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(file, line)) {
        // Gone in between, or hidden from us: ask kill() again to tell.
        return {::kill(pid, 0) < 0 && errno == ESRCH ? ProcStat::gone : ProcStat::unknown, 0};
    }
    // "PID (COMM) STATE PPID ...": COMM may hold spaces and ')', so the
    // fields are counted from the last ')'.
    auto comm_end = line.rfind(')');
    if (comm_end == std::string::npos) {
        return {ProcStat::unknown, 0};
    }
    std::istringstream fields(line.substr(comm_end + 1));
    std::string state;
    fields >> state;
    if (state == "Z" || state == "X") { // exited; kill(pid, 0) still finds a zombie
        return {ProcStat::gone, 0};
    }
    std::string skipped;
    unsigned long flags = 0;
    for (int field = 4; field < 22; ++field) { // STATE was field 3; starttime is 22
        if (field == 9) {
            fields >> flags; // the kernel's PF_* flags of the task
        } else {
            fields >> skipped;
        }
    }
    // PF_EXITING (include/linux/sched.h; proc(5) points there): the process
    // is dying. It still releases what it holds step by step (its fcntl locks
    // before its open file description locks, say): whoever sees one of them
    // go must not take it for alive because the rest are still there.
    constexpr unsigned long pf_exiting = 0x4;
    if ((flags & pf_exiting) != 0) {
        return {ProcStat::gone, 0};
    }
    unsigned long long start_time = 0;
    if (!(fields >> start_time)) {
        return {ProcStat::unknown, 0};
    }
    return {ProcStat::running, start_time};
}

} // namespace

ProcessIdentity ProcessIdentity::self() {
    ProcStat stat = read_proc_stat(::getpid());
    if (stat.state != ProcStat::running) {
        throw Failure("cannot read /proc/self/stat (is /proc mounted?)");
    }
    return {::getpid(), stat.start_time};
}

std::optional<ProcessIdentity> ProcessIdentity::of(pid_t pid) {
    ProcStat stat = read_proc_stat(pid);
    if (stat.state != ProcStat::running) {
        return std::nullopt;
    }
    return ProcessIdentity{pid, stat.start_time};
}

bool ProcessIdentity::alive() const {
    ProcStat stat = read_proc_stat(pid);
    return stat.state == ProcStat::unknown ||
           (stat.state == ProcStat::running && stat.start_time == start_time);
}

bool process_alive(pid_t pid) {
    return read_proc_stat(pid).state != ProcStat::gone;
}

} // namespace lab
