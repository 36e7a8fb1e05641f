// stale_posts.cpp - see stale_posts.hpp.
#include "stale_posts.hpp"

#include "errors.hpp"

#include <cerrno>
#include <string>

namespace lab {

std::uint64_t drain_stale_posts(sem_t& semaphore, const char* what) {
    std::uint64_t drained = 0;
    while (drained < plausible_stale_posts) {
        if (::sem_trywait(&semaphore) == 0) {
            ++drained;
        } else if (errno == EAGAIN) {
            return drained; // all taken out
        } else if (errno != EINTR) {
            throw sys_error(std::string("sem_trywait ") + what);
        }
    }
    int left = 0;
    if (::sem_getvalue(&semaphore, &left) < 0) {
        throw sys_error(std::string("sem_getvalue ") + what);
    }
    // Re-initialising a semaphore others wait on is undefined; nobody but
    // the caller waits on this one, and it is not waiting now. A client's
    // sem_post() racing with this store is either counted after it or lost
    // with the rest: the caller's second look at the buffer covers that.
    if (::sem_init(&semaphore, 1, 0) < 0) {
        throw sys_error(std::string("sem_init ") + what);
    }
    return drained + static_cast<std::uint64_t>(left > 0 ? left : 0);
}

} // namespace lab
