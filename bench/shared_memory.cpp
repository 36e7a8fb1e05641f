// shared_memory.cpp - System V and POSIX shared memory, a file mapped
// MAP_SHARED, and a lock-free variant that shows the floor.
//
// Shared memory moves no bytes through the kernel: the sender copies the
// message into a slot both processes map, and the receiver checks it right
// there. What remains is telling the other side that a slot is full (or
// free again), and that is where the variants differ:
//   sysv-shm    a System V segment; System V semaphores, a semop() system
//               call for every post and every wait;
//   posix-shm   a POSIX segment; unnamed POSIX semaphores (sem_init with
//               pshared=1) inside it, which enter the kernel only to sleep
//               or to wake a sleeper (futex);
//   mmap-file   the same semaphores in a regular file mapped MAP_SHARED;
//   shm-futex   a lock-free single-producer ring: atomic counters, a short
//               spin when the two sides run on different CPUs (no spin
//               when they share one: the other side cannot run meanwhile),
//               then futex() to sleep; and a side wakes the other only when
//               it is about to sleep itself (or is done). On one CPU a
//               wake-up preempts the waker, so a semaphore post per chunk
//               costs two context switches per chunk; deferred, the sides
//               swap once per ring. The floor for shared memory.
// Latency uses two one-slot mailboxes (A to B, B to A); throughput a ring
// of 64 KiB slots with a "full" and a "free" counter.
#include "mechanisms.hpp"
#include "objects.hpp"

#include "errors.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <linux/futex.h>
#include <new>
#include <optional>
#include <semaphore.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

namespace bench {

namespace {

constexpr std::size_t cache_line_bytes = 64;
// 8 x 64 KiB = 512 KiB: the ring and the sender's chunk stay in a 1 MiB L2
// cache, and on one CPU the sides swap once per 8 chunks, not per chunk.
constexpr std::size_t ring_slots = 8;
// Cells for counters: full and free of ring 0, full and free of ring 1.
constexpr std::size_t counter_cells = 4;

// --- the counters: "n slots are full" / "n slots are free" -------------

// Every counter: wait() takes one (sleeping while there is none), post()
// adds one. `posted` is the counter this side posts, for a counter that
// wakes the other side only before it sleeps; finish() makes the last wake.
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
    FutexCounter(FutexCell* cell, int spin_limit) : cell_(cell), spin_limit_(spin_limit) {}

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
    } // quietly: see sleep()
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
    FutexCell* cell_;
    int spin_limit_;
};

// --- the counter sets, made by the coordinator --------------------------

std::vector<unsigned short> initial_values() {
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
        // Spinning pays only when the other side runs meanwhile, on another
        // CPU; about 40 us of it covers a round trip between two busy CPUs.
        constexpr int spin_iterations = 4000;
        return {std::launder(reinterpret_cast<FutexCell*>(cells_ + cell * cache_line_bytes)),
                placement.spin_makes_sense() ? spin_iterations : 0};
    }

  private:
    std::byte* cells_;
};

// --- rings of slots, and the link over them ------------------------------

template <class Counter>
struct Ring {
    std::byte* slots;
    std::size_t slot_bytes;
    std::size_t slot_count;
    Counter full;
    std::optional<Counter> free; // none for a mailbox: the round trip frees it
    std::size_t position = 0;

    std::byte* slot() const { return slots + position * slot_bytes; }
    void advance() { position = (position + 1) % slot_count; }
};

template <class Counter>
class RingLink : public Link {
  public:
    RingLink(std::optional<Ring<Counter>> out, std::optional<Ring<Counter>> in,
             std::size_t message_bytes)
        : out_(std::move(out)), in_(std::move(in)), message_bytes_(message_bytes) {}

    void send(std::span<const std::byte> message) override {
        if (out_->free) {
            out_->free->wait(posted()); // a slot the receiver is done with
        }
        std::memcpy(out_->slot(), message.data(), message.size());
        out_->full.post(); // a release: the copy is visible before the count
        out_->advance();
    }
    std::span<const std::byte> receive() override {
        in_->full.wait(posted()); // an acquire: the slot's bytes are there
        return {in_->slot(), message_bytes_};
    }
    void release() override {
        if (in_->free) {
            in_->free->post();
        }
        in_->advance();
    }
    void finish() override { posted().finish(); }

