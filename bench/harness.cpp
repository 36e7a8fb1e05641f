#include "harness.hpp"
#include "report.hpp"

#include "errors.hpp"
#include "io.hpp"

#include <ctime>
#include <unistd.h>

namespace bench {

std::uint64_t now_nanoseconds() {
    timespec ts{};
    // CLOCK_MONOTONIC through the vDSO: no system call, ~20 ns.
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000U +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

std::string mismatch(const Job& job, Role role, std::size_t index, std::size_t received_bytes) {
    std::string what = job.metric == Metric::latency ? "round trip " : "chunk ";
    return "checksum mismatch in " + what + std::to_string(index) + " (" +
           std::to_string(received_bytes) + " bytes, want " + std::to_string(job.message_bytes) +
           "; checked by side " + (role == Role::a ? "A" : "B") + ")";
}

Side::Side(Role role, const Job& job, const Placement& placement, Report& report, int control_fd)
    : role_(role), job_(job), placement_(placement), report_(report), control_fd_(control_fd) {
    // Before the exchange below, which neither side passes until both are
    // here: so no page fault of the shared report lands in a timed loop, and
    // no sample is written before both are done touching.
    report_.touch_samples();
    // Both alive and set up: each tells the other its pid (signals need it).
    pid_t own = ::getpid();
    lab::write_all(control_fd_, {reinterpret_cast<const char*>(&own), sizeof own}, "write control");
    std::span<char> into(reinterpret_cast<char*>(&peer_pid_), sizeof peer_pid_);
    if (lab::read_full(control_fd_, into, "read control") != sizeof peer_pid_) {
        throw lab::Failure("the other side is gone");
    }
}

void Side::tell_peer() const {
    lab::write_all(control_fd_, "+", "write control");
}

void Side::wait_for_peer() const {
    char byte = 0;
    if (lab::read_some(control_fd_, {&byte, 1}, "read control") != 1) {
        throw lab::Failure("the other side is gone");
    }
}

void Side::record(std::uint64_t nanoseconds) {
    report_.add(nanoseconds);
}

void Side::fail(const char* what) {
    report_.set_error(role_, what);
}

namespace {

void ping(Link& link, Side& side, Payload& payload) {
    const Job& job = side.job();
    for (std::size_t i = 0; i < job.total(); ++i) {
        auto message =
            job.corrupt && i == job.damaged_index() ? payload.damaged(i) : payload.stamped(i);
        std::uint64_t start = now_nanoseconds();
        link.send(message);
        auto reply = link.receive();
        if (!payload.matches(reply, i)) {
            throw lab::Failure(mismatch(job, Role::a, i, reply.size()));
        }
        link.release();
        std::uint64_t end = now_nanoseconds();
        if (i >= job.warmup) {
            side.record(end - start);
        }
    }
    link.finish();
}

void pong(Link& link, const Side& side, Payload& payload) {
    const Job& job = side.job();
    for (std::size_t i = 0; i < job.total(); ++i) {
        auto message = link.receive();
        if (!payload.matches(message, i)) {
            throw lab::Failure(mismatch(job, Role::b, i, message.size()));
        }
        link.release();
        link.send(payload.stamped(i));
    }
    link.finish();
}

void send_chunks(Link& link, const Side& side, Payload& payload) {
    const Job& job = side.job();
    for (std::size_t i = 0; i < job.total(); ++i) {
        link.send(job.corrupt && i == job.damaged_index() ? payload.damaged(i)
                                                          : payload.stamped(i));
    }
    link.finish();
}

void receive_chunks(Link& link, Side& side, const Payload& payload) {
    const Job& job = side.job();
    std::uint64_t block_start = now_nanoseconds();
    for (std::size_t i = 0; i < job.total(); ++i) {
        auto chunk = link.receive();
        if (!payload.matches(chunk, i)) {
            throw lab::Failure(mismatch(job, Role::b, i, chunk.size()));
        }
        link.release();
        if ((i + 1) % job.chunks_per_block == 0) {
            std::uint64_t now = now_nanoseconds();
            if (i >= job.warmup) {
                side.record(now - block_start);
            }
            block_start = now;
        }
    }
    link.finish();
}

} // namespace

void LinkPair::run(Side& side) {
    std::unique_ptr<Link> link = open(side);
    Payload payload(side.job().message_bytes);
    bool is_a = side.role() == Role::a;
    try {
        if (side.job().metric == Metric::latency) {
            is_a ? ping(*link, side, payload) : pong(*link, side, payload);
        } else {
            is_a ? send_chunks(*link, side, payload) : receive_chunks(*link, side, payload);
        }
    } catch (const std::exception& e) {
        // Said now, while the link is open: closing it wakes the other side,
        // whose own failure (end of file) must not look like the first.
        side.fail(e.what());
        throw;
    }
}

} // namespace bench
