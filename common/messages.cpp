#include "messages.hpp"

#include "errors.hpp"

#include <cstdio>
#include <iostream>
#include <unistd.h>

namespace lab {

void check_message(std::string_view message) {
    if (message.size() > max_message_bytes) {
        throw UsageError("message too long (" + std::to_string(message.size()) +
                         " bytes; at most " + std::to_string(max_message_bytes) + ")");
    }
    if (message.find('\n') != std::string_view::npos) {
        throw UsageError("message contains a newline; send one message per line");
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

void for_each_message(const std::vector<std::string>& operands,
                      const std::function<void(const std::string&)>& send) {
    if (!operands.empty()) {
        for (const auto& message : operands) {
            check_message(message);
            send(message);
        }
        return;
    }
    std::string line;
    while (std::getline(std::cin, line)) {
        check_message(line);
        send(line);
    }
    if (std::cin.bad()) {
        throw Failure("read stdin: input error");
    }
}

void print_line(std::string_view line) {
    if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() ||
        std::fputc('\n', stdout) == EOF || std::fflush(stdout) == EOF) {
        throw sys_error("write stdout");
    }
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
    std::string line = "received: ";
    line += message;
    print_line(line);
}

} // namespace lab
