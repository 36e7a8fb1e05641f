// payload.hpp - what every message and chunk carries, so that the receiver
// can tell it got exactly what was sent.
//
// A message of N bytes (N a multiple of 8) is a fixed pseudo-random pattern
// with a stamp - its sequence number plus one - written over the first 8
// bytes of every 4 KiB. The receiver adds up the message as 64-bit words and
// compares the sum with the one it expects for that sequence number:
//   - a lost, repeated or reordered message has the wrong stamps;
//   - a damaged, shifted or short message has the wrong sum;
//   - a page left over from an earlier message (a shared-memory slot read
//     too early) has an old stamp, so the wrong sum;
//   - a buffer of zeros never passes, since no stamp is ever 0.
// Summing words runs at tens of GB/s, so checking costs a few percent of
// the fastest transfer measured; it is never skipped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace bench {

inline constexpr std::size_t stamp_interval_bytes = 4096;
inline constexpr std::size_t page_bytes = 4096;

// 64-bit words starting on a page boundary, zeroed (lmbench allocates its
// buffers with valloc() too): the kernel copies to and from page-aligned
// memory on its fast path, and a malloc()ed buffer 16 bytes off a page
// boundary can halve a pipe's throughput.
class PageAlignedWords {
  public:
    explicit PageAlignedWords(std::size_t count);
    ~PageAlignedWords();
    PageAlignedWords(const PageAlignedWords&) = delete;
    PageAlignedWords& operator=(const PageAlignedWords&) = delete;

    std::uint64_t* data() const { return words_; }
    std::size_t size() const { return count_; }
    std::span<std::uint64_t> words() const { return {words_, count_}; }
    std::span<std::byte> bytes() const { return std::as_writable_bytes(words()); }

  private:
    std::uint64_t* words_;
    std::size_t count_;
};

// The sum of `bytes` read as 64-bit words (its size is a multiple of 8).
std::uint64_t word_sum(std::span<const std::byte> bytes);

class Payload {
  public:
    explicit Payload(std::size_t bytes); // throws unless a multiple of 8, >= 8

    // The sender's buffer, stamped for message `sequence`.
    std::span<const std::byte> stamped(std::uint64_t sequence);
    // The same, with one byte flipped (not undone until the next stamped()).
    std::span<const std::byte> damaged(std::uint64_t sequence);

    // True if `received` is exactly message `sequence`.
    bool matches(std::span<const std::byte> received, std::uint64_t sequence) const;

    std::size_t size() const { return words_.size() * sizeof(std::uint64_t); }

  private:
    std::vector<std::uint64_t> pattern_;
    PageAlignedWords words_; // what is sent: the pattern, stamped
    std::size_t stamp_count_ = 0;
    std::uint64_t pattern_sum_ = 0; // the sum with every stamp position zero
};

} // namespace bench
