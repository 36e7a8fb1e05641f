// coordinator.hpp - running one measurement: two processes, placed, bounded.
//
// The coordinator (the ipc-bench process) owns the Pair, so it alone
// removes the objects, whatever happens to the two sides. It forks side A
// and side B, pins them (--pin), and waits - bounded by a deadline, and
// watching SIGINT/SIGTERM - until both have exited. A side that fails writes
// its reason into the shared report and exits 1; the coordinator then kills
// the other side at once (it may be waiting for a message that never comes).
#pragma once

#include "harness.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace bench {

// What the coordinator got back from one measurement.
struct Outcome {
    std::string error; // empty: both sides passed every check
    std::vector<std::uint64_t> samples;
};

// Forks both sides, waits (at most timeout_seconds) and collects their
// samples. Throws lab::Failure (exit 130) once `stop_fd` (lab::StopSignals)
// turns readable: both sides are killed and reaped first.
Outcome run_pair(Pair& pair, const Job& job, const Placement& placement, double timeout_seconds,
                 int stop_fd);

} // namespace bench
