#include "mechanisms.hpp"

namespace bench {

namespace {
constexpr std::size_t message = 64;
constexpr std::size_t word = 8;
constexpr std::size_t chunk = std::size_t{64} * 1024;
// The largest System V message (msgmax) and POSIX one (msgsize_max) here.
constexpr std::size_t queue_message = 8192;
// 63 KiB: with its 28 bytes of IP and UDP headers it fits loopback's 64 KiB
// MTU, so no datagram is fragmented.
constexpr std::size_t udp_datagram = std::size_t{63} * 1024;
constexpr std::size_t copy_block = std::size_t{1024} * 1024;

// In the order of the chapters; eventfd and memcpy are references.
constexpr Mechanism table[] = {
    {"file-lock", "01-file-locking", 0, "2 hand-offs: fcntl unlock, F_SETLKW", 0, "",
     make_file_lock},
    {"pipe", "02-pipe", message, "64 B write + read", chunk, "64 KiB writes", make_pipe},
    {"fifo", "03-fifo", message, "64 B write + read", chunk, "64 KiB writes", make_fifo},
    {"signal", "04-signal", word, "sigqueue + sigwaitinfo, 8 B value", 0, "", make_signal},
    {"sysv-sem", "05-semaphore", 0, "2 hand-offs: semop", 0, "", make_sysv_sem},
    {"posix-sem", "05-semaphore", 0, "2 hand-offs: sem_post + sem_wait", 0, "", make_posix_sem},
    {"sysv-msg", "06-msgqueue", message, "64 B msgsnd + msgrcv", queue_message, "8 KiB messages",
     make_sysv_msg},
    {"posix-mq", "06-msgqueue", message, "64 B mq_send + mq_receive", queue_message,
     "8 KiB messages", make_posix_mq},
    {"sysv-shm", "07-shm", message, "64 B in segment + semop", chunk, "64 KiB slots, semop",
     make_sysv_shm},
    {"posix-shm", "07-shm", message, "64 B in segment + sem_t", chunk, "64 KiB slots, sem_t",
     make_posix_shm},
    {"shm-futex", "07-shm", message, "64 B in segment + atomics/futex", chunk,
     "64 KiB slots, lock-free", make_shm_futex},
    {"unix-stream", "08-socket", message, "64 B write + read", chunk, "64 KiB writes",
     make_unix_stream},
    {"unix-dgram", "08-socket", message, "64 B send + recv", chunk, "64 KiB datagrams",
     make_unix_dgram},
    {"tcp", "08-socket", message, "64 B write + read, loopback", chunk, "64 KiB writes", make_tcp},
    {"udp", "08-socket", message, "64 B send + recv, loopback", udp_datagram,
     "63 KiB datagrams, acked", make_udp},
    {"mmap-file", "09-mmap", message, "64 B in file mapping + sem_t", chunk, "64 KiB slots, sem_t",
     make_mmap_file},
    {"eventfd", "(reference)", word, "8 B counter write + read", 0, "", make_eventfd},
    {"memcpy", "(reference)", 0, "", copy_block, "1 MiB memcpy, one process", make_memcpy},
};
} // namespace

std::span<const Mechanism> mechanisms() {
    return table;
}

} // namespace bench