  private:
    // The one counter this side posts: "full" of the ring it writes, or
    // "free" of the ring it only reads (throughput's receiver).
    Counter& posted() { return out_ ? out_->full : *in_->free; }

    std::optional<Ring<Counter>> out_;
    std::optional<Ring<Counter>> in_;
    std::size_t message_bytes_;
};

// Where things lie in the shared memory: ring 0 (A to B), ring 1 (B to A,
// latency only), then the counter cells, one cache line each.
struct Geometry {
    std::size_t slot_bytes;
    std::size_t slot_count;
    std::size_t rings;
    std::size_t ring_bytes() const { return slot_bytes * slot_count; }
    std::size_t cells_offset() const { return rings * ring_bytes(); }
    std::size_t total_bytes() const { return cells_offset() + counter_cells * cache_line_bytes; }
};

Geometry geometry_for(const Job& job) {
    std::size_t slot_bytes =
        (job.message_bytes + cache_line_bytes - 1) / cache_line_bytes * cache_line_bytes;
    if (job.metric == Metric::latency) {
        return {slot_bytes, 1, 2};
    }
    return {slot_bytes, ring_slots, 1};
}

template <class Counters>
class SharedMemoryPair : public LinkPair {
  public:
    SharedMemoryPair(const Job& job, const Placement& placement, std::unique_ptr<Memory> memory)
        : geometry_(geometry_for(job)), placement_(placement), memory_(std::move(memory)),
          counters_(memory_->data() + geometry_.cells_offset()) {}

  protected:
    std::unique_ptr<Link> open(Side& side) override {
        using Counter = typename Counters::Counter;
        std::optional<Ring<Counter>> out;
        std::optional<Ring<Counter>> in;
        bool is_a = side.role() == Role::a;
        if (side.job().metric == Metric::latency) {
            (is_a ? out : in) = mailbox(0);
            (is_a ? in : out) = mailbox(1);
        } else {
            (is_a ? out : in) = Ring<Counter>{memory_->data(), geometry_.slot_bytes,
                                              geometry_.slot_count, counter(0), counter(1)};
        }
        return std::make_unique<RingLink<Counter>>(std::move(out), std::move(in),
                                                   side.job().message_bytes);
    }

  private:
    typename Counters::Counter counter(std::size_t cell) const {
        return counters_.at(cell, placement_);
    }
    Ring<typename Counters::Counter> mailbox(std::size_t ring) const {
        return {memory_->data() + ring * geometry_.ring_bytes(), geometry_.slot_bytes, 1,
                counter(2 * ring), std::nullopt};
    }

    Geometry geometry_;
    Placement placement_;
    std::unique_ptr<Memory> memory_;
    Counters counters_; // after memory_: made inside it, destroyed before it
};

} // namespace

std::unique_ptr<Pair> make_sysv_shm(const Job& job, const Placement& placement) {
    return std::make_unique<SharedMemoryPair<SysvCounters>>(
        job, placement, std::make_unique<SysvSegment>(geometry_for(job).total_bytes()));
}

std::unique_ptr<Pair> make_posix_shm(const Job& job, const Placement& placement) {
    return std::make_unique<SharedMemoryPair<PosixCounters>>(
        job, placement, std::make_unique<PosixSegment>(geometry_for(job).total_bytes()));
}

std::unique_ptr<Pair> make_shm_futex(const Job& job, const Placement& placement) {
    return std::make_unique<SharedMemoryPair<FutexCounters>>(
        job, placement, std::make_unique<PosixSegment>(geometry_for(job).total_bytes()));
}

std::unique_ptr<Pair> make_mmap_file(const Job& job, const Placement& placement) {
    return std::make_unique<SharedMemoryPair<PosixCounters>>(
        job, placement, std::make_unique<FileMapping>(geometry_for(job).total_bytes()));
}

} // namespace bench
