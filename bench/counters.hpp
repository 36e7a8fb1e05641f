// counters.hpp - "n slots are full", "n slots are free": the counters that
// tell one side of a shared-memory ring what the other has done, in the
// three kinds shared_memory.cpp compares.
//
//   SysvCounter   a System V semaphore: semop() enters the kernel every time
//   PosixCounter  an unnamed POSIX semaphore (sem_init, pshared=1) in the
//                 shared memory: an atomic; the kernel (futex) only to sleep
//                 or to wake a sleeper
//   FutexCounter  our own atomic and futex(). When the sides run on
//                 different CPUs: a short spin before sleeping, and a post
//                 wakes a sleeper at once (it can then work in parallel).
//                 When they share one CPU: no spin (the other side cannot
//                 run meanwhile), and a side wakes the other only when it is
//                 about to sleep itself, or is done - on one CPU a wake-up
//                 preempts the waker, so waking per message costs two
//                 context switches per message; deferred, the sides swap
//                 once per ring of messages
//
// Every counter: wait() takes one (sleeping while there is none), post()
// adds one. `posted` is the counter the waiting side itself posts: the
// FutexCounter wakes its sleeper before sleeping; finish() makes the last
// wake-up. Each kind comes with a set, made by the coordinator with the
// initial values: the cells are inside the shared memory, or a System V set.
#pragma once

#include "harness.hpp"
#include "objects.hpp"

#include "errors.hpp"

#include <atomic>
#include <cerrno>
#include <linux/futex.h>
#include <new>
#include <semaphore.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

namespace bench {

inline constexpr std::size_t cache_line_bytes = 64;
// 8 x 64 KiB = 512 KiB: the ring and the sender's chunk stay in a 1 MiB L2
// cache, and on one CPU the sides swap once per 8 chunks, not per chunk.
inline constexpr std::size_t ring_slots = 8;
// Cells for counters: full and free of ring 0, full and free of ring 1.
inline constexpr std::size_t counter_cells = 4;

class SysvCounter {
  public:
    SysvCounter(int set_id, unsigned short number) : set_id_(set_id), number_(number) {}
    void wait(SysvCounter& /*posted*/) { change(-1, "semop -1"); }
    void post() { change(+1, "semop +1"); }
    void finish() {}

  private:
    void change(short delta, const char* what) {
        sembuf operation{number_, delta, 0};
        while (::semop(set_id_, &operation, 1) < 0) {
            if (errno != EINTR) {
                throw lab::sys_error(what);
            }
        }
    }
    int set_id_;
    unsigned short number_;
};

class PosixCounter {
  public:
    explicit PosixCounter(sem_t* semaphore) : semaphore_(semaphore) {}
    void wait(PosixCounter& /*posted*/) {
        while (::sem_wait(semaphore_) < 0) {
            if (errno != EINTR) {
                throw lab::sys_error("sem_wait");
            }
        }
    }
    void post() {
        if (::sem_post(semaphore_) < 0) {
            throw lab::sys_error("sem_post");
        }
    }
    void finish() {}

  private:
    sem_t* semaphore_;
};

struct FutexCell {
    std::atomic<std::uint32_t> value;
    std::atomic<std::uint32_t> sleepers;
};
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                  std::atomic<std::uint32_t>::is_always_lock_free,
              "futex() needs a plain 32-bit word");

class FutexCounter {
  public:
    FutexCounter(FutexCell* cell, bool same_cpu)
        : cell_(cell), spin_limit_(same_cpu ? 0 : spin_iterations), defer_wakes_(same_cpu) {}

    void wait(FutexCounter& posted) {
        for (int i = 0; !try_take(); ++i) {
            if (i == spin_limit_) {
                sleep(posted);
                return;
            }
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause(); // let the other hyperthread run; saves power
#endif
        }
    }
    void post() {
        cell_->value.fetch_add(1);
        if (!defer_wakes_) {
            wake_sleeper();
        }
    }
    void finish() {
        wake_sleeper();
    }
    void wake_sleeper() {
        if (cell_->sleepers.load() > 0 && futex(FUTEX_WAKE, 1) < 0) {
            throw lab::sys_error("futex FUTEX_WAKE");
        }
    }

