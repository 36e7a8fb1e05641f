// client-lookup.cpp - see client-lookup.hpp.
#include "client-lookup.hpp"

#include "protocol.hpp"

#include <cerrno>
#include <cstdint>
#include <fstream>

namespace signal_lab {

namespace {
std::string about(pid_t pid) {
    return "pid " + std::to_string(pid);
}
} // namespace

pid_t check_server_pid(pid_t pid) {
    // kill() with signal 0 sends nothing: it only asks "is it there, may I?"
    if (::kill(pid, 0) < 0) {
        if (errno == ESRCH) {
            throw lab::not_running(about(pid), "no such process");
        }
        throw lab::sys_error("kill " + about(pid));
    }
    if (!lab::process_alive(pid)) { // kill(pid, 0) succeeds on a zombie too
        throw lab::not_running(about(pid), "it has exited");
    }
    return pid;
}

pid_t find_server(const std::string& name) {
    const std::string path = pid_file_path(name);
    // The instance lock, not the pid file, says whether a server lives: the
    // kernel drops the lock when a server dies, however it dies.
    if (!lab::server_running(topic, name)) {
        std::ifstream leftover(path);
        throw lab::not_running(name, leftover ? path + " is a killed server's leftover" : "");
    }
    std::ifstream file(path);
    long pid = 0;
    if (!file) {
        throw lab::not_running(name, "no " + path); // starting or stopping
    }
    if (!(file >> pid) || pid <= 0 || pid > INT32_MAX) {
        throw lab::Failure("bad pid file " + path);
    }
    return check_server_pid(static_cast<pid_t>(pid));
}

} // namespace signal_lab
