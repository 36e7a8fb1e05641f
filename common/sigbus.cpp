// sigbus.cpp - see sigbus.hpp.
#include "sigbus.hpp"

#include "errors.hpp"

#include <cerrno>
#include <sys/mman.h>

namespace lab {

namespace {
// The guarded range, read by the handler; set before the handler goes in.
char* volatile guarded_begin = nullptr;
volatile std::size_t guarded_bytes = 0;
volatile sig_atomic_t sigbus_caught = 0;

extern "C" void on_sigbus(int /*signal_number*/, siginfo_t* info, void* /*context*/) {
    int saved_errno = errno;
    char* fault = static_cast<char*>(info->si_addr);
    char* begin = guarded_begin;
    // mmap() is not on POSIX's list of async-signal-safe calls, but on Linux
    // it is a bare system call with no library state; libwayland's wl_shm
    // recovers from truncated client buffers the same way.
    if (begin != nullptr && fault >= begin && fault < begin + guarded_bytes &&
        ::mmap(begin, guarded_bytes, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
        sigbus_caught = 1;
    } else {
        // Not ours: back to the default action, which the faulting
        // instruction meets again as soon as we return.
        struct sigaction fatal {};
        fatal.sa_handler = SIG_DFL;
        ::sigaction(SIGBUS, &fatal, nullptr);
    }
    errno = saved_errno;
}

// Its only effect is that a call interrupted by a stop returns EINTR.
extern "C" void on_sigcont(int /*signal_number*/) {}
} // namespace

SigbusGuard::SigbusGuard(void* address, std::size_t bytes) {
    guarded_begin = static_cast<char*>(address);
    guarded_bytes = bytes;
    sigbus_caught = 0;
    struct sigaction action {};
    action.sa_sigaction = on_sigbus;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_SIGINFO; // si_addr: where the fault was
    if (::sigaction(SIGBUS, &action, &previous_) < 0) {
        throw sys_error("sigaction SIGBUS");
    }
    struct sigaction resume {};
    resume.sa_handler = on_sigcont;
    sigemptyset(&resume.sa_mask);
    resume.sa_flags = 0; // no SA_RESTART: the interrupted call returns EINTR
    if (::sigaction(SIGCONT, &resume, &previous_cont_) < 0) {
        ::sigaction(SIGBUS, &previous_, nullptr);
        throw sys_error("sigaction SIGCONT");
    }
}

SigbusGuard::~SigbusGuard() {
    ::sigaction(SIGCONT, &previous_cont_, nullptr);
    ::sigaction(SIGBUS, &previous_, nullptr);
    guarded_begin = nullptr;
}

bool SigbusGuard::tripped() {
    return sigbus_caught != 0;
}

} // namespace lab
