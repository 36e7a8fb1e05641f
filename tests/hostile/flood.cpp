// flood.cpp - a hostile plant: writes to stdout without end. Into a file
// the sandbox's file-size limit stops it (SIGXFSZ); into a pipe, the reader
// (bats, holding the output) meets the address-space limit, or the test
// file its time bound.
#include <array>

#include "guard.hpp"

int main() {
    hostile::require_sandbox("flood");
    std::array<char, 65536> chunk{};
    chunk.fill('y');
    for (;;) {
        if (write(STDOUT_FILENO, chunk.data(), chunk.size()) < 0) {
            return 1;
        }
    }
}
