// stale_posts.hpp - a request semaphore posted (or written) by someone who
// is not a client with a request.
//
// A server's request semaphore counts posts, not requests: a client killed
// after posting leaves one behind, and any program of our uid can post it or
// write its count straight into the shared memory (2^31-1 of them). A
// server that took a post and found no new request behind it calls
// drain_stale_posts(): it takes out every post still counted, at once, so
// the server logs one line for the lot and sleeps again, instead of looping
// (and logging) once per post.
//
// A post taken out here may be a real client's, made while we drained: the
// caller looks at the request buffer once more afterwards and serves what
// it finds there.
#pragma once

#include <cstdint>
#include <semaphore.h>

namespace lab {

// More stale posts than killed clients could plausibly leave behind: past
// this, the count was written, not posted.
inline constexpr std::uint64_t plausible_stale_posts = 64;

// Takes out the posts counted on `semaphore`, one that only the caller waits
// on, and returns how many there were. Unnamed (sem_init) or named
// (sem_open): in glibc both are the same sem_t, a named one mapped from its
// file in /dev/shm, so resetting it is the same store. Up to
// plausible_stale_posts it takes them with sem_trywait(); past that, taking
// 2^31 one by one would spin for tens of seconds, so it reads the count with
// sem_getvalue() and sets it back to 0 with sem_init().
std::uint64_t drain_stale_posts(sem_t& semaphore, const char* what);

} // namespace lab
