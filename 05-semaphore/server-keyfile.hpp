// server-keyfile.hpp - part of server: NAME.key, the file the System V set's
// key comes from (ftok() of its inode), and the owner of the set made under
// that key. The ftok() and semget() calls themselves are in server.cpp.
//
// NAME.key also records the set made under its key: "semid=N\n", N
// right-aligned in a fixed width. The record is written blank BEFORE
// semget(), so that a full file system fails us before there is a set to
// lose; the semid then overwrites it in place, in bytes the file already has.
#pragma once

#include "protocol.hpp"

#include <memory>
#include <string>
#include <vector>

namespace semaphore_lab {

class KeyFile {
  public:
    // Takeover first: the set a killed server of this NAME recorded in
    // NAME.key is removed (semctl IPC_RMID), but only if it still has the
    // key that file gives: ftok() keys collide (it keeps 16 bits of the
    // inode), so "a set exists under our key" alone may be somebody else's
    // live set. Then NAME.key is made anew, its record blank.
    explicit KeyFile(std::string path);
    KeyFile(const KeyFile&) = delete;
    KeyFile& operator=(const KeyFile&) = delete;
    ~KeyFile(); // unlinks NAME.key

    const std::string& path() const { return path_; }

    // Writes `semid` into the record, in the room the blank one left.
    void record(int semid);

    // A set of another program has our key: NAME.key is made again, so that
    // a new inode gives a new key. The old one is kept open until record(),
    // so its inode is not handed straight back to us.
    void renew();

  private:
    std::string path_;
    std::unique_ptr<ServerFile> file_;
    std::vector<lab::Fd> collided_;
};

// A semid this server made: IPC_RMID when it goes (a waiting client wakes
// with EIDRM). Held from the moment semget() returns, so that no later
// failure can leave the set behind: nobody could take it over, since its
// key dies with NAME.key.
class OwnedSetId {
  public:
    OwnedSetId() = default;
    OwnedSetId(const OwnedSetId&) = delete;
    OwnedSetId& operator=(const OwnedSetId&) = delete;
    ~OwnedSetId();

    void own(int semid) { semid_ = semid; }
    int get() const { return semid_; }

  private:
    int semid_ = -1;
};

} // namespace semaphore_lab
