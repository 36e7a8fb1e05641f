// 09-mmap/client.cpp - sends each message through the server's mapped file.
//
//   client [--name NAME] [--timeout SECONDS] [MESSAGE...]   (no MESSAGE: stdin lines)
//
// 1. No live server (its instance lock is free): "not running", at once.
// 2. open() NAME.map and fstat() it: a regular file of exactly the layout's
//    size. A shorter one would make us touch pages past its end: SIGBUS.
// 3. mmap(MAP_SHARED) it, close the descriptor (the mapping keeps the file),
//    and check the magic and the version the server stores last.
// 4. Per message: pthread_mutex_timedlock() our turn (EOWNERDEAD: the last
//    holder died holding it; pthread_mutex_consistent() and carry on), take a
//    sequence number, write the request, sem_post(request_ready), then
//    sem_timedwait(reply_ready) until the reply carries our sequence; copy
//    it, unlock, print it. Every wait ends at --timeout.
// 5. munmap() on the way out (lab::Mapping's destructor).
#include "protocol.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <sys/stat.h>

namespace {

using mmap_lab::MapLayout;

// Below run(), in the order run() needs them.
void check_file(int fd, const std::string& path);
void check_header(MapLayout& map, const std::string& name, const std::string& path);
std::string exchange(MapLayout& map, const std::string& name, const std::string& message,
                     double timeout_seconds);

int run(int argc, char** argv) {
    lab::ClientCommand command = lab::parse_client_options(
        argc, argv,
        "Sends each MESSAGE (or each line of stdin) through RUNTIME/mmap/NAME.map\n"
        "and prints the server's reply to it.");

    // 1. A live server holds its instance lock; leftovers alone are not one.
    if (!lab::server_running(mmap_lab::topic, command.name)) {
        throw lab::not_running(command.name);
    }

    // 2. The file, and its size: exactly the layout's.
    const std::string path = mmap_lab::map_path(command.name);
    // TASK 4 (step 2): open the server's NAME.map with open
    //   `lab::Fd fd(open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW))`:
    //   read and write (we will map it writable), and never through a
    //   symbolic link someone put there. On failure: `ENOENT` means the
    //   server is just starting or just leaving: `throw
    //   lab::not_running(command.name, "no " + path)`; anything else
    //   `lab::sys_error("open " + path)`.
    //   man 2 open
    //   stub: lab::Fd fd(lab::not_written_yet<int>(2, 4, "open the server's NAME.map with open"));
    lab::Fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
        if (errno == ENOENT) { // the server is just starting or just leaving
            throw lab::not_running(command.name, "no " + path);
        }
        throw lab::sys_error("open " + path);
    }
    // END TASK 4
    check_file(fd.get(), path);

