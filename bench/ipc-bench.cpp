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
// 1. Parse the options; pick the CPUs for --pin from our affinity mask.
// 2. For each mechanism and metric: build its objects (harness.hpp: the
//    coordinator owns them), fork the two sides, wait, collect the samples.
// 3. Print the machine, the load average before and after, the table.
#include "mechanisms.hpp"
#include "objects.hpp"
#include "output.hpp"

#include "errors.hpp"
#include "options.hpp"
#include "signals.hpp"

#include <cstdio>
#include <sched.h>
#include <sstream>

namespace {

using namespace bench;

constexpr std::size_t mebibyte = std::size_t{1024} * 1024;

struct Sizes {
    std::size_t round_trips;
    std::size_t warmup_round_trips;
    std::size_t stream_bytes;
    std::size_t warmup_bytes;
};
constexpr Sizes full_sizes{20'000, 2'000, 256 * mebibyte, 16 * mebibyte};
constexpr Sizes quick_sizes{2'000, 200, 32 * mebibyte, 4 * mebibyte};
constexpr Sizes verify_sizes{100, 10, 2 * mebibyte, 1 * mebibyte};
// Throughput is timed per block of chunks, about this many bytes each.
constexpr std::size_t block_bytes = mebibyte;

struct Settings {
    std::string pin = "same";
    bool quick = false;
    bool verify = false;
    bool corrupt = false;
    bool verbose = false;
    bool list = false;
    std::string csv_path;
    std::string only; // comma-separated mechanism names; empty: all
    std::string metric = "both";
    double timeout_seconds = 60;
    long round_trips = 0; // 0: as the mode says
    long mebibytes = 0;
};

Settings parse_options(int argc, char** argv) {
    Settings settings;
    lab::Options options("[--pin same|cross|none] [--quick|--verify] [--corrupt] [--csv FILE] "
                         "[--only NAME,...] [--metric latency|throughput|both]",
                         "Measures what each IPC mechanism costs: the round trip of a 64-byte "
                         "message\nbetween two processes, and one-way throughput. Every message "
                         "is checked.");
    options.value("--pin", "WHERE",
                  "same: both sides on one CPU (default); cross: one CPU each; none: unpinned",
                  [&](const std::string& text) {
                      if (text != "same" && text != "cross" && text != "none") {
                          throw lab::UsageError("bad value '" + text +
                                                "' for --pin: want same, cross or none");
                      }
                      settings.pin = text;
                  });
    options.flag("--quick", "small sizes: a run of seconds", settings.quick);
    options.flag("--verify", "tiny sizes, checks only: fails on any bad message", settings.verify);
    options.flag("--corrupt", "self-test: damage one message per measurement; must fail",
                 settings.corrupt);
    options.value("--csv", "FILE", "also write mechanism,metric,size_bytes,count,median,p99,unit",
                  [&](const std::string& text) { settings.csv_path = text; });
    options.value("--only", "NAME,...", "only these mechanisms (see --list)",
                  [&](const std::string& text) { settings.only = text; });
    options.value("--metric", "WHICH", "latency, throughput or both (default)",
                  [&](const std::string& text) {
                      if (text != "latency" && text != "throughput" && text != "both") {
                          throw lab::UsageError("bad value '" + text +
                                                "' for --metric: want latency, throughput or both");
                      }
                      settings.metric = text;
                  });
    options.value(
        "--round-trips", "N", "round trips timed per latency figure", [&](const std::string& text) {
            settings.round_trips = lab::parse_integer("--round-trips", text, 1, 10'000'000);
        });
    options.value("--mebibytes", "N", "MiB timed per throughput figure",
                  [&](const std::string& text) {
                      settings.mebibytes = lab::parse_integer("--mebibytes", text, 1, 65'536);
                  });
    options.value("--timeout", "SECONDS", "bound on each measurement (default 60)",
                  [&](const std::string& text) {
                      settings.timeout_seconds = lab::parse_seconds("--timeout", text);
                  });
    options.flag("--verbose", "name each measurement and object on stderr as it is made",
                 settings.verbose);
    options.flag("--list", "list the mechanisms and exit", settings.list);
    if (!options.parse(argc, argv).empty()) {
        throw lab::UsageError("no operands expected (try --help)");
    }
    if (settings.quick && settings.verify) {
        throw lab::UsageError("--quick and --verify do not go together");
    }
    return settings;
}

std::vector<const Mechanism*> chosen_mechanisms(const std::string& only) {
    std::vector<const Mechanism*> chosen;
    if (only.empty()) {
        for (const auto& mechanism : mechanisms()) {
            chosen.push_back(&mechanism);
        }
        return chosen;
    }
    std::stringstream names(only);
    std::string name;
    while (std::getline(names, name, ',')) {
        bool found = false;
        for (const auto& mechanism : mechanisms()) {
            if (mechanism.name == name) {
                chosen.push_back(&mechanism);
                found = true;
            }
        }
        if (!found) {
            throw lab::UsageError("unknown mechanism '" + name + "' (try --list)");
        }
    }
    return chosen;
}

// The first one or two CPUs we may run on: `taskset -c 1 ipc-bench` moves the run.
Placement placement_for(const std::string& pin, std::string& description) {
    cpu_set_t allowed;
    if (::sched_getaffinity(0, sizeof allowed, &allowed) < 0) {
        throw lab::sys_error("sched_getaffinity");
    }
    std::vector<int> cpus;
    for (int cpu = 0; cpu < CPU_SETSIZE && cpus.size() < 2; ++cpu) {
        if (CPU_ISSET(cpu, &allowed)) {
            cpus.push_back(cpu);
        }
    }
    if (pin == "none") {
        description = "none (the scheduler places both sides)";
        return {};
    }
    if (pin == "same") {
        description = "same (both sides on CPU " + std::to_string(cpus.at(0)) + ")";
        return {cpus.at(0), cpus.at(0)};
    }
    if (cpus.size() < 2) {
        throw lab::Failure("--pin cross needs two CPUs; this process may use one");
    }
    description = "cross (side A on CPU " + std::to_string(cpus[0]) + ", side B on CPU " +
                  std::to_string(cpus[1]) + ")";
    return {cpus[0], cpus[1]};
}

Job job_for(const Mechanism& mechanism, Metric metric, const Sizes& sizes, bool corrupt) {
    Job job;
    job.metric = metric;
    job.corrupt = corrupt;
    if (metric == Metric::latency) {
        job.message_bytes = mechanism.message_bytes;
        job.warmup = sizes.warmup_round_trips;
        job.count = sizes.round_trips;
        return job;
    }
    job.message_bytes = mechanism.chunk_bytes;
    job.chunks_per_block = (block_bytes + job.message_bytes - 1) / job.message_bytes;
    std::size_t block = job.chunks_per_block * job.message_bytes;
    job.warmup = (sizes.warmup_bytes + block - 1) / block * job.chunks_per_block;
    job.count = (sizes.stream_bytes + block - 1) / block * job.chunks_per_block;
    return job;
}

int run(int argc, char** argv) {
    Settings settings = parse_options(argc, argv);
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
    Sizes sizes = settings.verify ? verify_sizes : settings.quick ? quick_sizes : full_sizes;
    if (settings.round_trips > 0) {
        sizes.round_trips = static_cast<std::size_t>(settings.round_trips);
    }
    if (settings.mebibytes > 0) {
        sizes.stream_bytes = static_cast<std::size_t>(settings.mebibytes) * mebibyte;
    }
    std::vector<const Mechanism*> chosen = chosen_mechanisms(settings.only);
    std::string placement_text;
    Placement placement = placement_for(settings.pin, placement_text);

    lab::ignore_sigpipe();
    lab::StopSignals stop; // SIGINT/SIGTERM: sides killed, objects removed, exit 130
    std::string load_at_start = load_average();
    std::vector<Result> results;
    for (const Mechanism* mechanism : chosen) {
        for (Metric metric : {Metric::latency, Metric::throughput}) {
            bool wanted = settings.metric == "both" ||
                          settings.metric == (metric == Metric::latency ? "latency" : "throughput");
            if (!wanted || !mechanism->has(metric)) {
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
                placement_text.c_str(), machine_description().c_str(), load_at_start.c_str(),
                load_average().c_str());
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
