// contract.cpp - see contract.hpp.
#include "contract.hpp"

#include <cstdio>

namespace lab {

std::string seconds_text(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%g s", seconds);
    return text;
}

std::string key_text(key_t key) {
    char text[16];
    std::snprintf(text, sizeof text, "0x%08x", static_cast<unsigned>(key));
    return text;
}

Failure not_running(std::string_view name, std::string_view why) {
    std::string text = "server " + std::string(name) + " not running";
    if (!why.empty()) {
        text += " (" + std::string(why) + ")";
    }
    return Failure(text);
}

Failure timed_out(double seconds, std::string_view waiting_for) {
    return Failure("timed out after " + seconds_text(seconds) + " waiting for " +
                   std::string(waiting_for));
}

} // namespace lab
