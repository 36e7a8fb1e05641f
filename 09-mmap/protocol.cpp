// protocol.cpp - the slot helpers and the SIGBUS guard both programs use.
#include "protocol.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

namespace mmap_lab {

// A slot is a tiny seqlock: the writer clears the label, writes, sets the
// label; the reader reads the label, copies, and reads the label again. The
// fences keep the compiler and CPU from moving the copy outside the labels.
void write_slot(Slot& slot, std::uint64_t sequence, std::string_view message) {
    std::atomic_ref<std::uint64_t> label(slot.sequence);
    label.store(no_sequence, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    slot.length = static_cast<std::uint32_t>(message.size());
    std::memcpy(slot.bytes, message.data(), message.size());
    std::memset(slot.bytes + message.size(), 0, sizeof slot.bytes - message.size());
    label.store(sequence, std::memory_order_release);
}

std::optional<SlotContents> read_slot(const Slot& slot) {
    // atomic_ref wants a non-const object; we only load through it.
    std::atomic_ref<std::uint64_t> label(const_cast<std::uint64_t&>(slot.sequence));
    std::uint64_t before = label.load(std::memory_order_acquire);
    if (before == no_sequence) {
        return std::nullopt;
    }
    SlotContents contents{before, slot.length, {}};
    // Never trust a length read from a file anyone of our uid may write.
    std::size_t usable = std::min<std::size_t>(contents.length, sizeof slot.bytes);
    contents.message.assign(slot.bytes, usable);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (label.load(std::memory_order_relaxed) != before) {
        return std::nullopt;
    }
    return contents;
}

namespace {
// The guarded range, read by the handler; set before the handler goes in.
char* volatile guarded_begin = nullptr;
volatile std::size_t guarded_bytes = 0;
volatile sig_atomic_t sigbus_caught = 0;

extern "C" void on_sigbus(int /*signal_number*/, siginfo_t* info, void* /*context*/) {
    int saved_errno = errno;
    char* fault = static_cast<char*>(info->si_addr);
    char* begin = guarded_begin;
    // mmap() is not on POSIX's list of async-signal-safe calls, but on Linux
    // it is a bare system call with no library state; libwayland's wl_shm
    // recovers from truncated client buffers the same way.
    if (begin != nullptr && fault >= begin && fault < begin + guarded_bytes &&
        ::mmap(begin, guarded_bytes, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
        sigbus_caught = 1;
    } else {
        // Not ours: back to the default action, which the faulting
        // instruction meets again as soon as we return.
        struct sigaction fatal {};
        fatal.sa_handler = SIG_DFL;
        ::sigaction(SIGBUS, &fatal, nullptr);
    }
    errno = saved_errno;
}
} // namespace

SigbusGuard::SigbusGuard(const Mapping& mapping) {
    guarded_begin = static_cast<char*>(mapping.address());
    guarded_bytes = mapping.bytes();
    sigbus_caught = 0;
    struct sigaction action {};
    action.sa_sigaction = on_sigbus;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_SIGINFO; // si_addr: where the fault was
    if (::sigaction(SIGBUS, &action, &previous_) < 0) {
        throw lab::sys_error("sigaction SIGBUS");
    }
}

SigbusGuard::~SigbusGuard() {
    ::sigaction(SIGBUS, &previous_, nullptr);
    guarded_begin = nullptr;
}

bool SigbusGuard::tripped() {
    return sigbus_caught != 0;
}

} // namespace mmap_lab
