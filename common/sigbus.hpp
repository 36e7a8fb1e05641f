// sigbus.hpp - a shared file mapping that someone else shrinks: SIGBUS
// turned into an error the program can report, instead of a crash.
//
// Touching a page of a MAP_SHARED file mapping (a file, a POSIX shared
// memory object) that lies wholly past the file's end raises SIGBUS, whose
// default action kills the process with a core dump. Anyone who may write
// the file can truncate it under us at any moment (`truncate -s 0`), and a
// full file system does the same to pages that were never given blocks.
//
// While a SigbusGuard lives, a SIGBUS inside its range is caught: the
// handler puts zero-filled private anonymous pages where the file's pages
// were, so the faulting instruction completes when it runs again, and
// remembers that it happened. What is read from there afterwards is
// meaningless, so the program checks tripped() after each wait and gives up
// with one error line. A SIGBUS anywhere else still kills, as it would
// have. One guard at a time.
//
// A process sleeping in sem_timedwait() or pthread_mutex_timedlock() on the
// mapping sleeps in futex(), which only looks at the memory as it starts.
// Stopped there (SIGSTOP, Ctrl-Z) and continued, it would restart the call
// by itself, and a futex() started on a truncated page fails with EFAULT,
// which glibc takes for a bug of its own and aborts on. So while a guard
// lives SIGCONT has a handler that does nothing: the call then returns
// EINTR instead of restarting, and the program looks at tripped().
//
// What it cannot catch: a truncation that lands in the few instructions
// between glibc's own access to the memory and its futex() call; the
// kernel answers EFAULT there too (abort, exit 134, the object left for
// the next server to take over).
#pragma once

#include <csignal>
#include <cstddef>

namespace lab {

class SigbusGuard {
  public:
    SigbusGuard(void* address, std::size_t bytes); // the mapping to guard
    ~SigbusGuard();                                // restores the previous SIGBUS action
    SigbusGuard(const SigbusGuard&) = delete;
    SigbusGuard& operator=(const SigbusGuard&) = delete;

    static bool tripped(); // a SIGBUS in the mapping was caught

  private:
    struct sigaction previous_ {};
    struct sigaction previous_cont_ {};
};

} // namespace lab
