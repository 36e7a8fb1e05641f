// mechanisms.hpp - every mechanism measured, and how each one is made.
#pragma once

#include "harness.hpp"

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

namespace bench {

// Builds the objects of one measurement (job.metric says which).
using MakePair = std::unique_ptr<Pair> (*)(const Job&, const Placement&);

struct Mechanism {
    std::string_view name;       // as in the CSV: "pipe", "sysv-sem", ...
    std::string_view chapter;    // where the lab teaches it
    std::size_t message_bytes;   // a latency message (0: a bare hand-off)
    std::string_view round_trip; // what one round trip is ("": no latency figure)
    std::size_t chunk_bytes;     // a throughput chunk (0: no throughput figure)
    std::string_view chunk;      // what one chunk is, for the table
    MakePair make;

    bool has(Metric metric) const {
        return metric == Metric::latency ? !round_trip.empty() : chunk_bytes > 0;
    }
    // Whether a message carries bytes that --corrupt can damage.
    bool carries_data(Metric metric) const {
        return metric == Metric::throughput || message_bytes > 0;
    }
};

std::span<const Mechanism> mechanisms();

// pipes.cpp
std::unique_ptr<Pair> make_pipe(const Job& job, const Placement& placement);
std::unique_ptr<Pair> make_fifo(const Job& job, const Placement& placement);
// sockets.cpp
std::unique_ptr<Pair> make_unix_stream(const Job& job, const Placement& placement);
std::unique_ptr<Pair> make_unix_dgram(const Job& job, const Placement& placement);
std::unique_ptr<Pair> make_tcp(const Job& job, const Placement& placement);
std::unique_ptr<Pair> make_udp(const Job& job, const Placement& placement);
// queues.cpp
std::unique_ptr<Pair> make_sysv_msg(const Job& job, const Placement& placement);
std::unique_ptr<Pair> make_posix_mq(const Job& job, const Placement& placement);
// shared_memory.cpp
std::unique_ptr<Pair> make_sysv_shm(const Job& job, const Placement& placement);
std::unique_ptr<Pair> make_posix_shm(const Job& job, const Placement& placement);
std::unique_ptr<Pair> make_shm_futex(const Job& job, const Placement& placement);
std::unique_ptr<Pair> make_mmap_file(const Job& job, const Placement& placement);
// notifications.cpp
std::unique_ptr<Pair> make_signal(const Job& job, const Placement& placement);
std::unique_ptr<Pair> make_eventfd(const Job& job, const Placement& placement);
// handoffs.cpp
std::unique_ptr<Pair> make_sysv_sem(const Job& job, const Placement& placement);
std::unique_ptr<Pair> make_posix_sem(const Job& job, const Placement& placement);
std::unique_ptr<Pair> make_file_lock(const Job& job, const Placement& placement);
// reference.cpp: one process copying memory, the ceiling for shared memory
std::unique_ptr<Pair> make_memcpy(const Job& job, const Placement& placement);

} // namespace bench
