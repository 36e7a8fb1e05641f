// procfs.cpp - see procfs.hpp.
#include "procfs.hpp"

#include <fstream>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace signal_lab {

std::optional<unsigned long long> process_start_time(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) {
        return std::nullopt; // no such process (any more)
    }
    // "PID (COMM) STATE PPID ...": COMM may hold spaces and ')', so the
    // fields are counted from the last ')'.
    auto comm_end = line.rfind(')');
    if (comm_end == std::string::npos) {
        return std::nullopt;
    }
    std::istringstream fields(line.substr(comm_end + 1));
    std::string state;
    fields >> state;
    if (state == "Z" || state == "X") {
        return std::nullopt;
    }
    std::string skipped;
    for (int field = 4; field < 22; ++field) { // STATE was field 3; starttime is 22
        fields >> skipped;
    }
    unsigned long long start_time = 0;
    if (!(fields >> start_time)) {
        return std::nullopt;
    }
    return start_time;
}

std::optional<std::string> why_not_a_client(pid_t pid, int message_signal) {
    if (pid <= 1) {
        return "no client has that pid";
    }
    if (pid == ::getpid()) {
        return "that is this server's own pid (forged)";
    }
    const std::string dir = "/proc/" + std::to_string(pid);
    struct stat owner {};
    if (::stat(dir.c_str(), &owner) < 0) {
        return "sender exited";
    }
    if (owner.st_uid != ::getuid()) {
        return "owned by uid " + std::to_string(owner.st_uid) + ", not ours";
    }
    // "SigBlk:\t0000000200000000": hex, bit N-1 for signal N.
    std::ifstream status(dir + "/status");
    unsigned long long blocked = 0;
    unsigned long long caught = 0;
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("SigBlk:", 0) == 0) {
            blocked = std::stoull(line.substr(7), nullptr, 16);
        } else if (line.rfind("SigCgt:", 0) == 0) {
            caught = std::stoull(line.substr(7), nullptr, 16);
        }
    }
    const unsigned long long bit = 1ULL << (message_signal - 1);
    if (((blocked | caught) & bit) == 0) {
        return "it neither blocks nor catches SIGRTMIN, so it is no client (forged pid?)";
    }
    return std::nullopt;
}

} // namespace signal_lab
