// server-takeover.cpp - the System V server's key file and its takeover of
// a killed server's leftovers. See server-takeover.hpp.
#include "server-takeover.hpp"

#include "protocol.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

namespace shm_lab {

namespace {

[[noreturn]] void refuse_collision(key_t key, const std::string& object, pid_t pid) {
    throw lab::Failure("key " + lab::key_text(key) + " in use: " + object + " of live pid " +
                       std::to_string(pid) + " (another program's ftok key collides with " +
                       "ours; rename the instance with --name)");
}

} // namespace

KeyFile::KeyFile(std::string path) : path_(std::move(path)) {
    // No O_EXCL here, on purpose: a killed server's key file must keep its
    // inode, or the key changes and its leftovers are never found again.
    // O_NOFOLLOW and the 0700 directory keep anyone else's file out.
    lab::Fd fd(::open(path_.c_str(), O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, lab::owner_only));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) < 0) {
        throw lab::sys_error("open " + path_);
    }
    if (!S_ISREG(st.st_mode)) {
        throw lab::Failure("key file " + path_ + ": not a regular file");
    }
    if (::fchmod(fd.get(), lab::owner_only) < 0) { // open's mode is cut by the umask
        throw lab::sys_error("chmod " + path_);
    }
}

KeyFile::~KeyFile() {
    ::unlink(path_.c_str());
}

// We hold the instance lock, so no live server of this NAME made
// what is under our key: it is a killed one's leftover - or a collision.
// Everything is checked before anything is removed.
void remove_leftovers(key_t key) {
    int shmid = ::shmget(key, 0, 0);
    if (shmid < 0 && errno != ENOENT) {
        throw lab::sys_error("shmget " + lab::key_text(key));
    }
    int semid = ::semget(key, 0, 0);
    if (semid < 0 && errno != ENOENT) {
        throw lab::sys_error("semget " + lab::key_text(key));
    }

    int predecessor_semid = -1; // the set the leftover segment names as its own
    if (shmid >= 0) {
        shmid_ds info{};
        if (::shmctl(shmid, IPC_STAT, &info) < 0) {
            throw lab::sys_error("shmctl IPC_STAT " + std::to_string(shmid));
        }
        // The creator's pid may belong to a new process by now: one that
        // started after the segment was made (shm_ctime) is not its creator.
        // (lab::alive_since also takes a zombie, a server killed a moment
        // ago and not yet reaped, for dead.)
        if (lab::alive_since(info.shm_cpid, info.shm_ctime)) {
            refuse_collision(key, "segment " + std::to_string(shmid), info.shm_cpid);
        }
        if (info.shm_segsz == sizeof(SysvSegment)) {
            void* address = ::shmat(shmid, nullptr, 0);
            // shmat() reports failure as (void*)-1, not NULL.
            // NOLINTNEXTLINE(performance-no-int-to-ptr): that value is shmat(2)'s
            if (address == reinterpret_cast<void*>(-1)) {
                throw lab::sys_error("shmat " + std::to_string(shmid));
            }
            Attachment leftover(address);
            predecessor_semid = static_cast<SysvSegment*>(address)->semid.load();
        }
    }
    if (semid >= 0 && semid != predecessor_semid) {
        // No leftover segment vouches for this set. A set records no creator;
        // the last pid to semop() each semaphore is the best sign of life it
        // keeps. It was set by a semop() (at sem_otime, the set's last, or
        // before) or by SETVAL/SETALL (at sem_ctime or before).
        semid_ds info{};
        semun arg{};
        arg.buf = &info;
        if (::semctl(semid, 0, IPC_STAT, arg) < 0) {
            throw lab::sys_error("semctl IPC_STAT " + std::to_string(semid));
        }
        std::time_t last_change = std::max(info.sem_otime, info.sem_ctime);
        for (unsigned long i = 0; i < info.sem_nsems; ++i) {
            pid_t last = ::semctl(semid, static_cast<int>(i), GETPID);
            if (last > 0 && lab::alive_since(last, last_change)) {
                refuse_collision(key, "semaphore set " + std::to_string(semid), last);
            }
        }
    }

    if (shmid >= 0 && ::shmctl(shmid, IPC_RMID, nullptr) < 0) {
        throw lab::sys_error("shmctl IPC_RMID " + std::to_string(shmid));
    }
    if (semid >= 0 && ::semctl(semid, 0, IPC_RMID) < 0) {
        throw lab::sys_error("semctl IPC_RMID " + std::to_string(semid));
    }
}

} // namespace shm_lab
