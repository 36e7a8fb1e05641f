#include "signals.hpp"

#include "errors.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <ranges>
#include <string>
#include <unistd.h>

namespace lab {

namespace {
volatile sig_atomic_t stop_signal_received = 0;
volatile sig_atomic_t wakeup_fd = -1;
int stopped_fd = -1; // the live StopSignals' read end, for write_unless_stopped

// The lists of signals.hpp, in the same order.
constexpr std::array stop_signals{SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGXCPU};
constexpr std::array ignored_standard_signals{SIGUSR1, SIGUSR2, SIGALRM,   SIGVTALRM, SIGPROF,
                                              SIGIO,   SIGPWR,  SIGSTKFLT, SIGXFSZ};

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

StopSignals::StopSignals(Keeping /*tag*/, std::initializer_list<int> own) {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC | O_NONBLOCK) < 0) {
        throw sys_error("pipe2 (stop signals)");
    }
    read_end_.reset(ends[0]);
    write_end_.reset(ends[1]);
    stop_signal_received = 0;
    wakeup_fd = write_end_.get();
    stopped_fd = read_end_.get();

    auto is_own = [&own](int signo) {
        return std::find(own.begin(), own.end(), signo) != own.end();
    };
    try {
        struct sigaction stop {};
        stop.sa_handler = on_stop_signal;
        sigemptyset(&stop.sa_mask);
        stop.sa_flags = 0; // no SA_RESTART: blocking calls must return EINTR
        sigemptyset(&handled_);
        for (int signo : stop_signals) {
            if (!is_own(signo)) {
                change(signo, stop);
                sigaddset(&handled_, signo);
            }
        }
        // Delivered from now on, even if blocked: by a parent that started
        // us with them blocked, or by an earlier StopSignals' destructor.
        if (::sigprocmask(SIG_UNBLOCK, &handled_, nullptr) < 0) {
            throw sys_error("sigprocmask (stop signals)");
        }
        struct sigaction ignore {};
        ignore.sa_handler = SIG_IGN;
        sigemptyset(&ignore.sa_mask);
        for (int signo : ignored_standard_signals) {
            if (!is_own(signo)) {
                change(signo, ignore);
            }
        }
        for (int signo = SIGRTMIN; signo <= SIGRTMAX; ++signo) {
            if (!is_own(signo)) {
                change(signo, ignore);
            }
        }
    } catch (...) {
        restore(); // the constructor did not finish: no destructor will run
        throw;
    }
}

void StopSignals::change(int signal_number, const struct sigaction& action) {
    Changed entry{signal_number, {}};
    if (::sigaction(signal_number, &action, &entry.previous) < 0) {
        // Valgrind keeps one real-time signal for itself and refuses it:
        // nobody else can send that one to us either.
        if (errno == EINVAL && signal_number >= SIGRTMIN) {
            return;
        }
        throw sys_error("sigaction " + std::string(::strsignal(signal_number)));
    }
    changed_.push_back(entry);
}

StopSignals::~StopSignals() {
    // What the program made before this object goes after it, in the
    // destructors still to run: a stop signal now, with its default action
    // back, would kill the program halfway out (a lock file left behind, its
    // exit status lost to "killed by SIGTERM"). So the stop signals handled
    // here stay blocked from now on: one that comes waits, pending, and is
    // dropped when the process exits with its own status.
    ::sigprocmask(SIG_BLOCK, &handled_, nullptr);
    restore();
}

void StopSignals::restore() {
    for (std::size_t i = changed_.size(); i-- > 0;) { // last changed, first restored
        ::sigaction(changed_[i].signal_number, &changed_[i].previous, nullptr);
    }
    changed_.clear();
    wakeup_fd = -1;
    stopped_fd = -1;
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

bool write_unless_stopped(int fd, std::string_view data, const char* what) {
    while (!data.empty()) {
        std::size_t chunk = data.size();
        if (stopped_fd >= 0) {
            // Wait for room or a stop, whichever comes first. Once a stop
            // came, its pipe stays readable: this never waits again.
            std::array<pollfd, 2> fds{{{fd, POLLOUT, 0}, {stopped_fd, POLLIN, 0}}};
            if (::poll(fds.data(), fds.size(), -1) < 0) {
                if (errno == EINTR) {
                    continue;
                }
                throw sys_error(what);
            }
            if (fds[0].revents == 0) {
                return false; // stopped, and no room: drop the rest
            }
            // A pipe with room takes PIPE_BUF bytes without blocking.
            chunk = std::min<std::size_t>(chunk, PIPE_BUF);
        }
        ssize_t written = ::write(fd, data.data(), chunk);
        if (written < 0) {
            if (errno == EINTR) {
                continue; // a stop: the poll above decides
            }
            throw sys_error(what);
        }
        data.remove_prefix(static_cast<std::size_t>(written));
    }
    return true;
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
