// leftovers.cpp - a hostile plant: makes System V and POSIX objects and
// files and exits without removing them (and without answering). The
// sandbox's IPC and mount namespaces and its /tmp and /dev/shm go when its
// run ends, with all of them.
#include <fcntl.h>
#include <mqueue.h>
#include <semaphore.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include "guard.hpp"

int main() {
    hostile::require_sandbox("leftovers");
    const key_t key = 0x1ab0de;
    static_cast<void>(msgget(key, IPC_CREAT | 0600));
    static_cast<void>(semget(key, 1, IPC_CREAT | 0600));
    static_cast<void>(shmget(key, 4096, IPC_CREAT | 0600));
    static_cast<void>(msgget(IPC_PRIVATE, 0600));
    static_cast<void>(shmget(IPC_PRIVATE, 4096, 0600));
    static_cast<void>(shm_open("/ipc-lab-hostile-leftover", O_CREAT | O_RDWR, 0600));
    static_cast<void>(sem_open("/ipc-lab-hostile-leftover", O_CREAT, 0600, 0));
    static_cast<void>(mq_open("/ipc-lab-hostile-leftover", O_CREAT | O_RDONLY, 0600, nullptr));
    for (const char* path :
         {"/tmp/ipc-lab-hostile-leftover", "/dev/shm/ipc-lab-hostile-leftover.file"}) {
        static_cast<void>(open(path, O_CREAT | O_WRONLY, 0600));
    }
    return 0;
}
