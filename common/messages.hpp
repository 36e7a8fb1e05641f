// messages.hpp - the contract's exchange: message limits, the reply, the
// client's input, and the server's ready/received lines.
#pragma once

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lab {

inline constexpr std::size_t max_message_bytes = 1024;

// Throws UsageError (exit 2) for a message over 1024 bytes ("too long") or
// one holding a newline (the newline is the frame on several mechanisms).
void check_message(std::string_view message);

// The reply: ASCII a-z turned to A-Z, every other byte unchanged.
std::string to_upper(std::string_view message);
void to_upper_in_place(std::span<char> bytes);

class StopSignals;

// Calls send(message) for each operand in order or, given none, for each line
// of stdin (without its newline; a last line without one counts too). Each
// message is checked just before it is sent, so a bad one stops the run after
// the earlier ones went out, and a line is never held past 1024 bytes.
//
// Given `stop`, stdin is read through poll() together with stop.fd(): SIGINT
// or SIGTERM while waiting for a line throws lab::Failure ("interrupted by
// ..."), so a client waiting at a terminal obeys Ctrl-C and still removes what
// it made. Without it, a signal that interrupts read() is simply retried.
void for_each_message(const std::vector<std::string>& operands,
                      const std::function<void(const std::string&)>& send,
                      const StopSignals* stop = nullptr);

// Writes `line` and a newline to stdout and flushes at once (a log read
// through a pipe or file must not wait in a buffer).
void print_line(std::string_view line);

// "ready pid=PID key=value ...": a server's first line.
void print_ready(std::initializer_list<std::pair<std::string_view, std::string>> pairs);

// "received: MESSAGE".
void log_received(std::string_view message);

} // namespace lab
