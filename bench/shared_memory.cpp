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
#include "counters.hpp"
#include "mechanisms.hpp"
#include "objects.hpp"

#include <cstring>
#include <optional>

namespace bench {

namespace {

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
