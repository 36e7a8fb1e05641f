// server-keyfile.hpp - part of server: the key file NAME.key that ftok()
// turns into the queue's key, its takeover, and the owner of the queue made
// under that key. The ftok() and msgget() calls themselves are in server.cpp.
//
// The key file's record: the msqid, right-aligned in a fixed width, then a
// newline. Written blank before msgget(), so that a full file system fails
// us while there is no queue to lose; the msqid then overwrites it in place,
// in bytes the file already has. (strtol skips the padding; all blank reads
// as no id.)
#pragma once

#include "protocol.hpp"

#include <optional>
#include <string>
#include <vector>

namespace msgqueue_lab {

// Takeover: a killed server left NAME.key, holding the id of its queue, and
// the queue. We hold the instance lock, so no live server of this NAME uses
// them; but the queue is removed (msgctl IPC_RMID) only if it still has the
// key that file gives, the id written in it and our uid. Otherwise (an ftok
// collision, an id used again) the queue is somebody else's and stays.
// NAME.key goes either way. Returns the removed id.
std::optional<int> remove_leftover(const std::string& key_path);

class KeyFile {
  public:
    // Makes NAME.key (O_EXCL, 0600), its record blank.
    explicit KeyFile(std::string path);
    KeyFile(const KeyFile&) = delete;
    KeyFile& operator=(const KeyFile&) = delete;
    ~KeyFile() = default; // unlinks NAME.key (through owned_)

    const std::string& path() const { return path_; }

    // Writes `msqid` into the record, in the room the blank one left: what
    // lets a later server take over safely.
    void record(int msqid);

    // Someone else's queue has our key (ftok keeps only the low 16 bits of
    // the inode): NAME.key is made again, so that a new inode gives a new
    // key. The old one is kept open until record(), so its inode is not
    // handed straight back to us.
    void renew();

  private:
    void create();

    std::string path_;
    lab::Fd fd_;
    lab::OwnedPath owned_;
    std::vector<lab::Fd> collided_;
};

// A queue this server made: msgctl(IPC_RMID) when it goes. Removal is at
// once, even for clients blocked in msgrcv on it: they get EIDRM. Held from
// the moment msgget() returns, so that no later failure leaves it behind.
class OwnedQueue {
  public:
    OwnedQueue() = default;
    OwnedQueue(const OwnedQueue&) = delete;
    OwnedQueue& operator=(const OwnedQueue&) = delete;
    ~OwnedQueue();

    void own(int msqid) { msqid_ = msqid; }
    int id() const { return msqid_; }

  private:
    int msqid_ = -1;
};

} // namespace msgqueue_lab
