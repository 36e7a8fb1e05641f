// handoffs.cpp - mechanisms that carry a signal and a word at most: real-time
// signals, eventfd, System V and POSIX semaphores, and fcntl() record locks.
//
// A semaphore or a lock carries no data at all: its "round trip" is two
// hand-offs (A lets B go, B lets A go), and what is checked is that every
// hand-off happened once - the values left in the semaphores at the end, or
// a side left waiting (which the deadline turns into a failure). A signal
// carries its 8-byte sigval, an eventfd its 8-byte counter: both checked.
#include "mechanisms.hpp"
#include "objects.hpp"

#include "errors.hpp"

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/sem.h>
#include <unistd.h>

namespace bench {

namespace {

// --- real-time signals: sigqueue() with a value, sigwaitinfo() ----------

class SignalLink : public Link {
  public:
    explicit SignalLink(const Side& side) : peer_(side.peer_pid()) {
        // Blocked, the signal waits in the queue for sigwaitinfo() instead of
        // running a handler (or killing us: the default action of SIGRTMIN).
        // Both sides block it before either sends.
        sigemptyset(&signals_);
        sigaddset(&signals_, SIGRTMIN);
        if (::sigprocmask(SIG_BLOCK, &signals_, nullptr) < 0) {
            throw lab::sys_error("sigprocmask");
        }
        side.tell_peer();
        side.wait_for_peer();
    }

    void send(std::span<const std::byte> message) override {
        sigval value{};
        static_assert(sizeof value == sizeof(std::uint64_t));
        std::memcpy(&value, message.data(), sizeof value);
        // sigqueue, not kill: real-time signals queue (none is merged) and
        // carry a value. EAGAIN would mean the queue limit (RLIMIT_SIGPENDING).
        if (::sigqueue(peer_, SIGRTMIN, value) < 0) {
            throw lab::sys_error("sigqueue");
        }
    }
    std::span<const std::byte> receive() override {
        siginfo_t info{};
        while (::sigwaitinfo(&signals_, &info) < 0) {
            if (errno != EINTR) {
                throw lab::sys_error("sigwaitinfo");
            }
        }
        if (info.si_code != SI_QUEUE || info.si_pid != peer_) {
            throw lab::Failure("a signal not sent by the other side (from pid " +
                               std::to_string(info.si_pid) + ")");
        }
        std::memcpy(&value_, &info.si_value, sizeof value_);
        return std::as_bytes(std::span(&value_, 1));
    }

  private:
    pid_t peer_;
    sigset_t signals_{};
    std::uint64_t value_ = 0;
};

class SignalPair : public LinkPair {
  protected:
    std::unique_ptr<Link> open(Side& side) override { return std::make_unique<SignalLink>(side); }
};

// --- eventfd: a 64-bit counter behind a descriptor -----------------------

class EventfdLink : public Link {
  public:
    EventfdLink(int out_fd, int in_fd) : out_fd_(out_fd), in_fd_(in_fd) {}

    void send(std::span<const std::byte> message) override {
        // write() adds the 8-byte value to the counter and wakes the reader.
        while (::write(out_fd_, message.data(), message.size()) < 0) {
            if (errno != EINTR) {
                throw lab::sys_error("write eventfd");
            }
        }
    }
    std::span<const std::byte> receive() override {
        // read() waits for a non-zero counter, returns it and resets it to 0.
        while (::read(in_fd_, &value_, sizeof value_) < 0) {
            if (errno != EINTR) {
                throw lab::sys_error("read eventfd");
            }
        }
        return std::as_bytes(std::span(&value_, 1));
    }

  private:
    int out_fd_;
    int in_fd_;
    std::uint64_t value_ = 0;
};

class EventfdPair : public LinkPair {
  public:
    EventfdPair() : a_to_b_(make_eventfd()), b_to_a_(make_eventfd()) {}

  protected:
    std::unique_ptr<Link> open(Side& side) override {
        if (side.role() == Role::a) {
            return std::make_unique<EventfdLink>(a_to_b_.get(), b_to_a_.get());
        }
        return std::make_unique<EventfdLink>(b_to_a_.get(), a_to_b_.get());
    }

  private:
    static lab::Fd make_eventfd() {
        lab::Fd fd(::eventfd(0, EFD_CLOEXEC));
        if (!fd) {
            throw lab::sys_error("eventfd");
        }
        return fd;
    }
    lab::Fd a_to_b_;
    lab::Fd b_to_a_;
};

// --- System V semaphores: lmbench's lat_sem, one semop() per hand-off ----

class SysvSemaphorePair : public Pair {
  public:
    void run(Side& side) override {
        bool is_a = side.role() == Role::a;
        unsigned short mine = is_a ? a_may_go : b_may_go;
        unsigned short theirs = is_a ? b_may_go : a_may_go;
        // One call, applied atomically: wait until ours is 1 and take it,
        // and post theirs. (Post-then-wait cannot be one call: semop()
        // applies all or nothing, so it would wait without posting.)
        std::array<sembuf, 2> take_and_pass{{{mine, -1, 0}, {theirs, +1, 0}}};
        std::uint64_t previous = now_nanoseconds();
        for (std::size_t i = 0; i < side.job().total(); ++i) {
            while (::semop(set_.id(), take_and_pass.data(), take_and_pass.size()) < 0) {
                if (errno != EINTR) {
                    throw lab::sys_error("semop");
                }
            }
            // For A, one semop() returns per round trip: time between returns.
            std::uint64_t now = now_nanoseconds();
            if (is_a && i >= side.job().warmup) {
                side.record(now - previous);
            }
            previous = now;
        }
    }
    void check_end_state() override {
        // Every take was matched by a pass: A's turn is back at 1, B's at 0.
        if (set_.value(a_may_go) != 1 || set_.value(b_may_go) != 0) {
            throw lab::Failure("semaphores left at " + std::to_string(set_.value(a_may_go)) +
                               " and " + std::to_string(set_.value(b_may_go)) +
                               ", want 1 and 0: a hand-off was lost or doubled");
        }
    }

