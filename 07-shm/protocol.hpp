// protocol.hpp - what the 07-shm programs agree on: names, the layout of the
// shared memory, and how a request and its reply travel through it; and the
// small owner that releases (shmdt) what the programs attach themselves.
// (The System V ids the server makes are owned by lab::OwnedSysvId,
// common/sysv_key.hpp, which calls the server's own IPC_RMID; a POSIX
// mapping by lab::Mapping, common/mapping.hpp, and the object's name by
// lab::OwnedName, common/owned_name.hpp, given the server's shm_unlink.)
//
// Both variants carry the message the same way, in an `Exchange` placed in
// the shared memory; they differ in how the sides say "now":
//   System V  a semaphore set beside the segment: mutex, request, reply;
//   POSIX     `PosixSegment`: unnamed semaphores (sem_init pshared=1) and a
//             robust process-shared mutex, inside the memory itself.
//
// Sequence numbers make a killed client harmless. Every request carries a
// number handed out under the mutex; the server copies it into the reply. A
// client takes only the reply that carries its own number and throws away
// any other: a reply the server posted for a client that was killed, or that
// gave up (timed out), is still counted by the reply semaphore, and without
// the number the next client would print it as its own.
#pragma once

#include "lab.hpp"

#include <atomic>
#include <cstdint>
#include <optional>
#include <pthread.h>
#include <semaphore.h>
#include <string>
#include <string_view>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/types.h>
#include <utility>

namespace shm_lab {

// TOPIC of each variant: RUNTIME/shm/NAME.key, /ipc-lab-UID-shm-posix-NAME.
inline constexpr std::string_view sysv_topic = "shm";
inline constexpr std::string_view posix_topic = "shm-posix";

// ftok()'s second argument; the segment and the semaphore set share the key
// (shared memory and semaphores are separate key spaces).
inline constexpr int key_project_id = 'M';

// The System V semaphore set, one number per role.
enum Semaphore : unsigned short {
    mutex = 0,   // 1 = free; a client holds it for its whole exchange (SEM_UNDO)
    request = 1, // posted by the client once its request is in the segment
    reply = 2,   // posted by the server once the reply is in the segment
    semaphore_count = 3,
};

// Shared between processes, these atomics must not hide a lock in the
// process that made them: lock-free atomics work on the memory alone.
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<int>::is_always_lock_free);

// The message area, in the segment (System V) or inside PosixSegment.
struct Exchange {
    // Written by clients, only while holding the mutex.
    std::atomic<std::uint64_t> last_sequence;    // the last number handed out
    std::atomic<std::uint64_t> request_sequence; // 0 while a client writes the request
    std::atomic<std::uint32_t> request_bytes;
    char request[lab::max_message_bytes];
    // Written by the server only.
    std::atomic<std::uint64_t> reply_sequence; // the request this reply answers
    std::atomic<std::uint32_t> reply_bytes;
    char reply[lab::max_message_bytes];
};

// The System V segment: the exchange alone (the semaphores are a set of
// their own, under the same key).
struct SysvSegment {
    Exchange exchange;
};

// The POSIX object: everything lives in the shared memory, nothing has a name
// of its own. `initialised` is set last, so a client that opens the object
// while the server is still making it does not use a half-built mutex.
struct PosixSegment {
    std::atomic<std::uint32_t> initialised;
    sem_t request;        // sem_init(pshared=1), posted by clients
    sem_t reply;          // sem_init(pshared=1), posted by the server
    pthread_mutex_t turn; // robust, process-shared: the clients' mutual exclusion
    Exchange exchange;
};
inline constexpr std::uint32_t initialised_magic = 0x07'5A'17'ED;

// --- the client's side ---

// Holding the mutex: hands out the next sequence number and writes
// `message` under it.
std::uint64_t write_request(Exchange& exchange, std::string_view message);

// The reply if it answers `sequence`; nothing if it is a stale one (for a
// killed or timed-out client), which the caller drops before waiting again.
std::optional<std::string> take_reply(const Exchange& exchange, std::uint64_t sequence);

// --- the server's side ---

struct Request {
    std::uint64_t sequence = 0;
    std::string message;
    std::string ignored; // why it is not answered; empty for a good request
};

// Copies the request out. A request post can be stale: its client was killed
// after posting and the next client may be rewriting the buffer while we copy,
// or its request was answered already. Such a request comes back `ignored`.
Request read_request(Exchange& exchange, std::uint64_t last_answered);

// Writes the reply for `request`: the bytes, then its sequence number (the
// caller posts it).
void write_reply(Exchange& exchange, const Request& request);

// --- what a program made or mapped, released when its owner goes ---
//
// Each program makes the call that acquires (shmget, shmat, shm_open, mmap)
// itself, at its numbered step, where a reader looks for it; it hands the
// result to its owner (the one below, or lab::OwnedSysvId, lab::Mapping and
// lab::OwnedName from common/) the moment the call succeeded, so that every
// way out - a return, an exception, a stop signal - releases it exactly
// once.

// A segment attached with shmat(): shmdt() when it goes.
class Attachment {
  public:
    explicit Attachment(void* address) : address_(address) {}
    ~Attachment() { ::shmdt(address_); }
    Attachment(const Attachment&) = delete;
    Attachment& operator=(const Attachment&) = delete;
    void* address() const { return address_; }

  private:
    void* address_;
};

} // namespace shm_lab
