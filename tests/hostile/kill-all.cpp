// kill-all.cpp - a hostile plant: kill -9 -1, every process it may signal.
// In the sandbox's PID namespace that is its own test run only (the bats
// that started it); the guard also insists on that namespace.
#include <csignal>

#include "guard.hpp"

int main() {
    hostile::require_sandbox("kill-all", true);
    static_cast<void>(kill(-1, SIGKILL));
    return 1;
}
