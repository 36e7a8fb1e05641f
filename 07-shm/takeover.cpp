// takeover.cpp - see takeover.hpp.
#include "takeover.hpp"

#include "protocol.hpp"

#include <cerrno>
#include <csignal>
#include <fstream>
#include <sys/sem.h>
#include <sys/shm.h>

namespace shm_lab {

namespace {

bool process_alive(pid_t pid) {
    if (pid <= 0 || (::kill(pid, 0) < 0 && errno != EPERM)) {
        return false;
    }
    // kill(pid, 0) also finds a zombie: a server killed a moment ago stays
    // one until its parent reaps it. State 'Z' in /proc/PID/stat is dead.
    std::ifstream stat_file("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    std::getline(stat_file, stat);
    auto name_end = stat.rfind(')'); // "PID (COMMAND) STATE ...": COMMAND may hold ')'
    return name_end == std::string::npos || name_end + 2 >= stat.size() ||
           stat[name_end + 2] != 'Z';
}

[[noreturn]] void refuse_collision(key_t key, const std::string& object, pid_t pid) {
    throw lab::Failure("key " + key_hex(key) + " in use: " + object + " of live pid " +
                       std::to_string(pid) + " (another program's ftok key collides with " +
                       "ours; rename the instance with --name)");
}

} // namespace

// We hold the instance lock, so no live server of this NAME made
// what is under our key: it is a killed one's leftover - or a collision.
// Everything is checked before anything is removed.
void remove_leftovers(key_t key) {
    int shmid = ::shmget(key, 0, 0);
    if (shmid < 0 && errno != ENOENT) {
        throw lab::sys_error("shmget " + key_hex(key));
    }
    int semid = ::semget(key, 0, 0);
    if (semid < 0 && errno != ENOENT) {
        throw lab::sys_error("semget " + key_hex(key));
    }

    int predecessor_semid = -1; // the set the leftover segment names as its own
    if (shmid >= 0) {
        shmid_ds info{};
        if (::shmctl(shmid, IPC_STAT, &info) < 0) {
            throw lab::sys_error("shmctl IPC_STAT " + std::to_string(shmid));
        }
        if (process_alive(info.shm_cpid)) {
            refuse_collision(key, "segment " + std::to_string(shmid), info.shm_cpid);
        }
        if (info.shm_segsz == sizeof(SysvSegment)) {
            Attachment leftover(shmid);
            predecessor_semid = static_cast<SysvSegment*>(leftover.address())->semid.load();
        }
    }
    if (semid >= 0 && semid != predecessor_semid) {
        // No leftover segment vouches for this set. A set records no creator;
        // the last pid to semop() each semaphore is the best sign of life it keeps.
        semid_ds info{};
        semun arg{};
        arg.buf = &info;
        if (::semctl(semid, 0, IPC_STAT, arg) < 0) {
            throw lab::sys_error("semctl IPC_STAT " + std::to_string(semid));
        }
        for (unsigned long i = 0; i < info.sem_nsems; ++i) {
            pid_t last = ::semctl(semid, static_cast<int>(i), GETPID);
            if (process_alive(last)) {
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
