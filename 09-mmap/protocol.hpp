// protocol.hpp - what the 09-mmap programs agree on: the file, its layout,
// and the few helpers both sides use to move a message through it.
//
// RUNTIME/mmap/NAME.map is a regular file of exactly sizeof(MapLayout)
// bytes. The server and every client map it MAP_SHARED, so they all read and
// write the same pages of the kernel's page cache: a store by one process is
// seen by the others at once, with no read() or write() in between.
//
//   MapLayout
//     magic, version, layout_bytes, server_pid   so a client can refuse a wrong file
//     client_turn     robust process-shared mutex: one client at a time
//     request_ready   sem_t, pshared=1: posted by a client, waited on by the server
//     reply_ready     sem_t, pshared=1: posted by the server, waited on by a client
//     next_sequence   the last sequence number handed out (under client_turn)
//     request         Slot: sequence, length, 1024 bytes
//     reply           Slot: the request's sequence, length, 1024 bytes
//
// Sequence numbers are what make a killed client harmless. A client that dies
// after posting leaves a post behind it, so the server may reply once too
// often, or reply to a request nobody waits for any more. The reply carries
// the sequence of the request it answers and a client takes only its own;
// the server answers each sequence once.
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
#include <sys/types.h>
#include <type_traits>

namespace mmap_lab {

inline constexpr const char* topic = "mmap";

// The first bytes of the file, which is also the first line `strings` shows.
inline constexpr char magic_text[16] = "ipc-lab mmap";
// Bumped whenever MapLayout changes, so old clients refuse new files.
inline constexpr std::uint32_t layout_version = 1;
// Never a real sequence: a slot holding it is being written.
inline constexpr std::uint64_t no_sequence = 0;

// One message in the file, labelled with the sequence of its request.
struct Slot {
    std::uint64_t sequence;
    std::uint32_t length;
    char bytes[lab::max_message_bytes];
};

struct MapLayout {
    char magic[sizeof magic_text];
    std::uint32_t version; // stored last by the server: 0 means "not set up yet"
    std::uint32_t layout_bytes;
    std::int32_t server_pid;
    pthread_mutex_t client_turn;
    sem_t request_ready;
    sem_t reply_ready;
    std::uint64_t next_sequence;
    Slot request;
    Slot reply;
};

// The file holds the struct's bytes as they are: no constructors may be
// needed to bring it to life, and nothing in it may point into one process.
static_assert(std::is_trivially_copyable_v<MapLayout> && std::is_standard_layout_v<MapLayout>);
// A lock-free atomic is a plain memory instruction, which works between
// processes; one that needs a lock would use a lock private to each process.
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic_ref<std::uint32_t>::is_always_lock_free);

inline constexpr std::size_t map_bytes = sizeof(MapLayout);

// RUNTIME/mmap/NAME.map
inline std::string map_path(std::string_view name) {
    return lab::object_path(topic, name, "map");
}

// Stores `message` in `slot` labelled `sequence`. The label is cleared first
// and set last, so a reader copying at the same time sees that it changed.
// The bytes after the message are zeroed: `strings NAME.map` then shows the
// last message only, not the tail of a longer one before it.
void write_slot(Slot& slot, std::uint64_t sequence, std::string_view message);

struct SlotContents {
    std::uint64_t sequence;
    std::uint32_t length; // as found: over max_message_bytes is garbage
    std::string message;  // the bytes, at most max_message_bytes of them
};

// A copy of the slot, or nothing when it is being written (no label, or the
// label changed while we copied: the copy may be half old, half new).
std::optional<SlotContents> read_slot(const Slot& slot);

} // namespace mmap_lab
