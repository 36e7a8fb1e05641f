// protocol.cpp - what both sides of 11-namespaces share: the request format
// and how a client names the namespace it cannot reach. The queues are made
// and used in the programs.
#include "protocol.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace namespaces_lab {

std::optional<Request> parse_request(std::span<const char> body) {
    Request request{};
    std::string problem; // what makes it no request we answer; "" when it is one
    if (body.size() < sizeof request.client_pid) {
        problem = "request of " + std::to_string(body.size()) + " bytes: no room for a pid";
    } else {
        // memcpy: the pid's bytes need not be aligned in the buffer
        std::memcpy(&request.client_pid, body.data(), sizeof request.client_pid);
        std::span<const char> text = body.subspan(sizeof request.client_pid);
        request.message = {text.data(), text.size()};
        if (request.client_pid <= 0) { // an mtype must be > 0
            problem = "request with pid " + std::to_string(request.client_pid);
        } else if (auto wrong = lab::message_problem(request.message)) {
            problem = "pid " + std::to_string(request.client_pid) + ": " + *wrong;
        }
    }
    if (!problem.empty()) {
        lab::log_ignored(problem);
        return std::nullopt;
    }
    return request;
}

std::string ipc_namespace_of(const std::string& pid) {
    std::array<char, 64> link{};
    std::string path = "/proc/" + pid + "/ns/ipc";
    ssize_t got = ::readlink(path.c_str(), link.data(), link.size() - 1);
    return got > 0 ? std::string(link.data(), static_cast<std::size_t>(got)) : std::string();
}

namespace {
// The pid NAME.lock holds (lab::InstanceLock writes it), or "".
std::string server_pid(const std::string& name) {
    std::string path = lab::object_path(topic, name, "lock");
    lab::Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    std::array<char, 32> text{};
    if (!fd) {
        return {};
    }
    ssize_t got = ::read(fd.get(), text.data(), text.size() - 1);
    std::string pid(text.data(), got > 0 ? static_cast<std::size_t>(got) : 0);
    while (!pid.empty() && pid.back() == '\n') {
        pid.pop_back();
    }
    return pid.find_first_not_of("0123456789") == std::string::npos ? pid : std::string();
}
} // namespace

lab::Failure not_running_here(const std::string& name) {
    std::string pid = server_pid(name);
    std::string theirs = pid.empty() ? std::string() : ipc_namespace_of(pid);
    std::string ours = ipc_namespace_of("self");
    if (!theirs.empty() && theirs == ours) { // same namespace: the queue went some other way
        return lab::not_running(name, "no queue in its IPC namespace " + ours + " (ipcrm?)");
    }
    if (!theirs.empty() && !ours.empty()) {
        return lab::not_running(name, "server is in another IPC namespace: pid " + pid + " in " +
                                          theirs + ", this client in " + ours);
    }
    return lab::not_running(name, "server is in another IPC namespace?");
}

} // namespace namespaces_lab
