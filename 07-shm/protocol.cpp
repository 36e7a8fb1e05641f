// protocol.cpp - how a request and its reply travel through the shared
// memory, which both sides must agree on. See protocol.hpp.
#include "protocol.hpp"

#include <algorithm>
#include <cstring>

namespace shm_lab {

namespace {

// The request bytes may be rewritten while the server copies them (that is
// what read_request() detects), so both sides move them as relaxed atomics:
// a plain memcpy racing a writer is undefined behaviour in C++, even when
// the result is thrown away.
void store_bytes(char* to, std::string_view from) {
    for (std::size_t i = 0; i < from.size(); ++i) {
        std::atomic_ref<char>(to[i]).store(from[i], std::memory_order_relaxed);
    }
}

void load_bytes(std::string& to, char* from, std::size_t bytes) {
    to.resize(bytes);
    for (std::size_t i = 0; i < bytes; ++i) {
        to[i] = std::atomic_ref<char>(from[i]).load(std::memory_order_relaxed);
    }
}

} // namespace

std::uint64_t write_request(Exchange& exchange, std::string_view message) {
    std::uint64_t sequence = exchange.last_sequence.load(std::memory_order_relaxed) + 1;
    exchange.last_sequence.store(sequence, std::memory_order_relaxed);
    // "Being written" first: a server still working on a killed client's late
    // post may copy the buffer right now, and must see that it changed.
    exchange.request_sequence.store(0, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    store_bytes(exchange.request, message);
    exchange.request_bytes.store(static_cast<std::uint32_t>(message.size()),
                                 std::memory_order_relaxed);
    // Release: whoever reads this number also sees the bytes written above.
    exchange.request_sequence.store(sequence, std::memory_order_release);
    return sequence;
}

std::optional<std::string> take_reply(const Exchange& exchange, std::uint64_t sequence) {
    if (exchange.reply_sequence.load(std::memory_order_acquire) != sequence) {
        return std::nullopt;
    }
    // Bounded even if the segment was scribbled on: never read past the buffer.
    std::size_t bytes = std::min<std::size_t>(exchange.reply_bytes.load(std::memory_order_relaxed),
                                              lab::max_message_bytes);
    return std::string(exchange.reply, bytes);
}

Request read_request(Exchange& exchange, std::uint64_t last_answered) {
    // A seqlock read: the copy is good only if the number is the same, and
    // not 0 ("being written"), before and after it.
    Request request;
    std::uint64_t before = exchange.request_sequence.load(std::memory_order_acquire);
    std::uint32_t bytes = exchange.request_bytes.load(std::memory_order_relaxed);
    load_bytes(request.message, exchange.request,
               std::min<std::size_t>(bytes, lab::max_message_bytes));
    std::atomic_thread_fence(std::memory_order_acquire);
    std::uint64_t after = exchange.request_sequence.load(std::memory_order_relaxed);
    request.sequence = before;

    if (before == 0 || before != after) {
        request.ignored = "stale request post (its client is gone; the next one is writing)";
    } else if (before <= last_answered) {
        request.ignored =
            "stale request post (request " + std::to_string(before) + " was answered already)";
    } else if (bytes > lab::max_message_bytes) {
        request.ignored = "request of " + std::to_string(bytes) + " bytes (at most " +
                          std::to_string(lab::max_message_bytes) + ")";
    }
    return request;
}

void write_reply(Exchange& exchange, const Request& request) {
    std::string reply = lab::to_upper(request.message);
    std::memcpy(exchange.reply, reply.data(), reply.size());
    exchange.reply_bytes.store(static_cast<std::uint32_t>(reply.size()), std::memory_order_relaxed);
    // Release: a client that reads its own number here also sees the bytes.
    exchange.reply_sequence.store(request.sequence, std::memory_order_release);
}

} // namespace shm_lab
