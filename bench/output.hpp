// output.hpp - what a run prints: the machine, the Markdown table, the CSV.
#pragma once

#include "harness.hpp"
#include "mechanisms.hpp"

#include <string>
#include <vector>

namespace bench {

// One measurement's figures: microseconds per round trip, or MiB/s.
struct Result {
    const Mechanism* mechanism = nullptr;
    Metric metric = Metric::latency;
    Job job;
    std::string error;    // empty: it passed every check
    bool skipped = false; // --corrupt: nothing to damage
    double median = 0;
    double p99 = 0; // latency: 99th percentile; throughput: 1st (the slow tail)
    std::size_t samples = 0;
};

// Fills median and p99 from the samples (nanoseconds per round trip or per block).
void summarise(Result& result, const std::vector<std::uint64_t>& samples);

// "AMD EPYC (2 CPUs), Linux 6.1.0-18-amd64 x86_64"
std::string machine_description();
// "0.42 0.35 0.30" from /proc/loadavg
std::string load_average();

void print_table(const std::vector<Result>& results, bool verify);
void write_csv(const std::string& path, const std::vector<Result>& results);

} // namespace bench
