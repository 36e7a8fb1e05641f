#include "signals.hpp"

#include "errors.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>

namespace lab {

namespace {
volatile sig_atomic_t stop_signal_received = 0;
volatile sig_atomic_t wakeup_fd = -1;

extern "C" void on_stop_signal(int signo) {
    int saved_errno = errno; // write() may change errno under the interrupted code
    stop_signal_received = signo;
    if (wakeup_fd >= 0) {
        char byte = 1;
        [[maybe_unused]] ssize_t ignored = ::write(wakeup_fd, &byte, 1); // full pipe: already awake
    }
    errno = saved_errno;
}
} // namespace

StopSignals::StopSignals() {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC | O_NONBLOCK) < 0) {
        throw sys_error("pipe2 (stop signals)");
    }
    read_end_.reset(ends[0]);
    write_end_.reset(ends[1]);
    stop_signal_received = 0;
    wakeup_fd = write_end_.get();

    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; // no SA_RESTART: blocking calls must return EINTR
    if (::sigaction(SIGINT, &action, &old_int_) < 0 ||
        ::sigaction(SIGTERM, &action, &old_term_) < 0) {
        throw sys_error("sigaction SIGINT/SIGTERM");
    }
}

StopSignals::~StopSignals() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
    wakeup_fd = -1;
}

// Members, not static functions, on purpose: the state is only meaningful
// while the object that installed the handlers lives, so callers ask it.
// NOLINTNEXTLINE(readability-convert-member-functions-to-static)
bool StopSignals::requested() const {
    return stop_signal_received != 0;
}

// NOLINTNEXTLINE(readability-convert-member-functions-to-static)
int StopSignals::signal_number() const {
    return stop_signal_received;
}

void StopSignals::throw_if_requested() const {
    if (requested()) {
        throw Failure(std::string("interrupted by ") + ::strsignal(signal_number()));
    }
}

void ignore_sigpipe() {
    struct sigaction action {};
    action.sa_handler = SIG_IGN;
    sigemptyset(&action.sa_mask);
    if (::sigaction(SIGPIPE, &action, nullptr) < 0) {
        throw sys_error("sigaction SIGPIPE");
    }
}

} // namespace lab
