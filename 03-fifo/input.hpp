// input.hpp - the client's messages, from its operands or its stdin, and
// SIGINT/SIGTERM noticed while it waits for a line.
//
// lab::for_each_message reads stdin through std::getline. A signal during
// that read() looks like end of input there (the run "succeeds"), and one
// that comes just before the read() is not seen until the next line arrives:
// a client waiting at the terminal would ignore Ctrl-C and keep its reply
// FIFO until Enter. Here stdin is read through poll(), which also watches
// the stop pipe, so neither can happen.
#pragma once

#include "lab.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <functional>
#include <poll.h>
#include <string>
#include <vector>

namespace fifo_lab {

[[noreturn]] inline void interrupted(const lab::StopSignals& stop) {
    throw lab::Failure(std::string("interrupted by ") + ::strsignal(stop.signal_number()));
}

// Calls send(message) for each operand or, given none, each line of stdin
// (a last line without a newline included), checking each just before.
inline void for_each_message(const std::vector<std::string>& operands, const lab::StopSignals& stop,
                             const std::function<void(const std::string&)>& send) {
    if (!operands.empty()) {
        lab::for_each_message(operands, send);
        return;
    }
    std::string pending;
    std::array<char, 4096> buffer;
    for (;;) {
        std::array<pollfd, 2> fds{{{STDIN_FILENO, POLLIN, 0}, {stop.fd(), POLLIN, 0}}};
        if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) {
            throw lab::sys_error("poll");
        }
        if (stop.requested()) {
            interrupted(stop);
        }
        if (fds[0].revents == 0) {
            continue;
        }
        std::size_t got = lab::read_some(STDIN_FILENO, buffer, "read stdin");
        pending.append(buffer.data(), got);
        std::size_t start = 0;
        for (std::size_t newline; (newline = pending.find('\n', start)) != std::string::npos;
             start = newline + 1) {
            std::string message = pending.substr(start, newline - start);
            lab::check_message(message);
            send(message);
        }
        pending.erase(0, start);
        if (got == 0) { // end of input: a last line without a newline still counts
            if (!pending.empty()) {
                lab::check_message(pending);
                send(pending);
            }
            return;
        }
    }
}

} // namespace fifo_lab
