// reference.cpp - memcpy() in one process: the ceiling for shared memory,
// whose sender does one copy per chunk and whose receiver reads it once.
#include "mechanisms.hpp"

#include "errors.hpp"

#include <cstring>
#include <vector>

namespace bench {

namespace {

class MemcpyPair : public Pair {
  public:
    void run(Side& side) override {
        if (side.role() == Role::b) {
            return; // one process: B has nothing to do
        }
        const Job& job = side.job();
        Payload payload(job.message_bytes);
        PageAlignedWords target(job.message_bytes / sizeof(std::uint64_t));
        for (std::size_t i = 0; i < job.total(); ++i) {
            // The source changes every time, so no copy can be skipped.
            auto source =
                job.corrupt && i == job.damaged_index() ? payload.damaged(i) : payload.stamped(i);
            std::uint64_t start = now_nanoseconds();
            std::memcpy(target.data(), source.data(), source.size());
            // Tells the compiler the copy is used, so it cannot drop it.
            __asm__ __volatile__("" : : "r"(target.data()) : "memory");
            std::uint64_t end = now_nanoseconds();
            if (i >= job.warmup) {
                side.record(end - start);
            }
            // Checked untimed, twice: the copy --corrupt damages, and the last.
            bool checked = i == job.damaged_index() || i + 1 == job.total();
            if (checked && !payload.matches(target.bytes(), i)) {
                throw lab::Failure(mismatch(job, Role::a, i, source.size()));
            }
        }
    }
};

} // namespace

std::unique_ptr<Pair> make_memcpy(const Job& /*job*/, const Placement& /*placement*/) {
    return std::make_unique<MemcpyPair>();
}

} // namespace bench
