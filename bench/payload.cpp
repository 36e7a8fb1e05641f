#include "payload.hpp"

#include "errors.hpp"

#include <cstring>
#include <new>

namespace bench {

namespace {
constexpr std::size_t word_bytes = sizeof(std::uint64_t);
constexpr std::size_t words_per_stamp = stamp_interval_bytes / word_bytes;

// xorshift64: cheap, deterministic, and no byte of the pattern is special.
std::uint64_t next_random(std::uint64_t& state) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}
} // namespace

PageAlignedWords::PageAlignedWords(std::size_t count)
    : words_(static_cast<std::uint64_t*>(
          ::operator new (count * sizeof(std::uint64_t), std::align_val_t{page_bytes}))),
      count_(count) {
    std::memset(words_, 0, count * sizeof(std::uint64_t));
}

PageAlignedWords::~PageAlignedWords() {
    ::operator delete (words_, std::align_val_t{page_bytes});
}

std::uint64_t word_sum(std::span<const std::byte> bytes) {
    // Two 64-bit lanes per vector, four vectors at a time: four independent
    // additions per step keep the loads, not the adds, the limit (a plain
    // loop is one add after another, about a third as fast). memcpy() is
    // how C++ reads a vector from any address; it compiles to one load.
    using Lanes = std::uint64_t __attribute__((vector_size(16)));
    auto load = [&bytes](std::size_t offset) {
        Lanes lanes;
        std::memcpy(&lanes, bytes.data() + offset, sizeof lanes);
        return lanes;
    };
    Lanes sum0{};
    Lanes sum1{};
    Lanes sum2{};
    Lanes sum3{};
    std::size_t offset = 0;
    for (; offset + 4 * sizeof(Lanes) <= bytes.size(); offset += 4 * sizeof(Lanes)) {
        sum0 += load(offset);
        sum1 += load(offset + sizeof(Lanes));
        sum2 += load(offset + 2 * sizeof(Lanes));
        sum3 += load(offset + 3 * sizeof(Lanes));
    }
    Lanes total = sum0 + sum1 + sum2 + sum3;
    std::uint64_t sum = total[0] + total[1];
    for (; offset + word_bytes <= bytes.size(); offset += word_bytes) {
        std::uint64_t word = 0;
        std::memcpy(&word, bytes.data() + offset, word_bytes);
        sum += word;
    }
    return sum;
}

namespace {
std::size_t checked_words(std::size_t bytes) {
    if (bytes < word_bytes || bytes % word_bytes != 0) {
        throw lab::Failure("payload of " + std::to_string(bytes) +
                           " bytes: want a multiple of 8 bytes");
    }
    return bytes / word_bytes;
}
} // namespace

Payload::Payload(std::size_t bytes) : pattern_(checked_words(bytes)), words_(checked_words(bytes)) {
    std::uint64_t state = 0x9e3779b97f4a7c15ULL;
    for (std::size_t i = 0; i < pattern_.size(); ++i) {
        pattern_[i] = i % words_per_stamp == 0 ? 0 : next_random(state);
        pattern_sum_ += pattern_[i];
    }
    stamp_count_ = (pattern_.size() + words_per_stamp - 1) / words_per_stamp;
    std::memcpy(words_.data(), pattern_.data(), size());
}

std::span<const std::byte> Payload::stamped(std::uint64_t sequence) {
    auto words = words_.words();
    for (std::size_t i = 0; i < words.size(); i += words_per_stamp) {
        words[i] = sequence + 1;
    }
    if (words.size() > 1) {
        words[1] = pattern_[1]; // undo damaged()
    }
    return words_.bytes();
}

std::span<const std::byte> Payload::damaged(std::uint64_t sequence) {
    stamped(sequence);
    // Flip one bit of the pattern, or of the stamp in an 8-byte message (bit
    // 40: a stamp never has it, so the damaged one is never 0 either).
    words_.data()[words_.size() > 1 ? 1 : 0] ^= std::uint64_t{1} << 40;
    return words_.bytes();
}

bool Payload::matches(std::span<const std::byte> received, std::uint64_t sequence) const {
    return received.size() == size() &&
           word_sum(received) == pattern_sum_ + stamp_count_ * (sequence + 1);
}

} // namespace bench
