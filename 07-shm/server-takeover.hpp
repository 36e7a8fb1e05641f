// server-takeover.hpp - the System V server's key file (step 1) and its
// takeover of what a killed server left under the key (step 2): a part of
// `server` alone.
#pragma once

#include <string>
#include <sys/types.h>

namespace shm_lab {

// RUNTIME/shm/NAME.key: the file whose inode ftok() turns into our key;
// unlinked when the server goes. A killed server's key file is reused, not
// made anew: a new inode would give a new key, under which its leftovers
// would never be found again.
class KeyFile {
  public:
    explicit KeyFile(std::string path);
    ~KeyFile();
    KeyFile(const KeyFile&) = delete;
    KeyFile& operator=(const KeyFile&) = delete;

    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

// Removes the segment and semaphore set under `key`, which the caller (holding
// the instance lock) found left by a killed server of its NAME. Refuses with
// lab::Failure "key ... in use" when a live process owns them instead: ftok
// keys can collide, and another program's objects may sit under ours.
void remove_leftovers(key_t key);

} // namespace shm_lab
