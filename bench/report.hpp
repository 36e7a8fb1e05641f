// report.hpp - the page the two sides and the coordinator share.
#pragma once

#include "harness.hpp"

#include "errors.hpp"

#include <algorithm>
#include <cstring>
#include <sys/mman.h>

namespace bench {

// The page both sides and the coordinator share: each side's error, and the
// samples the timing side takes. MAP_SHARED|MAP_ANONYMOUS, made before fork(),
// so it needs no name and vanishes with the last process that maps it.
class Report {
  public:
    explicit Report(std::size_t capacity)
        : capacity_(capacity), bytes_(sizeof(Header) + capacity * sizeof(std::uint64_t)) {
        void* address =
            ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (address == MAP_FAILED) {
            throw lab::sys_error("mmap (report page)");
        }
        header_ = static_cast<Header*>(address);
        samples_ = reinterpret_cast<std::uint64_t*>(header_ + 1);
    }
    Report(const Report&) = delete;
    Report& operator=(const Report&) = delete;
    ~Report() { ::munmap(header_, bytes_); }

    // Touches every sample slot, so that no page fault lands in a timed loop.
    void touch_samples() { std::memset(samples_, 0, capacity_ * sizeof(std::uint64_t)); }

    void add(std::uint64_t sample) {
        if (header_->taken >= capacity_) {
            throw lab::Failure("more samples than planned");
        }
        samples_[header_->taken++] = sample;
    }
    std::vector<std::uint64_t> samples() const {
        return {samples_, samples_ + std::min(header_->taken, capacity_)};
    }

    void set_error(Role role, const char* what) { // a side's first error counts
        Failure& failure = header_->failure[static_cast<int>(role)];
        if (failure.error[0] != '\0') {
            return;
        }
        std::strncpy(failure.error, what, error_bytes - 1);
        failure.error[error_bytes - 1] = '\0';
        failure.when = now_nanoseconds();
    }
    // The error that came first: when B finds a bad message and exits, A
    // fails next (end of file, EPIPE), and only B's error tells the cause.
    std::string first_error() const {
        const Failure& a = header_->failure[0];
        const Failure& b = header_->failure[1];
        if (a.error[0] == '\0' || (b.error[0] != '\0' && b.when < a.when)) {
            return b.error;
        }
        return a.error;
    }

  private:
    static constexpr std::size_t error_bytes = 256;
    struct Failure {
        char error[error_bytes];
        std::uint64_t when;
    };
    struct Header {
        Failure failure[2];
        std::size_t taken;
    };
    std::size_t capacity_;
    std::size_t bytes_;
    Header* header_ = nullptr;
    std::uint64_t* samples_ = nullptr;
};

} // namespace bench
