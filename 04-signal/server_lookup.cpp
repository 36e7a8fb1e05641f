// server_lookup.cpp - see server_lookup.hpp.
#include "server_lookup.hpp"

#include "protocol.hpp"

#include <cerrno>
#include <cstdint>
#include <fstream>
#include <sstream>

namespace signal_lab {

namespace {
std::string about(pid_t pid) { return "pid " + std::to_string(pid); }

// The hex signal mask after `key` in /proc/PID/status ("SigBlk:\t0000000000010000").
std::uint64_t mask_of(const std::string& status, const std::string& key) {
    auto at = status.find("\n" + key + ":");
    if (at == std::string::npos) {
        return 0;
    }
    return std::strtoull(status.c_str() + at + key.size() + 2, nullptr, 16);
}
} // namespace

pid_t check_server_pid(pid_t pid, int signo) {
    // kill() with signal 0 sends nothing: it only asks "is it there, may I?"
    if (::kill(pid, 0) < 0) {
        if (errno == ESRCH) {
            throw lab::Failure(about(pid) + ": no such process: server not running");
        }
        throw lab::sys_error("kill " + about(pid));
    }
    std::ifstream file("/proc/" + std::to_string(pid) + "/status");
    if (!file) {
        return pid; // /proc hidden from us (hidepid): nothing more to check
    }
    std::ostringstream contents;
    contents << "\n" << file.rdbuf();
    const std::string status = contents.str();
    if (status.find("\nState:\tZ") != std::string::npos) {
        throw lab::Failure(about(pid) + " has exited: server not running");
    }
    const std::uint64_t bit = std::uint64_t{1} << (signo - 1);
    const std::uint64_t takes =
        mask_of(status, "SigBlk") | mask_of(status, "SigCgt") | mask_of(status, "SigIgn");
    if ((takes & bit) == 0) {
        throw lab::Failure(about(pid) + " neither blocks nor catches " + signal_name(signo) +
                           " (it would die of it): not a server; not running");
    }
    return pid;
}

pid_t find_server(const std::string& name, int signo) {
    const std::string path = pid_file_path(name);
    // The instance lock, not the pid file, says whether a server lives: the
    // kernel drops the lock when a server dies, however it dies.
    if (!lab::server_running(topic, name)) {
        std::ifstream leftover(path);
        throw lab::Failure(name + " not running" +
                           (leftover ? " (" + path + " is a killed server's leftover)" : ""));
    }
    std::ifstream file(path);
    long pid = 0;
    if (!file) {
        throw lab::Failure(name + " not running (no " + path + ")"); // starting or stopping
    }
    if (!(file >> pid) || pid <= 0 || pid > INT32_MAX) {
        throw lab::Failure("bad pid file " + path);
    }
    return check_server_pid(static_cast<pid_t>(pid), signo);
}

} // namespace signal_lab
