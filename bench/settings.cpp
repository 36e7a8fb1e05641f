#include "settings.hpp"

#include "errors.hpp"
#include "options.hpp"

#include <sched.h>
#include <sstream>

namespace bench {

namespace {

constexpr Sizes full_sizes{20'000, 2'000, 256 * mebibyte, 16 * mebibyte};
constexpr Sizes quick_sizes{2'000, 200, 32 * mebibyte, 4 * mebibyte};
constexpr Sizes verify_sizes{100, 10, 2 * mebibyte, 1 * mebibyte};
// Throughput is timed per block of chunks, about this many bytes each.
constexpr std::size_t block_bytes = mebibyte;

// What the command line says, before it is turned into Settings.
struct Choices {
    std::string pin = "same";
    bool quick = false;
    std::string only;     // comma-separated mechanism names; empty: all
    long round_trips = 0; // 0: as the mode says
    long mebibytes = 0;
};

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

} // namespace

Settings parse_settings(int argc, char** argv) {
    Settings settings;
    Choices choices;
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
                      choices.pin = text;
                  });
    options.flag("--quick", "small sizes: a run of seconds", choices.quick);
    options.flag("--verify", "tiny sizes, checks only: fails on any bad message", settings.verify);
    options.flag("--corrupt", "self-test: damage one message per measurement; must fail",
                 settings.corrupt);
    options.value("--csv", "FILE", "also write mechanism,metric,size_bytes,count,median,p99,unit",
                  [&](const std::string& text) { settings.csv_path = text; });
    options.value("--only", "NAME,...", "only these mechanisms (see --list)",
                  [&](const std::string& text) { choices.only = text; });
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
            choices.round_trips = lab::parse_integer("--round-trips", text, 1, 10'000'000);
        });
    options.value("--mebibytes", "N", "MiB timed per throughput figure",
                  [&](const std::string& text) {
                      choices.mebibytes = lab::parse_integer("--mebibytes", text, 1, 65'536);
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
    if (choices.quick && settings.verify) {
        throw lab::UsageError("--quick and --verify do not go together");
    }
    settings.sizes = settings.verify ? verify_sizes : choices.quick ? quick_sizes : full_sizes;
    if (choices.round_trips > 0) {
        settings.sizes.round_trips = static_cast<std::size_t>(choices.round_trips);
    }
    if (choices.mebibytes > 0) {
        settings.sizes.stream_bytes = static_cast<std::size_t>(choices.mebibytes) * mebibyte;
    }
    settings.mechanisms = chosen_mechanisms(choices.only);
    settings.placement = placement_for(choices.pin, settings.placement_text);
    return settings;
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

} // namespace bench
