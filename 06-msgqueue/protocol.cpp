// protocol.cpp - what both sides of 06-msgqueue share: the queue shapes and a leftover's takeover
// (POSIX), the request format and a client's check while it waits. The queues are made and used in
// the programs.
#include "protocol.hpp"

#include <fcntl.h>
#include <optional>

namespace msgqueue_lab {

namespace {
std::string kind_of(const QueueShape& shape) {
    if (shape == server_queue_shape) {
        return "a server queue";
    }
    return shape == reply_queue_shape ? "a reply queue" : "a foreign queue";
}
} // namespace

std::string shape_mismatch(mqd_t queue, const QueueShape& expected) {
    mq_attr attributes{};
    if (::mq_getattr(queue, &attributes) < 0) {
        return std::string("cannot tell what it is: mq_getattr: ") + std::strerror(errno);
    }
    QueueShape found{attributes.mq_maxmsg, attributes.mq_msgsize};
    if (found == expected) {
        return {};
    }
    return "it is " + kind_of(found) + " (mq_maxmsg " + std::to_string(found.max_messages) +
           ", mq_msgsize " + std::to_string(found.message_bytes) + "), not " + kind_of(expected);
}

std::string shape_mismatch_at(const std::string& name, const QueueShape& expected) {
    // O_NONBLOCK and no mq_receive: looking takes nothing out and never waits.
    mqd_t queue = ::mq_open(name.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (queue == static_cast<mqd_t>(-1)) {
        if (errno == ENOENT) {
            return {}; // gone meanwhile: nobody's queue to harm
        }
        return std::string("cannot tell what it is: mq_open: ") + std::strerror(errno);
    }
    PosixQueue opened(queue); // closed when done; never removed from here
    return shape_mismatch(opened.get(), expected);
}

bool remove_leftover_queue(const std::string& name, const QueueShape& shape) {
    // Never remove a queue of the other kind: it may be a live server's or
    // client's (see QueueShape).
    if (std::string clash = shape_mismatch_at(name, shape); !clash.empty()) {
        throw name_clash(name, clash);
    }
    if (::mq_unlink(name.c_str()) == 0) {
        return true;
    }
    if (errno != ENOENT) { // ENOENT: gone meanwhile, nothing to take over
        throw lab::sys_error("mq_unlink leftover " + name);
    }
    return false;
}

std::optional<ParsedRequest> parse_request(std::span<const char> body) {
    pid_t pid = 0;
    if (body.size() < sizeof pid) {
        lab::log_ignored("request of " + std::to_string(body.size()) +
                         " bytes: too short to hold a pid");
        return std::nullopt;
    }
    std::memcpy(&pid, body.data(), sizeof pid); // memcpy: the bytes need not be aligned
    if (pid <= 0) {
        lab::log_ignored("request with pid " + std::to_string(pid));
        return std::nullopt;
    }
    std::string_view message(body.data() + sizeof pid, body.size() - sizeof pid);
    if (std::optional<std::string> problem = lab::message_problem(message)) {
        lab::log_ignored("pid " + std::to_string(pid) + ": " + *problem);
        return std::nullopt;
    }
    return ParsedRequest{pid, message};
}

void check_still_waiting(std::string_view topic, const std::string& name,
                         const lab::Deadline& deadline, double timeout_seconds) {
    if (!lab::server_running(topic, name)) {
        throw lab::not_running(name, "it went away");
    }
    if (deadline.expired()) {
        throw lab::timed_out(timeout_seconds, "server " + name);
    }
}

} // namespace msgqueue_lab
