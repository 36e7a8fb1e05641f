#include "deadline.hpp"

#include "errors.hpp"

#include <algorithm>
#include <climits>
#include <cmath>

namespace lab {

namespace {
constexpr long nanos_per_second = 1'000'000'000L;

timespec now(clockid_t clock) {
    timespec ts{};
    if (::clock_gettime(clock, &ts) < 0) {
        throw sys_error("clock_gettime");
    }
    return ts;
}

double to_seconds(const timespec& ts) {
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

timespec from_seconds(double seconds) {
    double whole = std::floor(seconds);
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(whole);
    ts.tv_nsec = std::min(static_cast<long>((seconds - whole) * 1e9), nanos_per_second - 1);
    return ts;
}
} // namespace

Deadline::Deadline(double seconds) {
    timespec start = now(CLOCK_MONOTONIC);
    timespec span = from_seconds(seconds);
    end_.tv_sec = start.tv_sec + span.tv_sec;
    end_.tv_nsec = start.tv_nsec + span.tv_nsec;
    if (end_.tv_nsec >= nanos_per_second) {
        end_.tv_sec += 1;
        end_.tv_nsec -= nanos_per_second;
    }
}

double Deadline::seconds_left() const {
    return std::max(0.0, to_seconds(end_) - to_seconds(now(CLOCK_MONOTONIC)));
}

bool Deadline::expired() const {
    return seconds_left() <= 0.0;
}

int Deadline::milliseconds_left() const {
    double ms = std::ceil(seconds_left() * 1000.0);
    return ms >= INT_MAX ? INT_MAX : static_cast<int>(ms);
}

int Deadline::tick_milliseconds(int tick_ms) const {
    return std::min(milliseconds_left(), tick_ms);
}

timespec Deadline::relative() const {
    return from_seconds(seconds_left());
}

timespec Deadline::absolute_realtime() const {
    return from_seconds(to_seconds(now(CLOCK_REALTIME)) + seconds_left());
}

} // namespace lab
