// messages.hpp - the contract's exchange: message limits, the reply, the
// client's input, and the server's ready/received lines.
#pragma once

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lab {

inline constexpr std::size_t max_message_bytes = 1024;

// What is wrong with a message, in the contract's words, or nothing: over
// 1024 bytes ("message too long (N bytes; at most 1024)"), or holding a
// newline (the newline is the frame on several mechanisms). A server that
// rejects a peer's message logs this; a client's own is check_message's.
std::optional<std::string> message_problem(std::string_view message);

// Throws UsageError (exit 2) with message_problem's words: a client's bad
// message is bad input.
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
// it made; so does one that came during send(). Without it, a signal that
// interrupts read() is simply retried.
void for_each_message(const std::vector<std::string>& operands,
                      const std::function<void(const std::string&)>& send,
                      const StopSignals* stop = nullptr);

// Writes `line` and a newline to stdout at once (a log read through a pipe
// or file must not wait in a buffer). A stop signal (lab::StopSignals) that
// comes while stdout has no room is a stop, not a failure: the line is
// dropped and print_line returns, and the caller's loop sees requested()
// as after any other interrupted wait (a server then exits 0; a client's
// for_each_message throws "interrupted by ...").
void print_line(std::string_view line);

// `text` made safe for a log line: a peer's bytes must not be able to forge
// a line (newline, CR) or drive the reader's terminal (ESC, C1 controls).
// Control bytes become \xNN (a newline \n), as in error lines; so do the
// UTF-8 C1 controls (\xc2\x80-\xc2\x9f). A tab stays a tab; printable text,
// UTF-8 and a backslash are unchanged, so `received: a\x1b` cannot tell a
// typed "\x1b" from an ESC byte: the log is for reading, not for replay.
std::string printable(std::string_view text);

// "ready pid=PID key=value ...": a server's first line.
void print_ready(std::initializer_list<std::pair<std::string_view, std::string>> pairs);

// "received: MESSAGE", MESSAGE through printable().
void log_received(std::string_view message);

// "ignored: REASON": what a server dropped and why, REASON through
// printable() (it may quote a peer's bytes: a preview, a name, a length).
void log_ignored(std::string_view reason);

} // namespace lab
