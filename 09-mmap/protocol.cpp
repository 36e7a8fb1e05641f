// protocol.cpp - the slot helpers both programs use.
#include "protocol.hpp"

#include <algorithm>
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

} // namespace mmap_lab
