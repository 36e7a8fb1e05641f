// server-requests.hpp - the server's cutting of NAME.fifo's byte stream
// into request lines (server-requests.cpp holds the code).
//
// A line longer than PIPE_BUF cannot be a request: it was not written
// atomically, so other requests may sit inside it. It is reported once and
// skipped up to the next newline, where the stream is in step again.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace fifo_lab {

class RequestLines {
  public:
    using OnLine = std::function<void(std::string_view line)>;
    using OnOversized = std::function<void()>;

    // Appends `bytes` and hands each whole line (newline removed) to
    // `on_line`, or says `on_oversized` once per line over PIPE_BUF bytes.
    void feed(std::string_view bytes, const OnLine& on_line, const OnOversized& on_oversized);

    // Called once the pipe is empty. Every honest request is one atomic
    // write ending in a newline, so it is never split across reads: bytes
    // still waiting for their newline now came from a writer that broke the
    // protocol. Dropped (after `on_garbage`), or the next client's request
    // would be glued to them.
    void drained(const OnLine& on_garbage);

  private:
    std::string pending_; // an incomplete line, waiting for the rest
    bool skipping_ = false;
};

} // namespace fifo_lab