  private:
    static constexpr unsigned short a_may_go = 0;
    static constexpr unsigned short b_may_go = 1;
    static constexpr std::array<unsigned short, 2> initial{1, 0}; // A goes first
    SysvSemaphores set_{initial};
};

// --- POSIX named semaphores: sem_post() the other's, sem_wait() on ours --

void wait_on(sem_t* semaphore) {
    while (::sem_wait(semaphore) < 0) {
        if (errno != EINTR) {
            throw lab::sys_error("sem_wait");
        }
    }
}

void post(sem_t* semaphore) {
    if (::sem_post(semaphore) < 0) {
        throw lab::sys_error("sem_post");
    }
}

int value_of(sem_t* semaphore) {
    int value = 0;
    if (::sem_getvalue(semaphore, &value) < 0) {
        throw lab::sys_error("sem_getvalue");
    }
    return value;
}

class PosixSemaphorePair : public Pair {
  public:
    void run(Side& side) override {
        const Job& job = side.job();
        for (std::size_t i = 0; i < job.total(); ++i) {
            if (side.role() == Role::a) {
                std::uint64_t start = now_nanoseconds();
                post(b_may_go_.get());
                wait_on(a_may_go_.get());
                std::uint64_t end = now_nanoseconds();
                if (i >= job.warmup) {
                    side.record(end - start);
                }
            } else {
                wait_on(b_may_go_.get());
                post(a_may_go_.get());
            }
        }
    }
    void check_end_state() override {
        if (value_of(a_may_go_.get()) != 0 || value_of(b_may_go_.get()) != 0) {
            throw lab::Failure("semaphores not back at 0: a hand-off was lost or doubled");
        }
    }

  private:
    NamedSemaphore a_may_go_{"a-may-go"};
    NamedSemaphore b_may_go_{"b-may-go"};
};

// --- fcntl() record locks: a turn handed over by unlocking ---------------
//
// Releasing a lock wakes a process waiting for it, which is a hand-off. But
// with one or two locks the releaser could take the lock back before the
// woken side runs. Three one-byte locks taken in rotation make that
// impossible: at hand-off h the mover holds locks a and b, the other side
// holds c and waits for a. The mover unlocks a (the other side gets it) and
// waits for c, which the other side unlocks only at the next hand-off,
// after it has taken a. Then (a, b, c) becomes (c, a, b).

class FileLockPair : public Pair {
  public:
    void run(Side& side) override {
        const Job& job = side.job();
        bool is_a = side.role() == Role::a;
        if (is_a) {
            lock(0);
            lock(1);
            side.tell_peer();
            side.wait_for_peer();
        } else {
            side.wait_for_peer();
            lock(2);
            side.tell_peer();
            lock(0); // A's first hand-off releases it
        }
        for (std::size_t i = 0; i < job.total(); ++i) {
            std::size_t h = 2 * i + (is_a ? 0 : 1); // A moves at even hand-offs
            int release = static_cast<int>((3 - h % 3) % 3);
            int take = (release + 2) % 3;
            std::uint64_t start = now_nanoseconds();
            unlock(release);
            if (!is_a && i + 1 == job.total()) {
                break; // B's last: A will not hand over again
            }
            lock(take);
            std::uint64_t end = now_nanoseconds();
            if (is_a && i >= job.warmup) {
                side.record(end - start);
            }
        }
    }

  private:
    void change(int byte, short type, int command) const {
        struct flock range {};
        range.l_type = type;
        range.l_whence = SEEK_SET;
        range.l_start = byte;
        range.l_len = 1;
        while (::fcntl(file_.get(), command, &range) < 0) {
            if (errno != EINTR) { // EDEADLK would mean the rotation is broken
                throw lab::sys_error(command == F_SETLKW ? "fcntl F_SETLKW" : "fcntl F_SETLK");
            }
        }
    }
    void lock(int byte) const { change(byte, F_WRLCK, F_SETLKW); }
    void unlock(int byte) const { change(byte, F_UNLCK, F_SETLK); }

    lab::Fd file_ = anonymous_file("lock");
};

} // namespace

std::unique_ptr<Pair> make_signal(const Job& /*job*/, const Placement& /*placement*/) {
    return std::make_unique<SignalPair>();
}

std::unique_ptr<Pair> make_eventfd(const Job& /*job*/, const Placement& /*placement*/) {
    return std::make_unique<EventfdPair>();
}

std::unique_ptr<Pair> make_sysv_sem(const Job& /*job*/, const Placement& /*placement*/) {
    return std::make_unique<SysvSemaphorePair>();
}

std::unique_ptr<Pair> make_posix_sem(const Job& /*job*/, const Placement& /*placement*/) {
    return std::make_unique<PosixSemaphorePair>();
}

std::unique_ptr<Pair> make_file_lock(const Job& /*job*/, const Placement& /*placement*/) {
    return std::make_unique<FileLockPair>();
}

} // namespace bench
