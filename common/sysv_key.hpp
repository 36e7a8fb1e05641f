// sysv_key.hpp - the one answer, for every System V chapter (05, 06, 07), to
// "where does the key come from" and "what did a killed server leave":
//
//   RUNTIME/TOPIC/NAME.key  the file ftok() turns into the key (its inode);
//                           it also records the id of every object the
//                           server made under that key, one fixed-width
//                           record per kind:
//                             semid=         7\n
//                             shmid=     32771\n
//
// The chapter's own calls stay in the chapter: ftok(), semget/msgget/shmget
// with IPC_CREAT | IPC_EXCL, and the IPC_RMID of its own objects (handed to
// an OwnedSysvId). What lives here is plumbing no chapter is about: making
// the file, and the takeover of a killed server's objects (IPC_STAT, then
// IPC_RMID only if they are provably its own).
#pragma once

#include "fd.hpp"
#include "owned_path.hpp"

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace lab {

// The kinds of System V object; each has its own id space and *ctl() call.
enum class SysvKind { semaphore_set, message_queue, shared_memory };

// "semid", "msqid", "shmid": the label of its record in NAME.key, and of
// its id in the ready line and the log.
std::string_view sysv_label(SysvKind kind);

struct SysvLeftover {
    SysvKind kind;
    int id;
};

class SysvKeyFile {
  public:
    // The takeover, then a new file. We hold the instance lock, so no live
    // server of this NAME uses a NAME.key that is there: a killed one left
    // it. Each object recorded in it is removed (IPC_RMID) only if it still
    // exists, still has the key that file gives (ftok(path, project_id)) and
    // was made by our euid: otherwise (an ftok collision, an id used again)
    // it is somebody else's and stays. Then NAME.key is made anew (O_EXCL,
    // 0600), one blank record per kind in `kinds`, written before any get()
    // so that a full file system fails us while there is nothing to lose.
    SysvKeyFile(std::string path, int project_id, std::initializer_list<SysvKind> kinds);
    SysvKeyFile(const SysvKeyFile&) = delete;
    SysvKeyFile& operator=(const SysvKeyFile&) = delete;
    ~SysvKeyFile() = default; // unlinks NAME.key (through owned_)

    const std::string& path() const { return path_; }

    // Writes `id` into the record of `kind`, in the room the blank one left
    // (bytes the file already has: no new block needed).
    void record(SysvKind kind, int id);

    // Another program's object has our key (get with IPC_EXCL said EEXIST;
    // ftok keeps only 16 bits of the inode): NAME.key is made again, so that
    // a new inode gives a new key. The old one is kept open until the next
    // record(), so its inode is not handed straight back to us.
    void renew();

    // What the takeover removed, and its log lines (after the ready line):
    // "took over: removed msqid 5 left by a killed server".
    const std::vector<SysvLeftover>& took_over() const { return took_over_; }
    void print_took_over() const;

  private:
    void take_over();
    void create();

    std::string path_;
    int project_id_;
    std::vector<SysvKind> kinds_;
    std::vector<SysvLeftover> took_over_;
    Fd fd_;
    OwnedPath owned_;
    std::vector<Fd> collided_;
    int renewals_ = 0;
};

// A System V id this server made: removed (IPC_RMID, by the chapter's own
// call, passed in as `remove`) when its owner goes. Held from the moment the
// get() returns, so that no later failure can leave the object behind:
// nobody could take it over, since its key dies with NAME.key.
class OwnedSysvId {
  public:
    using Remove = void (*)(int id);
    explicit OwnedSysvId(Remove remove) : remove_(remove) {}
    OwnedSysvId(const OwnedSysvId&) = delete;
    OwnedSysvId& operator=(const OwnedSysvId&) = delete;
    ~OwnedSysvId() { reset(); }

    void own(int id) { id_ = id; }
    int get() const { return id_; }
    // Removes it now (a later get collided: its key is about to change).
    void reset() {
        if (id_ >= 0) {
            remove_(id_);
            id_ = -1;
        }
    }

  private:
    Remove remove_;
    int id_ = -1;
};

} // namespace lab
