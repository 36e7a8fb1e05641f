// settings.hpp - ipc-bench's command line, and what it decides: the sizes,
// the mechanisms, where the two sides run, and the Job of each measurement.
#pragma once

#include "harness.hpp"
#include "mechanisms.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace bench {

inline constexpr std::size_t mebibyte = std::size_t{1024} * 1024;

struct Sizes {
    std::size_t round_trips;
    std::size_t warmup_round_trips;
    std::size_t stream_bytes;
    std::size_t warmup_bytes;
};

struct Settings {
    bool verify = false;
    bool corrupt = false;
    bool verbose = false;
    bool list = false;
    std::string csv_path;
    std::string metric = "both"; // latency, throughput or both
    double timeout_seconds = 60;
    Sizes sizes{};
    std::vector<const Mechanism*> mechanisms;
    Placement placement;
    std::string placement_text; // "same (both sides on CPU 0)"

    bool wants(Metric m) const {
        return metric == "both" || metric == (m == Metric::latency ? "latency" : "throughput");
    }
};

// Throws lab::UsageError (exit 2) on a bad command line.
Settings parse_settings(int argc, char** argv);

Job job_for(const Mechanism& mechanism, Metric metric, const Sizes& sizes, bool corrupt);

} // namespace bench
