// server-requests.cpp - see server-requests.hpp.
#include "server-requests.hpp"

#include "protocol.hpp"

namespace fifo_lab {

void RequestLines::feed(std::string_view bytes, const OnLine& on_line,
                        const OnOversized& on_oversized) {
    pending_.append(bytes);
    std::size_t start = 0;
    for (std::size_t newline; (newline = pending_.find('\n', start)) != std::string::npos;
         start = newline + 1) {
        std::string_view line(pending_.data() + start, newline - start);
        if (skipping_) {
            skipping_ = false; // the tail of an oversized line: now in step
        } else if (line.size() + 1 > max_request_bytes) {
            on_oversized();
        } else {
            on_line(line);
        }
    }
    pending_.erase(0, start);
    if (!skipping_ && pending_.size() >= max_request_bytes) {
        on_oversized(); // PIPE_BUF bytes and no newline yet: do not buffer the rest
        skipping_ = true;
    }
    if (skipping_) {
        pending_.clear();
    }
}

void RequestLines::drained(const OnLine& on_garbage) {
    if (!pending_.empty() && !skipping_) {
        on_garbage(pending_);
    }
    pending_.clear();
    skipping_ = false;
}

} // namespace fifo_lab
