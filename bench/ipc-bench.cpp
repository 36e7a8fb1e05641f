// ipc-bench.cpp - what each IPC mechanism of the lab costs, measured side by side.
//
//   ipc-bench [--pin same|cross|none] [--quick|--verify] [--corrupt] [--csv FILE] ...
//
// For each mechanism: the round trip of a 64-byte message between two
// processes (median and 99th percentile, microseconds) and one-way
// throughput in 64 KiB chunks or the mechanism's own unit (MiB/s). Every
// message is checked by its receiver (payload.hpp); a failed check fails
// the run. A Markdown table goes to stdout; --csv writes the figures.
//
// 1. Parse the options (settings.cpp); pick the CPUs for --pin.
// 2. For each mechanism and metric: build its objects (the coordinator owns
//    them: coordinator.hpp), fork the two sides, wait, collect the samples.
// 3. Print the machine, the load average before and after, the table.
#include "coordinator.hpp"
#include "mechanisms.hpp"
#include "objects.hpp"
#include "output.hpp"
#include "settings.hpp"

#include "errors.hpp"
#include "signals.hpp"

#include <cstdio>

namespace {

using namespace bench;

int run(int argc, char** argv) {
    Settings settings = parse_settings(argc, argv);
    if (settings.list) {
        for (const auto& mechanism : mechanisms()) {
            std::printf(
                "%-12s %-16s %s%s%s\n", std::string(mechanism.name).c_str(),
                std::string(mechanism.chapter).c_str(), std::string(mechanism.round_trip).c_str(),
                mechanism.has(Metric::latency) && mechanism.has(Metric::throughput) ? "; " : "",
                std::string(mechanism.chunk).c_str());
        }
        return lab::exit_ok;
    }
    set_verbose(settings.verbose);
    const Sizes& sizes = settings.sizes;
    const Placement& placement = settings.placement;

    lab::ignore_sigpipe();
    lab::StopSignals stop; // SIGINT/SIGTERM: sides killed, objects removed, exit 130
    std::string load_at_start = load_average();
    std::vector<Result> results;
    for (const Mechanism* mechanism : settings.mechanisms) {
        for (Metric metric : {Metric::latency, Metric::throughput}) {
            if (!settings.wants(metric) || !mechanism->has(metric)) {
                continue;
            }
            Result result;
            result.mechanism = mechanism;
            result.metric = metric;
            result.job = job_for(*mechanism, metric, sizes, settings.corrupt);
            std::string label = std::string(mechanism->name) +
                                (metric == Metric::latency ? " latency" : " throughput");
            if (settings.corrupt && !mechanism->carries_data(metric)) {
                result.skipped = true;
                results.push_back(result);
                continue;
            }
            if (settings.verbose) {
                std::fprintf(stderr, "ipc-bench: running %s\n", label.c_str());
            }
            Outcome outcome;
            {
                std::unique_ptr<Pair> pair = mechanism->make(result.job, placement);
                outcome =
                    run_pair(*pair, result.job, placement, settings.timeout_seconds, stop.fd());
            } // the pair's objects are removed here, before the next is made
            result.error = outcome.error;
            if (result.error.empty()) {
                summarise(result, outcome.samples);
            }
            if (!result.error.empty()) {
                std::fprintf(stderr, "ipc-bench: %s: %s\n", label.c_str(), result.error.c_str());
            }
            results.push_back(result);
        }
    }

    std::printf("# ipc-bench%s\n\n", settings.verify ? " --verify" : "");
    std::printf("- placement: %s\n- machine: %s\n- load average: %s at start, %s at end\n",
                settings.placement_text.c_str(), machine_description().c_str(),
                load_at_start.c_str(), load_average().c_str());
    std::printf("- latency: round trip between two processes, %zu timed after %zu warm-up\n"
                "- throughput: one way, %zu MiB timed after %zu MiB warm-up, per ~1 MiB block; "
                "MiB = 2^20 bytes\n\n",
                sizes.round_trips, sizes.warmup_round_trips, sizes.stream_bytes / mebibyte,
                sizes.warmup_bytes / mebibyte);
    print_table(results, settings.verify);
    if (!settings.csv_path.empty()) {
        write_csv(settings.csv_path, results);
    }
    std::size_t failed = 0;
    for (const auto& result : results) {
        failed += result.error.empty() ? 0 : 1;
    }
    if (failed > 0) {
        std::printf("\n%zu of %zu measurements FAILED (reasons on stderr)\n", failed,
                    results.size());
        return lab::exit_failure;
    }
    return lab::exit_ok;
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
