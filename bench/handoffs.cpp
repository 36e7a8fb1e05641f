// handoffs.cpp - System V and POSIX semaphores, and fcntl() record locks:
// mechanisms that carry no data at all, only a turn.
//
// Their "round trip" is two hand-offs (A lets B go, B lets A go). What is
// checked is that every hand-off happened exactly once: the values left in
// the semaphores at the end, or a side left waiting, which the deadline
// turns into a failure.
#include "mechanisms.hpp"
#include "objects.hpp"

#include "errors.hpp"

#include <array>
#include <cerrno>
#include <fcntl.h>
#include <semaphore.h>
#include <sys/sem.h>
#include <unistd.h>

namespace bench {

namespace {

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
