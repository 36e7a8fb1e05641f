// harness.hpp - what a measurement is, as the mechanisms see it: a Job, the
// two Sides, a Pair of processes sharing objects, a Link carrying messages.
//
// The coordinator (coordinator.hpp) builds a Pair, which creates every
// object the measurement needs, and forks side A and side B, which call
// Pair::run(). What a side does:
//
//   latency     A sends message i, B checks it and answers with its own
//               message i, A checks that; A times every round trip.
//   throughput  A sends chunk after chunk, B checks each one; B times every
//               block of chunks (about 1 MiB), after a warm-up.
#pragma once

#include "payload.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <sys/types.h>

namespace bench {

enum class Metric { latency, throughput };
enum class Role { a, b }; // a: starts and times round trips, or sends; b: answers, or receives

// What one measurement does, the same for both sides.
struct Job {
    Metric metric = Metric::latency;
    std::size_t message_bytes = 64; // a latency message, or a throughput chunk
    std::size_t warmup = 0;         // round trips or chunks not timed
    std::size_t count = 0;          // round trips or chunks timed
    std::size_t chunks_per_block = 1;
    bool corrupt = false; // A damages one message; B must notice

    std::size_t total() const { return warmup + count; }
    std::size_t damaged_index() const { return warmup + count / 2; }
};

// Where the sides run: the CPU of each (-1: wherever the scheduler likes).
struct Placement {
    int cpu_a = -1;
    int cpu_b = -1;
    bool same_cpu() const { return cpu_a == cpu_b && cpu_a >= 0; }
};

class Report;

// One side's view of the measurement, in its own process.
class Side {
  public:
    Side(Role role, const Job& job, const Placement& placement, Report& report, int control_fd);

    Role role() const { return role_; }
    const Job& job() const { return job_; }
    const Placement& placement() const { return placement_; }
    pid_t peer_pid() const { return peer_pid_; }

    // The control channel, a socketpair beside the mechanism, for the few
    // set-ups that need the other side to be at a known point first.
    void tell_peer() const;
    void wait_for_peer() const;

    void record(std::uint64_t nanoseconds); // one sample: a round trip or a block
    void fail(const char* what);            // the side's error, with the time it came

  private:
    Role role_;
    const Job& job_;
    const Placement& placement_;
    Report& report_;
    int control_fd_;
    pid_t peer_pid_ = 0;
};

// The objects of one measurement, made (and, in its destructor, removed) by
// the coordinator; run() is called in each side's process after fork().
class Pair {
  public:
    Pair() = default;
    Pair(const Pair&) = delete;
    Pair& operator=(const Pair&) = delete;
    virtual ~Pair() = default;

    virtual void run(Side& side) = 0;
    // In the coordinator, once both sides exited 0: does what is left in the
    // objects agree with every hand-off having happened? (semaphore values)
    virtual void check_end_state() {}
};

// One side's end of a two-way (latency) or one-way (throughput) channel.
class Link {
  public:
    Link() = default;
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;
    virtual ~Link() = default;

    virtual void send(std::span<const std::byte> message) = 0;
    // The next message, whole; valid until release().
    virtual std::span<const std::byte> receive() = 0;
    virtual void release() {}
    // After the last message: a link that defers wake-ups makes the last one.
    virtual void finish() {}
};

// A Pair whose mechanism moves messages: the loops are the same for all of
// them (harness.cpp); each mechanism only opens its Link.
class LinkPair : public Pair {
  public:
    void run(Side& side) final;

  protected:
    virtual std::unique_ptr<Link> open(Side& side) = 0;
};

// What a side throws when a check fails: "checksum mismatch in round trip 57
// (64 bytes, checked by side B)".
std::string mismatch(const Job& job, Role role, std::size_t index, std::size_t received_bytes);

std::uint64_t now_nanoseconds();

} // namespace bench
