#include "output.hpp"

#include "errors.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sys/utsname.h>
#include <unistd.h>

namespace bench {

namespace {

constexpr double bytes_per_mebibyte = 1024.0 * 1024.0;

// Nearest rank: the smallest sample with at least `fraction` of all at or below it.
double percentile(const std::vector<double>& sorted, double fraction) {
    auto rank = static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(sorted.size())));
    return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

std::string first_line_after(const std::string& path, const std::string& key) {
    std::ifstream file(path);
    std::string line;
    while (std::getline(file, line)) {
        if (line.rfind(key, 0) == 0) {
            auto colon = line.find(':');
            return colon == std::string::npos
                       ? ""
                       : line.substr(line.find_first_not_of(" \t", colon + 1));
        }
    }
    return "";
}

// 4470.3 -> "4,470"; 12.34 -> "12.3"; 4.567 -> "4.57"
std::string human(double value) {
    char text[32];
    if (value >= 1000) {
        std::snprintf(text, sizeof text, "%.0f", value);
        std::string digits = text;
        for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) {
            digits.insert(static_cast<std::size_t>(i), ",");
        }
        return digits;
    }
    std::snprintf(text, sizeof text, value >= 100 ? "%.0f" : value >= 10 ? "%.1f" : "%.2f", value);
    return text;
}

const Result* find(const std::vector<Result>& results, const Mechanism* mechanism, Metric metric) {
    for (const auto& result : results) {
        if (result.mechanism == mechanism && result.metric == metric) {
            return &result;
        }
    }
    return nullptr;
}

// The cells of one metric: what is timed, then median and tail, or a verdict.
std::string cells(const Result* result, std::string_view what, bool verify) {
    if (result == nullptr) {
        return " - | - | - |";
    }
    std::string text = " " + std::string(what) + " |";
    if (result->skipped) {
        return text + " no data to damage | |";
    }
    if (!result->error.empty()) {
        return text + " FAILED | |";
    }
    if (verify) {
        return text + " checked | " + std::to_string(result->job.count) + " |";
    }
    return text + " " + human(result->median) + " | " + human(result->p99) + " |";
}

} // namespace

void summarise(Result& result, const std::vector<std::uint64_t>& samples) {
    result.samples = samples.size();
    if (samples.empty()) {
        result.error = "no samples";
        return;
    }
    std::vector<double> values;
    values.reserve(samples.size());
    auto block_bytes = static_cast<double>(result.job.message_bytes * result.job.chunks_per_block);
    for (auto nanoseconds : samples) {
        double seconds = static_cast<double>(std::max<std::uint64_t>(nanoseconds, 1)) / 1e9;
        values.push_back(result.metric == Metric::latency
                             ? seconds * 1e6
                             : block_bytes / bytes_per_mebibyte / seconds);
    }
    std::sort(values.begin(), values.end());
    result.median = percentile(values, 0.50);
    // The tail that hurts: slow round trips, or slow blocks (low rates).
    result.p99 = percentile(values, result.metric == Metric::latency ? 0.99 : 0.01);
}

std::string machine_description() {
    std::string cpu = first_line_after("/proc/cpuinfo", "model name");
    utsname system{};
    if (::uname(&system) < 0) {
        throw lab::sys_error("uname");
    }
    return (cpu.empty() ? "unknown CPU" : cpu) + " (" +
           std::to_string(::sysconf(_SC_NPROCESSORS_ONLN)) + " CPUs online), " + system.sysname +
           " " + system.release + " " + system.machine;
}

std::string load_average() {
    std::ifstream file("/proc/loadavg");
    std::string one;
    std::string five;
    std::string fifteen;
    if (!(file >> one >> five >> fifteen)) {
        return "unknown";
    }
    return one + " " + five + " " + fifteen;
}

void print_table(const std::vector<Result>& results, bool verify) {
    std::printf(verify ? "| mechanism | chapter | round trip | latency | round trips | one way in "
                         "| throughput | chunks |\n"
                       : "| mechanism | chapter | round trip | median us | p99 us | one way in "
                         "| median MiB/s | slowest 1%% MiB/s |\n");
    std::printf("| --- | --- | --- | ---: | ---: | --- | ---: | ---: |\n");
    for (const auto& mechanism : mechanisms()) {
        const Result* latency = find(results, &mechanism, Metric::latency);
        const Result* throughput = find(results, &mechanism, Metric::throughput);
        if (latency == nullptr && throughput == nullptr) {
            continue;
        }
        std::string line = "| " + std::string(mechanism.name) + " | " +
                           std::string(mechanism.chapter) + " |" +
                           cells(latency, mechanism.round_trip, verify) +
                           cells(throughput, mechanism.chunk, verify);
        std::printf("%s\n", line.c_str());
    }
    std::fflush(stdout);
}

void write_csv(const std::string& path, const std::vector<Result>& results) {
    std::FILE* file = std::fopen(path.c_str(), "w");
    if (file == nullptr) {
        throw lab::sys_error("open " + path);
    }
    std::fprintf(file, "mechanism,metric,size_bytes,count,median,p99,unit\n");
    for (const auto& result : results) {
        if (!result.error.empty() || result.skipped) {
            continue;
        }
        bool latency = result.metric == Metric::latency;
        std::fprintf(file, "%s,%s,%zu,%zu,%.3f,%.3f,%s\n",
                     std::string(result.mechanism->name).c_str(),
                     latency ? "latency" : "throughput", result.job.message_bytes, result.job.count,
                     result.median, result.p99, latency ? "us" : "MiB/s");
    }
    bool failed = std::ferror(file) != 0;
    if (std::fclose(file) != 0 || failed) {
        throw lab::sys_error("write " + path);
    }
}

} // namespace bench
