// protocol.cpp - the helpers of protocol.hpp that are more than a line.
#include "protocol.hpp"

#include <fcntl.h>

namespace msgqueue {

namespace {
extern "C" void on_tick(int /*signo*/) {} // its only job is to interrupt msgsnd/msgrcv

itimerval every_milliseconds(int interval_ms) {
    itimerval timer{};
    timer.it_interval.tv_sec = interval_ms / 1000;
    timer.it_interval.tv_usec = (interval_ms % 1000) * 1000L;
    timer.it_value = timer.it_interval;
    return timer;
}
} // namespace

Ticker::Ticker(int interval_ms) {
    struct sigaction action {};
    action.sa_handler = on_tick;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    if (::sigaction(SIGALRM, &action, nullptr) < 0) {
        throw lab::sys_error("sigaction SIGALRM");
    }
    itimerval timer = every_milliseconds(interval_ms);
    if (::setitimer(ITIMER_REAL, &timer, nullptr) < 0) {
        throw lab::sys_error("setitimer");
    }
}

Ticker::~Ticker() {
    itimerval off{};
    ::setitimer(ITIMER_REAL, &off, nullptr);
    // A tick may be on its way already: with SIGALRM's default action back,
    // it would kill us in the middle of cleaning up. SIG_IGN drops a pending
    // one, and any that is still late.
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    ::sigaction(SIGALRM, &ignore, nullptr);
}

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
    PosixQueue opened(queue, ""); // closed when done; never removed from here
    return shape_mismatch(opened.get(), expected);
}

PosixQueue create_posix_queue(const std::string& name, int access, const QueueShape& shape,
                              bool& took_over) {
    mq_attr attributes{};
    attributes.mq_maxmsg = shape.max_messages;
    attributes.mq_msgsize = shape.message_bytes;
    took_over = false;
    // Another process may make or remove the name between our calls: a few
    // rounds, then give up.
    constexpr int max_attempts = 3;
    for (int attempt = 1;; ++attempt) {
        mqd_t queue =
            ::mq_open(name.c_str(), access | O_CREAT | O_EXCL | O_CLOEXEC, owner_only, &attributes);
        if (queue != static_cast<mqd_t>(-1)) {
            return {queue, name};
        }
        if (errno != EEXIST || attempt == max_attempts) {
            throw lab::sys_error("mq_open " + name);
        }
        // Never remove a queue of the other kind: it may be a live server's
        // or client's (see QueueShape).
        if (std::string clash = shape_mismatch_at(name, shape); !clash.empty()) {
            throw name_clash(name, clash);
        }
        if (::mq_unlink(name.c_str()) == 0) {
            took_over = true;
        } else if (errno != ENOENT) {
            throw lab::sys_error("mq_unlink leftover " + name);
        }
    }
}

std::string parse_server_options(int argc, char** argv, const char* description) {
    std::string name;
    lab::Options options("[--name NAME]", description);
    options.add_name(name);
    if (auto operands = options.parse(argc, argv); !operands.empty()) {
        throw lab::UsageError("unexpected argument '" + operands.front() + "'");
    }
    return name;
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
    try {
        lab::check_message(message);
    } catch (const lab::UsageError& e) {
        lab::log_ignored("pid " + std::to_string(pid) + ": " + e.what());
        return std::nullopt;
    }
    return ParsedRequest{pid, message};
}

void check_still_waiting(std::string_view topic, const std::string& name,
                         const lab::Deadline& deadline, double timeout_seconds) {
    if (!lab::server_running(topic, name)) {
        throw lab::Failure("server " + name + " not running any more (it went away)");
    }
    if (deadline.expired()) {
        char seconds[32];
        std::snprintf(seconds, sizeof seconds, "%g", timeout_seconds);
        throw lab::Failure("timed out after " + std::string(seconds) + "s waiting for server " +
                           name);
    }
}

} // namespace msgqueue
