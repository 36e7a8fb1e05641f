#include "coordinator.hpp"
#include "report.hpp"

#include "deadline.hpp"
#include "errors.hpp"
#include "fd.hpp"

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bench {

constexpr int exit_interrupted = 130; // what a shell reports for a run stopped by SIGINT

namespace {

void pin_to(int cpu) {
    if (cpu < 0) {
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (::sched_setaffinity(0, sizeof set, &set) < 0) {
        throw lab::sys_error("sched_setaffinity CPU " + std::to_string(cpu));
    }
}

// The body of a side's process. It never returns: _exit(), so that none of
// the coordinator's destructors (which remove the objects) run here too.
[[noreturn]] void side_process(pid_t coordinator, Pair& pair, Role role, const Job& job,
                               const Placement& placement, Report& report, int control_fd) {
    int code = 0;
    try {
        // The coordinator's SIGINT/SIGTERM handlers are not ours: die at once,
        // and die with the coordinator (a side owns nothing to clean up).
        ::signal(SIGINT, SIG_DFL);
        ::signal(SIGTERM, SIG_DFL);
        if (::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
            throw lab::sys_error("prctl PR_SET_PDEATHSIG");
        }
        if (::getppid() != coordinator) {
            throw lab::Failure("the coordinator is gone");
        }
        pin_to(role == Role::a ? placement.cpu_a : placement.cpu_b);
        Side side(role, job, placement, report, control_fd);
        pair.run(side);
    } catch (const std::exception& e) {
        report.set_error(role, e.what());
        code = 1;
    }
    // Inherited descriptors are the coordinator's to close; closing our
    // copies keeps a descriptor checker (valgrind --track-fds) quiet.
    ::close_range(3, ~0U, 0);
    ::_exit(code);
}

// A side's process: killed and reaped when its owner goes early.
class SideProcess {
  public:
    SideProcess(pid_t coordinator, Pair& pair, Role role, const Job& job,
                const Placement& placement, Report& report, int control_fd)
        : role_(role) {
        std::fflush(stdout); // or the child's exit could write our buffer a second time
        pid_ = ::fork();
        if (pid_ < 0) {
            throw lab::sys_error("fork");
        }
        if (pid_ == 0) {
            side_process(coordinator, pair, role, job, placement, report, control_fd);
        }
    }
    SideProcess(const SideProcess&) = delete;
    SideProcess& operator=(const SideProcess&) = delete;
    ~SideProcess() { kill(); }

    bool running() const { return pid_ > 0; }
    Role role() const { return role_; }

    // Reaps it if it has exited: true and its wait status; false if still running.
    bool reaped(int& status) {
        pid_t done = ::waitpid(pid_, &status, WNOHANG);
        if (done < 0 && errno != EINTR) {
            throw lab::sys_error("waitpid");
        }
        if (done != pid_) {
            return false;
        }
        pid_ = -1;
        return true;
    }

    // Kills it if still running, and reaps it.
    void kill() {
        if (running()) {
            ::kill(pid_, SIGKILL);
            reap();
        }
    }

  private:
    void reap() {
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
    }

    Role role_;
    pid_t pid_ = -1;
};

// SIGCHLD as a descriptor: blocked (so it stays pending until read) and
// delivered through signalfd(), so one poll() watches both sides, the
// deadline and SIGINT at once. Blocked before the first fork(): an exit
// can never come unnoticed between fork() and poll().
class ChildExits {
  public:
    ChildExits() {
        sigset_t child;
        sigemptyset(&child);
        sigaddset(&child, SIGCHLD);
        if (::sigprocmask(SIG_BLOCK, &child, &old_mask_) < 0) {
            throw lab::sys_error("sigprocmask");
        }
        fd_.reset(::signalfd(-1, &child, SFD_NONBLOCK | SFD_CLOEXEC));
        if (!fd_) {
            int saved = errno;
            ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
            throw lab::sys_error(saved, "signalfd");
        }
    }
    ~ChildExits() { ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr); }
    ChildExits(const ChildExits&) = delete;
    ChildExits& operator=(const ChildExits&) = delete;

    int fd() const { return fd_.get(); }
    // Empties the descriptor: one SIGCHLD may stand for both exits, so the
    // caller then asks waitpid() about each side.
    void drain() const {
        signalfd_siginfo info{};
        while (::read(fd_.get(), &info, sizeof info) == sizeof info) {
        }
    }

  private:
    sigset_t old_mask_{};
    lab::Fd fd_;
};

std::string describe_exit(const SideProcess& side, int status) {
    std::string name = side.role() == Role::a ? "side A" : "side B";
    if (WIFSIGNALED(status)) {
        return name + " killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
               ::strsignal(WTERMSIG(status)) + ")";
    }
    return name + " exited with status " + std::to_string(WEXITSTATUS(status));
}

} // namespace

Outcome run_pair(Pair& pair, const Job& job, const Placement& placement, double timeout_seconds,
                 int stop_fd) {
    std::size_t capacity =
        job.metric == Metric::latency ? job.count : job.count / job.chunks_per_block;
    Report report(capacity);
    int ends[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) < 0) {
        throw lab::sys_error("socketpair (control)");
    }
    lab::Fd control_a(ends[0]);
    lab::Fd control_b(ends[1]);

    ChildExits exits; // before the sides exist
    pid_t coordinator = ::getpid();
    std::array<SideProcess, 2> sides{
        SideProcess(coordinator, pair, Role::a, job, placement, report, control_a.get()),
        SideProcess(coordinator, pair, Role::b, job, placement, report, control_b.get())};
    Outcome outcome;
    std::string first_bad_exit; // for a side that died without saying why
    lab::Deadline deadline(timeout_seconds);
    while (sides[0].running() || sides[1].running()) {
        std::array<pollfd, 2> fds{{{exits.fd(), POLLIN, 0}, {stop_fd, POLLIN, 0}}};
        int ready = ::poll(fds.data(), fds.size(), deadline.milliseconds_left());
        if (ready < 0 && errno != EINTR) {
            throw lab::sys_error("poll");
        }
        if (fds[1].revents != 0) {
            throw lab::Failure("interrupted", exit_interrupted); // ~SideProcess kills both
        }
        if (ready == 0 && deadline.expired()) {
            outcome.error = "timed out after " + std::to_string(static_cast<int>(timeout_seconds)) +
                            " s (a side is still waiting for a message or hand-off)";
            break;
        }
        exits.drain();
        for (std::size_t i = 0; i < sides.size(); ++i) {
            int status = 0;
            if (!sides[i].running() || !sides[i].reaped(status)) {
                continue;
            }
            if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                continue;
            }
            if (first_bad_exit.empty()) {
                first_bad_exit = describe_exit(sides[i], status);
            }
            sides[1 - i].kill(); // it may wait forever for the one that failed
        }
    }
    for (auto& side : sides) {
        side.kill();
    }
    if (outcome.error.empty() && !first_bad_exit.empty()) {
        outcome.error = report.first_error();
        if (outcome.error.empty()) {
            outcome.error = first_bad_exit;
        }
    }
    if (outcome.error.empty()) {
        try {
            pair.check_end_state();
        } catch (const std::exception& e) {
            outcome.error = e.what();
        }
    }
    outcome.samples = report.samples();
    return outcome;
}

} // namespace bench
