// endless-loop.cpp - a hostile plant: spins on the CPU and never answers.
// The test file's time bound ends it (and the CPU limit each process).
#include <atomic>

#include "guard.hpp"

int main() {
    hostile::require_sandbox("endless-loop");
    std::atomic<unsigned long> spins{0}; // a side effect: the loop may not be optimised away
    for (;;) {
        spins.fetch_add(1, std::memory_order_relaxed);
    }
}
