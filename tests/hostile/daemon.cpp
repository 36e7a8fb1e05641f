// daemon.cpp - a hostile plant: leaves a daemon behind that keeps every
// descriptor it was given (the test's pipes and logs among them) open and
// never exits; the program itself exits at once without a word. Only the
// end of the sandbox's PID namespace ends the daemon.
#include "guard.hpp"

int main() {
    hostile::require_sandbox("daemon");
    const pid_t child = fork();
    if (child != 0) {
        return child < 0 ? 1 : 0;
    }
    static_cast<void>(setsid());
    if (fork() != 0) {
        _exit(0);
    }
    for (;;) {
        pause();
    }
}
