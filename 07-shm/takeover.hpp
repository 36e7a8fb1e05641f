// takeover.hpp - the System V server's step 2: what a killed server left
// under our key, removed - unless it is not ours to remove.
#pragma once

#include <sys/types.h>

namespace shm_lab {

// Removes the segment and semaphore set under `key`, which the caller (holding
// the instance lock) found left by a killed server of its NAME. Refuses with
// lab::Failure "key ... in use" when a live process owns them instead: ftok
// keys can collide, and another program's objects may sit under ours.
void remove_leftovers(key_t key);

} // namespace shm_lab