  private:
    void sleep(FutexCounter& posted) {
        // About to sleep: first wake the other side if it sleeps, or both
        // could sleep, each waiting for what the other posted quietly.
        posted.wake_sleeper();
        // Say we sleep before looking again: wake_sleeper() reads `sleepers`
        // after the post it follows, so either it sees us and wakes us, or
        // we see the post (all seq_cst). futex() sleeps only while the value
        // is still 0, so a post between our look and the call is not missed.
        cell_->sleepers.fetch_add(1);
        while (!try_take()) {
            if (futex(FUTEX_WAIT, 0) < 0 && errno != EAGAIN && errno != EINTR) {
                throw lab::sys_error("futex FUTEX_WAIT");
            }
        }
        cell_->sleepers.fetch_sub(1);
    }
    bool try_take() {
        std::uint32_t value = cell_->value.load();
        while (value > 0) {
            if (cell_->value.compare_exchange_weak(value, value - 1)) {
                return true;
            }
        }
        return false;
    }
    // Not FUTEX_PRIVATE_FLAG: the word is shared between processes.
    long futex(int operation, std::uint32_t value) {
        return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&cell_->value), operation,
                         value, nullptr, nullptr, 0);
    }
    // About 40 us of spinning covers a round trip between two busy CPUs.
    static constexpr int spin_iterations = 4000;
    FutexCell* cell_;
    int spin_limit_;
    bool defer_wakes_;
};

// --- the counter sets, made by the coordinator --------------------------

inline std::vector<unsigned short> initial_values() {
    // full = 0 and free = every slot, for both rings.
    return {0, static_cast<unsigned short>(ring_slots), 0, static_cast<unsigned short>(ring_slots)};
}

class SysvCounters {
  public:
    using Counter = SysvCounter;
    explicit SysvCounters(std::byte* /*cells*/) : set_(initial_values()) {}
    Counter at(std::size_t cell, const Placement& /*placement*/) const {
        return {set_.id(), static_cast<unsigned short>(cell)};
    }

  private:
    SysvSemaphores set_;
};

class PosixCounters {
  public:
    using Counter = PosixCounter;
    explicit PosixCounters(std::byte* cells) : cells_(cells) {
        auto values = initial_values();
        for (std::size_t i = 0; i < counter_cells; ++i) {
            // pshared = 1: the semaphore lives in shared memory and works
            // across processes; 0 would make it private to one process.
            if (::sem_init(semaphore(i), 1, values[i]) < 0) {
                throw lab::sys_error("sem_init");
            }
            initialised_ = i + 1;
        }
    }
    ~PosixCounters() {
        for (std::size_t i = 0; i < initialised_; ++i) {
            ::sem_destroy(semaphore(i));
        }
    }
    PosixCounters(const PosixCounters&) = delete;
    PosixCounters& operator=(const PosixCounters&) = delete;
    Counter at(std::size_t cell, const Placement& /*placement*/) const {
        return Counter(semaphore(cell));
    }

  private:
    sem_t* semaphore(std::size_t cell) const {
        static_assert(sizeof(sem_t) <= cache_line_bytes);
        return reinterpret_cast<sem_t*>(cells_ + cell * cache_line_bytes);
    }
    std::byte* cells_;
    std::size_t initialised_ = 0;
};

class FutexCounters {
  public:
    using Counter = FutexCounter;
    explicit FutexCounters(std::byte* cells) : cells_(cells) {
        auto values = initial_values();
        for (std::size_t i = 0; i < counter_cells; ++i) {
            new (cells_ + i * cache_line_bytes) FutexCell{{values[i]}, {0}};
        }
    }
    Counter at(std::size_t cell, const Placement& placement) const {
        return {std::launder(reinterpret_cast<FutexCell*>(cells_ + cell * cache_line_bytes)),
                placement.same_cpu()};
    }

  private:
    std::byte* cells_;
};

} // namespace bench