    // 3. Map it; the descriptor is no longer needed (the mapping keeps the file).
    // TASK 5 (step 3): map it MAP_SHARED with mmap, then close the descriptor
    //   As the server does: `mmap(nullptr, mmap_lab::map_bytes, PROT_READ |
    //   PROT_WRITE, MAP_SHARED, fd.get(), 0)`, `MAP_FAILED` on failure
    //   (`lab::sys_error("mmap " + path)`), held as `lab::Mapping
    //   mapping(address, mmap_lab::map_bytes)`. Then `fd.reset()`: the
    //   mapping keeps the file open by itself.
    //   man 2 mmap
    //   stub: lab::Mapping mapping = lab::not_written_yet<lab::Mapping>(
    //   stub:     3, 5, "map it MAP_SHARED with mmap, then close the descriptor");
    void* address =
        ::mmap(nullptr, mmap_lab::map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (address == MAP_FAILED) {
        throw lab::sys_error("mmap " + path);
    }
    lab::Mapping mapping(address, mmap_lab::map_bytes);
    fd.reset();
    // END TASK 5
    lab::SigbusGuard guard(mapping.address(), mapping.bytes());
    auto& map = mapping.as<MapLayout>();
    check_header(map, command.name, path);

    // 4. Per message: our turn, the request, the reply with our sequence.
    lab::for_each_message(command.messages, [&](const std::string& message) {
        lab::print_line(exchange(map, command.name, message, command.timeout_seconds));
    });
    // 5. munmap() in lab::Mapping's destructor.
    return lab::exit_ok;
}

void check_file(int fd, const std::string& path) {
    struct stat st {};
    if (::fstat(fd, &st) < 0) {
        throw lab::sys_error("fstat " + path);
    }
    if (!S_ISREG(st.st_mode)) {
        throw lab::Failure(path + ": not a regular file");
    }
    // Pages wholly past the end of a file have nothing behind them: a
    // load or store there is SIGBUS, not a zero or an error code.
    if (st.st_size != static_cast<off_t>(mmap_lab::map_bytes)) {
        throw lab::Failure(path + ": " + std::to_string(st.st_size) + " bytes, want " +
                           std::to_string(mmap_lab::map_bytes) +
                           " (a shorter file would raise SIGBUS when touched)");
    }
}

void check_header(MapLayout& map, const std::string& name, const std::string& path) {
    // The version is stored last: once it is there, so is the rest.
    std::uint32_t version =
        std::atomic_ref<std::uint32_t>(map.version).load(std::memory_order_acquire);
    if (version == 0) {
        throw lab::not_running(name, "still setting up " + path);
    }
    if (std::memcmp(map.magic, mmap_lab::magic_text, sizeof map.magic) != 0) {
        throw lab::Failure(path + ": not an ipc-lab mmap file (bad magic)");
    }
    if (version != mmap_lab::layout_version || map.layout_bytes != mmap_lab::map_bytes) {
        throw lab::Failure(path + ": layout version " + std::to_string(version) + " of " +
                           std::to_string(map.layout_bytes) + " bytes, want version " +
                           std::to_string(mmap_lab::layout_version) + " of " +
                           std::to_string(mmap_lab::map_bytes));
    }
}

// Runs one timed wait in ticks until it returns 0 or EOWNERDEAD (which it
// returns). Between ticks: "timed out" past the deadline, "not running"
// once the server is gone, a clean failure if the file was truncated.
int wait_in_ticks(const std::string& name, const lab::Deadline& deadline, double timeout_seconds,
                  const char* call, const std::string& waiting_for,
                  const std::function<int(const timespec&)>& attempt) {
    for (;;) {
        timespec tick_end =
            lab::Deadline(deadline.tick_milliseconds(lab::stop_check_interval_ms) / 1000.0)
                .absolute_realtime();
        int result = attempt(tick_end);
        if (lab::SigbusGuard::tripped()) {
            throw lab::Failure(mmap_lab::map_path(name) + ": truncated while mapped");
        }
        if (result == 0 || result == EOWNERDEAD) {
            return result;
        }
        if (result != ETIMEDOUT && result != EINTR) {
            throw lab::sys_error(result, call);
        }
        if (deadline.expired()) {
            throw lab::timed_out(timeout_seconds, waiting_for);
        }
        if (!lab::server_running(mmap_lab::topic, name)) {
            throw lab::not_running(name, "it went away");
        }
    }
}

// Our turn at the request slot: client_turn, held for one exchange.
class MutexHold {
  public:
    MutexHold(MapLayout& map, const std::string& name, const lab::Deadline& deadline,
              double timeout_seconds)
        : mutex_(map.client_turn) {
        int result =
            wait_in_ticks(name, deadline, timeout_seconds, "pthread_mutex_timedlock client_turn",
                          "our turn (another client holds it)", [this](const timespec& until) {
                              return ::pthread_mutex_timedlock(&mutex_, &until);
                          });
        if (result == EOWNERDEAD) {
            // The holder died inside its exchange. We own the mutex now; marking
            // it consistent lets it be used again after we unlock. What that
            // client left (a request, a post) is handled by sequence numbers.
            int error_number = ::pthread_mutex_consistent(&mutex_);
            if (error_number != 0) {
                ::pthread_mutex_unlock(&mutex_);
                throw lab::sys_error(error_number, "pthread_mutex_consistent");
            }
        }
    }
    MutexHold(const MutexHold&) = delete;
    MutexHold& operator=(const MutexHold&) = delete;
    ~MutexHold() { ::pthread_mutex_unlock(&mutex_); }

  private:
    pthread_mutex_t& mutex_;
};

// TASK 6 (step 4): one exchange through the mapping
//   Everything within `lab::Deadline deadline(timeout_seconds)`. Take the
//   turn: `MutexHold hold(map, name, deadline, timeout_seconds)` (above),
//   held to the end. Number the request: `++map.next_sequence` (only the
//   holder of the turn counts, so it is unique). Write it with
//   `mmap_lab::write_slot(map.request, sequence, message)`, then
//   `sem_post(&map.request_ready)` (`lab::sys_error("sem_post
//   request_ready")`). Then loop: `wait_in_ticks(name, deadline,
//   timeout_seconds, "sem_timedwait reply_ready", "the reply", attempt)`
//   where `attempt(until)` returns 0 when `sem_timedwait(&map.reply_ready,
//   &until)` succeeds, else `errno`; then `mmap_lab::read_slot(map.reply)`:
//   if it carries our `sequence`, return its `message`; else it was the
//   reply to a client that died or gave up: wait again.
//   man 3 sem_post, man 3 sem_timedwait
//   check: `./server`, then `./client a b` prints `A` and `B`
//   stub: std::string exchange(MapLayout& /*map*/, const std::string& /*name*/,
//   stub:                      const std::string& /*message*/, double /*timeout_seconds*/) {
//   stub:     return lab::not_written_yet<std::string>(4, 6, "one exchange through the mapping");
//   stub: }
std::string exchange(MapLayout& map, const std::string& name, const std::string& message,
                     double timeout_seconds) {
    lab::Deadline deadline(timeout_seconds);
    MutexHold hold(map, name, deadline, timeout_seconds);
    // Unique across all clients: only the holder of client_turn counts.
    std::uint64_t sequence = ++map.next_sequence;
    mmap_lab::write_slot(map.request, sequence, message);
    if (::sem_post(&map.request_ready) < 0) {
        throw lab::sys_error("sem_post request_ready");
    }
    for (;;) {
        wait_in_ticks(name, deadline, timeout_seconds, "sem_timedwait reply_ready", "the reply",
                      [&map](const timespec& until) {
                          return ::sem_timedwait(&map.reply_ready, &until) == 0 ? 0 : errno;
                      });
        std::optional<mmap_lab::SlotContents> reply = mmap_lab::read_slot(map.reply);
        if (reply && reply->sequence == sequence) {
            return reply->message;
        }
        // A post for a request of a client that died or gave up: not ours.
    }
}
// END TASK 6

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
