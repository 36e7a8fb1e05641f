// 07-shm/posix-client.cpp - sends each message through the POSIX object.
//
//   posix-client [--name NAME] [--timeout SECONDS] [MESSAGE...]
//
// 1. Find: server_running() answers "not running" at once; then
//    shm_open(O_RDWR) without O_CREAT (the server makes the object) and
//    fstat() for its size.
// 2. Map: mmap(MAP_SHARED), guard it against SIGBUS (the object may be
//    truncated under us), close the descriptor, check `initialised`.
// 3. Per message, every wait bounded by --timeout: pthread_mutex_timedlock()
//    (EOWNERDEAD: the last holder died, pthread_mutex_consistent()); write
//    the request; sem_post() request; sem_timedwait() reply until it carries
//    our sequence number; copy it out; pthread_mutex_unlock(); print it.
//    Every wait wakes each tick to see whether the object was truncated.
// 4. Unmap: munmap() (lab::Mapping's destructor).
#include "protocol.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

namespace {

using namespace shm_lab;

void check_intact(const std::string& object);
std::string exchange_one(PosixSegment& segment, const std::string& object,
                         const std::string& message, double timeout_seconds);

int run(int argc, char** argv) {
    lab::ClientCommand command = lab::parse_client_options(
        argc, argv,
        "Sends each MESSAGE (or each line of stdin) to the server through POSIX\n"
        "shared memory and prints each reply.");

    // 1. Find the object.
    if (!lab::server_running(posix_topic, command.name)) {
        throw lab::not_running(command.name, "no server holds its instance lock");
    }
    std::string object = lab::posix_ipc_name(posix_topic, command.name);
    // TASK 15 (step 1): open the object with shm_open
    //   Open the server's object: `shm_open(object.c_str(), O_RDWR, 0)`,
    //   no O_CREAT (the server makes it), its descriptor owned by a
    //   `lab::Fd fd` (false when the call failed). ENOENT: throw
    //   `lab::not_running(command.name, "no shared memory object " +
    //   object)`; other errno: `lab::sys_error("shm_open " + object)`. Then
    //   `fstat()` it (failure: `lab::sys_error("fstat " + object)`): a size
    //   other than `sizeof(PosixSegment)` (0 while the server is between
    //   shm_open and posix_fallocate) is `lab::not_running(command.name,
    //   OBJECT + " is N bytes, not M")`: mapping it would be a SIGBUS.
    //   man 3 shm_open, man 2 fstat
    //   check: `./posix-client hi` with no server says `not running`, at once
    //   stub: lab::Fd fd(lab::not_written_yet<int>(1, 15, "open the object with shm_open"));
    lab::Fd fd(::shm_open(object.c_str(), O_RDWR, 0));
    if (!fd) {
        if (errno == ENOENT) {
            throw lab::not_running(command.name, "no shared memory object " + object);
        }
        throw lab::sys_error("shm_open " + object);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) {
        throw lab::sys_error("fstat " + object);
    }
    if (st.st_size != static_cast<off_t>(sizeof(PosixSegment))) {
        // 0 while the server is between shm_open() and posix_fallocate().
        throw lab::not_running(command.name, object + " is " + std::to_string(st.st_size) +
                                                 " bytes, not " +
                                                 std::to_string(sizeof(PosixSegment)));
    }
    // END TASK 15

    // 2. Map; the mapping outlives the descriptor.
    // TASK 16 (step 2): map the object with mmap
    //   `mmap(nullptr, sizeof(PosixSegment), PROT_READ | PROT_WRITE,
    //   MAP_SHARED, fd, 0)`: MAP_SHARED, or our writes would stay ours. It
    //   fails with `MAP_FAILED`, not NULL (throw `lab::sys_error("mmap " +
    //   object)`). Own it at once in a `lab::Mapping mapping(address,
    //   size)` (munmap when it goes), guard it with `lab::SigbusGuard
    //   guard(address, size)` (the object may be truncated under us: an
    //   error line, not a SIGBUS death), close the descriptor
    //   (`fd.reset()`: the mapping stays), and set `segment` to the
    //   `PosixSegment` at that address.
    //   man 2 mmap, man 2 munmap
    //   check: `./posix-server`, and `./posix-client hi` elsewhere: the server logs `received: hi`
    //   stub: auto& segment =
    //   stub:     lab::not_written_yet<PosixSegment&>(2, 16, "map the object with mmap");
    void* address =
        ::mmap(nullptr, sizeof(PosixSegment), PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (address == MAP_FAILED) { // not NULL
        throw lab::sys_error("mmap " + object);
    }
    lab::Mapping mapping(address, sizeof(PosixSegment));
    lab::SigbusGuard guard(address, sizeof(PosixSegment));
    fd.reset();
    auto& segment = *static_cast<PosixSegment*>(address);
    // END TASK 16
    if (segment.initialised.load(std::memory_order_acquire) != initialised_magic) {
        check_intact(object);
        throw lab::not_running(command.name, "its server is still setting up " + object);
    }

    // 3. One exchange per message.
    lab::for_each_message(command.messages, [&](const std::string& message) {
        std::string reply_text = exchange_one(segment, object, message, command.timeout_seconds);
        // Printed after the mutex is given back: a slow stdout (a full pipe)
        // must not hold up the other clients.
        lab::print_line(reply_text);
    });
    // 4. Unmap: ~lab::Mapping (munmap).
    return lab::exit_ok;
}

// Someone of our uid truncated the object: the memory we shared with the
// server is gone (the SigbusGuard put private zeros in its place).
void check_intact(const std::string& object) {
    if (lab::SigbusGuard::tripped()) {
        throw lab::Failure(object + ": truncated while mapped");
    }
}

// TASK 17 (step 3): lock the robust mutex, post the request, wait for the reply
//   Write `exchange_one()`: one message there and back within one
//   `lab::Deadline deadline(timeout_seconds)`; the reply returned. Every
//   wait is in ticks, an absolute CLOCK_REALTIME time
//   `lab::Deadline(deadline.tick_milliseconds(lab::stop_check_interval_ms)
//   / 1000.0).absolute_realtime()`, with `check_intact(object)` after each
//   (a truncated object wakes nobody). Lock `segment.turn` with
//   `pthread_mutex_timedlock` (it returns the error number) until it is
//   not ETIMEDOUT or the deadline expired; EOWNERDEAD: we hold it, but its
//   last holder died: `pthread_mutex_consistent` (or it becomes unusable);
//   ETIMEDOUT at the end: `lab::timed_out(timeout_seconds, "the mutex
//   (held by another client?)")`; other errors:
//   `lab::check_error_number(result, "pthread_mutex_timedlock")`. Hold it
//   for the whole exchange and `pthread_mutex_unlock` it on every way out
//   (an RAII class). Write the request, `write_request(segment.exchange,
//   message)` (it returns the sequence number); `sem_post(
//   &segment.request)`; then `sem_timedwait(&segment.reply, &until)` until
//   `take_reply(segment.exchange, sequence)` gives a reply (another is a
//   stale post: drop it, wait again). EINTR, or ETIMEDOUT before the
//   deadline: wait on; ETIMEDOUT at it: `lab::timed_out(timeout_seconds,
//   "the reply (server stopped or stuck?)")`; other errno:
//   `lab::sys_error(errno, "sem_timedwait (reply)")`.
//   man 3 pthread_mutex_lock, man 3 pthread_mutex_consistent, man 3 sem_timedwait, man 3 sem_post
//   check: `./posix-server`, and `./posix-client hello world` elsewhere prints `HELLO WORLD`
//   stub: std::string exchange_one(PosixSegment&, const std::string&, const std::string&, double) {
//   stub:     lab::not_written_yet(
//   stub:         3, 17, "lock the robust mutex, post the request, wait for the reply");
//   stub: }
// The robust mutex, held for one whole exchange.
class MutexHold {
  public:
    MutexHold(pthread_mutex_t& mutex, const std::string& object, const lab::Deadline& deadline,
              double timeout_seconds)
        : mutex_(mutex) {
        int result = 0;
        do {
            // Short slices, not one long wait: unlocking wakes one sleeper,
            // and if that sleeper is killed before it takes the mutex, the
            // wake-up dies with it (the kernel's robust-futex cleanup cannot
            // always pass it on), and the others would sleep to their
            // deadline. Waking each tick bounds what a lost wake-up costs.
            double slice = deadline.tick_milliseconds(lab::stop_check_interval_ms) / 1000.0;
            timespec until = lab::Deadline(slice).absolute_realtime(); // CLOCK_REALTIME
            result = ::pthread_mutex_timedlock(&mutex_, &until);
            check_intact(object);
        } while (result == ETIMEDOUT && !deadline.expired());
        if (result == EOWNERDEAD) {
            // We hold it now, but its last holder died inside an exchange.
            // What it left in the exchange is harmless (sequence numbers);
            // say so, or the mutex becomes unusable for everyone once we
            // unlock (ENOTRECOVERABLE).
            result = ::pthread_mutex_consistent(&mutex_);
        }
        if (result == ETIMEDOUT) {
            throw lab::timed_out(timeout_seconds, "the mutex (held by another client?)");
        }
        lab::check_error_number(result, "pthread_mutex_timedlock");
    }
    ~MutexHold() { ::pthread_mutex_unlock(&mutex_); }
    MutexHold(const MutexHold&) = delete;
    MutexHold& operator=(const MutexHold&) = delete;

  private:
    pthread_mutex_t& mutex_;
};

std::string wait_for_reply(PosixSegment& segment, const std::string& object, std::uint64_t sequence,
                           const lab::Deadline& deadline, double timeout_seconds) {
    for (;;) {
        // In ticks: a truncated object wakes nobody sleeping on it.
        double slice = deadline.tick_milliseconds(lab::stop_check_interval_ms) / 1000.0;
        timespec until = lab::Deadline(slice).absolute_realtime(); // CLOCK_REALTIME
        int waited = ::sem_timedwait(&segment.reply, &until);
        int error_number = errno;
        check_intact(object);
        if (waited < 0) {
            if (error_number == EINTR || (error_number == ETIMEDOUT && !deadline.expired())) {
                continue; // a tick, or stopped and continued (SIGSTOP/SIGCONT): wait on
            }
            if (error_number == ETIMEDOUT) {
                throw lab::timed_out(timeout_seconds, "the reply (server stopped or stuck?)");
            }
            throw lab::sys_error(error_number, "sem_timedwait (reply)");
        }
        if (auto text = take_reply(segment.exchange, sequence)) {
            return *text;
        }
        // A post for a client that was killed or gave up: not ours, drop it.
    }
}

// Step 3 for one message: in turn (the mutex), the request in, the reply out.
std::string exchange_one(PosixSegment& segment, const std::string& object,
                         const std::string& message, double timeout_seconds) {
    lab::Deadline deadline(timeout_seconds);
    MutexHold hold(segment.turn, object, deadline, timeout_seconds);
    std::uint64_t sequence = write_request(segment.exchange, message);
    if (::sem_post(&segment.request) < 0) {
        throw lab::sys_error("sem_post (request)");
    }
    return wait_for_reply(segment, object, sequence, deadline, timeout_seconds);
}
// END TASK 17

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
