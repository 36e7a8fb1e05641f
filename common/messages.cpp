#include "messages.hpp"

#include "errors.hpp"

#include "io.hpp"
#include "signals.hpp"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <unistd.h>

namespace lab {

std::optional<std::string> message_problem(std::string_view message) {
    if (message.size() > max_message_bytes) {
        return "message too long (" + std::to_string(message.size()) + " bytes; at most " +
               std::to_string(max_message_bytes) + ")";
    }
    if (message.find('\n') != std::string_view::npos) {
        return "message contains a newline; send one message per line";
    }
    return std::nullopt;
}

void check_message(std::string_view message) {
    if (std::optional<std::string> problem = message_problem(message)) {
        throw UsageError(*problem);
    }
}

void to_upper_in_place(std::span<char> bytes) {
    for (char& c : bytes) {
        if (c >= 'a' && c <= 'z') {
            c = static_cast<char>(c - 'a' + 'A');
        }
    }
}

std::string to_upper(std::string_view message) {
    std::string reply(message);
    to_upper_in_place(reply);
    return reply;
}

namespace {

// Waits until stdin is readable or a stop is requested (then throws).
void wait_for_stdin(const StopSignals& stop) {
    for (;;) {
        std::array<pollfd, 2> fds{{{STDIN_FILENO, POLLIN, 0}, {stop.fd(), POLLIN, 0}}};
        if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) {
            throw sys_error("poll stdin");
        }
        stop.throw_if_requested();
        if (fds[0].revents != 0) {
            return;
        }
    }
}

// A stop that came during send() (its reply line may have been dropped, see
// print_line) ends the run as one that came while waiting for stdin does.
void stop_if_requested(const StopSignals* stop) {
    if (stop != nullptr) {
        stop->throw_if_requested();
    }
}

} // namespace

void for_each_message(const std::vector<std::string>& operands,
                      const std::function<void(const std::string&)>& send,
                      const StopSignals* stop) {
    if (!operands.empty()) {
        for (const auto& message : operands) {
            check_message(message);
            send(message);
            stop_if_requested(stop);
        }
        return;
    }
    std::string pending; // bytes read but not yet sent: at most one line
    std::array<char, 4096> buffer;
    for (;;) {
        if (stop != nullptr) {
            wait_for_stdin(*stop);
        }
        std::size_t got = read_some(STDIN_FILENO, buffer, "read stdin");
        pending.append(buffer.data(), got);
        std::size_t start = 0;
        for (std::size_t newline = 0; (newline = pending.find('\n', start)) != std::string::npos;
             start = newline + 1) {
            std::string message = pending.substr(start, newline - start);
            check_message(message);
            send(message);
            stop_if_requested(stop);
        }
        pending.erase(0, start);
        if (got == 0) { // end of input
            if (!pending.empty()) {
                check_message(pending);
                send(pending);
                stop_if_requested(stop);
            }
            return;
        }
        check_message(pending); // a line already over the limit: stop reading it
    }
}

void print_line(std::string_view line) {
    // Anything left in stdio's buffer goes first, so the order holds; then
    // one write() of the whole line, which a stop never turns into a failure.
    if (std::fflush(stdout) == EOF) {
        throw sys_error("write stdout");
    }
    std::string text(line);
    text += '\n';
    write_unless_stopped(STDOUT_FILENO, text, "write stdout");
}

std::string printable(std::string_view text) {
    std::string shown;
    shown.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        auto byte = static_cast<unsigned char>(text[i]);
        // U+0080-U+009F in UTF-8 (C2 80 - C2 9F) are the C1 controls: some
        // terminals take C2 9B as CSI, the start of an escape sequence.
        bool c1 = byte == 0xc2 && i + 1 < text.size() &&
                  static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
                  static_cast<unsigned char>(text[i + 1]) <= 0x9f;
        if (byte == '\t') {
            shown += '\t'; // shows as space, starts nothing
        } else if (byte == '\n') {
            shown += "\\n";
        } else if (byte < 0x20 || byte == 0x7f || c1) {
            std::array<char, 8> escaped;
            std::snprintf(escaped.data(), escaped.size(), "\\x%02x", byte);
            shown += escaped.data();
            if (c1) {
                std::snprintf(escaped.data(), escaped.size(), "\\x%02x",
                              static_cast<unsigned char>(text[++i]));
                shown += escaped.data();
            }
        } else {
            shown += text[i];
        }
    }
    return shown;
}

void print_ready(std::initializer_list<std::pair<std::string_view, std::string>> pairs) {
    std::string line = "ready pid=" + std::to_string(::getpid());
    for (const auto& [key, value] : pairs) {
        line += " ";
        line += key;
        line += "=";
        line += value;
    }
    print_line(line);
}

void log_received(std::string_view message) {
    print_line("received: " + printable(message));
}

void log_ignored(std::string_view reason) {
    print_line("ignored: " + printable(reason));
}

} // namespace lab
