// fork-bomb.cpp - a hostile plant: forks without end; every child does too.
// The sandbox's process limit stops the forks, its file bound the run.
#include "guard.hpp"

int main() {
    hostile::require_sandbox("fork-bomb");
    for (;;) {
        static_cast<void>(fork());
    }
}
