// 06-msgqueue/posix-client.cpp - sends each message to the server's POSIX
// queue and reads the reply from a queue of its own.
//
//   posix-client [--name NAME] [--timeout SECONDS] [--priority P] [MESSAGE...]
//
// 1. Open the server's queue: mq_open(/ipc-lab-UID-msgqueue-posix-NAME, O_WRONLY).
// 2. Make the reply queue /ipc-lab-UID-msgqueue-posix-NAME-PID (O_CREAT |
//    O_EXCL, 0600) BEFORE sending: the server may answer at once. That name
//    may be the queue of a server named NAME-PID: mq_getattr tells, and we
//    exit 1 rather than remove it.
// 3. Per message: mq_timedsend(pid + message, priority P), then
//    mq_timedreceive() on the reply queue. Both wake every tick to check the
//    deadline, that the server is alive, and for SIGINT/SIGTERM.
// 4. mq_close() both, mq_unlink() the reply queue: on every way out, since
//    SIGINT/SIGTERM end the wait and leave through the same destructors.
#include "protocol.hpp"

#include <fcntl.h>
#include <vector>

namespace {

using namespace msgqueue_lab;

PosixQueue open_server_queue(const std::string& name);
mqd_t create_reply_queue(const std::string& queue_name);
std::string exchange(const PosixQueue& server, const PosixQueue& replies, unsigned priority,
                     const std::string& name, double timeout_seconds, const lab::StopSignals& stop,
                     const std::string& message);

int run(int argc, char** argv) {
    std::string name;
    double timeout_seconds = 0;
    long priority = 0;
    lab::Options options = lab::client_options(
        "Sends each MESSAGE (or, given none, each line of stdin) to the server's\n"
        "POSIX message queue and prints each reply, read from a queue of its own.",
        name, timeout_seconds);
    options.value("--priority", "P", "send at priority P, 0-31 (default 0): higher is served first",
                  [&priority](const std::string& text) {
                      priority = lab::parse_integer("--priority", text, 0, max_priority);
                  });
    std::vector<std::string> messages = options.parse(argc, argv);

    // Installed before the reply queue exists: from then on, SIGINT/SIGTERM
    // end the wait and leave through ~PosixQueue, which removes it.
    lab::StopSignals stop;
    // 1. Open the server's queue.
    PosixQueue server = open_server_queue(name);
    // 2. Make the reply queue.
    std::string reply_name = reply_queue_name(name, ::getpid());
    // Made first, owned after: an OwnedName built before the mq_open() could
    // (argument order is unspecified) remove a queue of the same name that
    // is not ours when the making fails.
    mqd_t reply_queue = create_reply_queue(reply_name);
    PosixQueue replies(reply_queue, lab::OwnedName(reply_name, ::mq_unlink));

    // 3. Per message.
    lab::for_each_message(
        messages,
        [&](const std::string& message) {
            lab::print_line(exchange(server, replies, static_cast<unsigned>(priority), name,
                                     timeout_seconds, stop, message));
        },
        &stop); // Ctrl-C while it waits for a line of stdin ends it too
    // 4. ~PosixQueue: mq_close() both, mq_unlink() the reply queue.
    return lab::exit_ok;
}

// 1. The server's queue, opened for sending.
PosixQueue open_server_queue(const std::string& name) {
    if (!lab::server_running(posix_topic, name)) {
        throw lab::not_running(name);
    }
    // TASK 12 (step 1): open the server's queue with mq_open
    //   Return the server's queue, `server_queue_name(name)`, opened for
    //   sending: `mq_open(queue_name.c_str(), O_WRONLY | O_CLOEXEC)`, no O_CREAT
    //   (the server makes it). It returns `(mqd_t)-1` on failure: ENOENT is
    //   `lab::not_running(name, "no " + queue_name)`, any other errno
    //   `lab::sys_error("mq_open " + queue_name)`. Own the descriptor in a
    //   `PosixQueue` (protocol.hpp: it calls mq_close when it goes). A
    //   client of the server named like NAME-PID may own this name: if
    //   `shape_mismatch(queue, server_queue_shape)` is not empty, throw
    //   `name_clash(queue_name, it)`, never send requests into it.
    //   man 3 mq_open
    //   check: `./posix-client hi` with no server says `not running`, at once
    //   stub: return lab::not_written_yet<PosixQueue>(
    //   stub:     1, 12, "open the server's queue with mq_open");
    std::string queue_name = server_queue_name(name);
    mqd_t queue = ::mq_open(queue_name.c_str(), O_WRONLY | O_CLOEXEC); // no O_CREAT: the server's
    if (queue == static_cast<mqd_t>(-1)) {
        if (errno == ENOENT) {
            throw lab::not_running(name, "no " + queue_name);
        }
        throw lab::sys_error("mq_open " + queue_name);
    }
    PosixQueue server(queue);
    // A client of the server named like NAME-PID may own this name: never
    // send requests into its reply queue.
    if (std::string clash = shape_mismatch(server.get(), server_queue_shape); !clash.empty()) {
        throw name_clash(queue_name, clash);
    }
    return server;
    // END TASK 12
}

// TASK 13 (step 2): create the reply queue with mq_open
//   Write `create_reply_queue(queue_name)`: it returns the descriptor of
//   our new reply queue, opened for reading, made BEFORE we send (the
//   server may answer at once). As the server's queue: an `mq_attr`
//   (zeroed) set to `reply_queue_shape` (`mq_maxmsg = max_messages`,
//   `mq_msgsize = message_bytes`), `mq_open(queue_name.c_str(), O_RDONLY | O_CREAT |
//   O_EXCL | O_CLOEXEC, lab::owner_only, &attributes)`, `(mqd_t)-1` on
//   failure. On EEXIST `remove_leftover_queue(queue_name,
//   reply_queue_shape)` (protocol.hpp: it unlinks one a killed process
//   with our pid left, and throws for a queue of another shape), then try
//   again, at most `max_create_attempts` times in all. Any other errno, or
//   EEXIST at the last attempt (nothing removed then): throw
//   `lab::sys_error("mq_open " + queue_name)`.
//   man 3 mq_open
//   check: `./posix-client` (stdin) while a server runs: `ls -l /dev/mqueue` shows 2 queues
//   stub: mqd_t create_reply_queue(const std::string&) {
//   stub:     return lab::not_written_yet<mqd_t>(2, 13, "create the reply queue with mq_open");
//   stub: }
// 2. Our reply queue, new (O_EXCL). One of the same shape under our name was
// left by a killed process that had our pid: ours now, unlinked and made
// anew. One of another shape is the queue of a server named NAME-PID: it
// stays, and we exit 1.
mqd_t create_reply_queue(const std::string& queue_name) {
    mq_attr attributes{};
    attributes.mq_maxmsg = reply_queue_shape.max_messages;
    attributes.mq_msgsize = reply_queue_shape.message_bytes;
    for (int attempt = 1;; ++attempt) {
        mqd_t queue = ::mq_open(queue_name.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                                lab::owner_only, &attributes);
        if (queue != static_cast<mqd_t>(-1)) {
            return queue;
        }
        if (errno != EEXIST || attempt == max_create_attempts) {
            throw lab::sys_error("mq_open " + queue_name);
        }
        remove_leftover_queue(queue_name, reply_queue_shape);
    }
}
// END TASK 13

// TASK 14 (step 3): send a request with mq_timedsend, read the reply
//   Write `exchange()`: one message there and back, the reply returned.
//   The request body is `[pid_t getpid()][message bytes]`, in a
//   `std::vector<char>`; `mq_timedsend(server.get(), body.data(),
//   body.size(), priority, &until)` sends it (a full queue blocks until
//   `until`). Then `mq_timedreceive(replies.get(), reply.data(),
//   reply.size(), nullptr, &until)` into a `std::vector<char>
//   reply(reply_max_bytes)` (it must hold the queue's mq_msgsize) returns
//   the reply's length. Both waits wake every tick, so that the deadline,
//   a dead server and SIGINT/SIGTERM are seen: make a `lab::Deadline
//   deadline(timeout_seconds)` first, and before each call set `until =
//   lab::Deadline(deadline.tick_milliseconds(lab::stop_check_interval_ms)
//   / 1000.0).absolute_realtime()` (absolute, CLOCK_REALTIME). Loop on each
//   call while it fails: an errno other than ETIMEDOUT or EINTR: throw
//   `lab::sys_error("mq_timedsend")` (or mq_timedreceive); else
//   `stop.throw_if_requested()`, then `check_still_waiting(posix_topic,
//   name, deadline, timeout_seconds)` (protocol.hpp: "not running" or
//   "timed out"), and call again.
//   man 3 mq_send, man 3 mq_receive
//   check: `./posix-server`, and `./posix-client hello world` elsewhere prints `HELLO WORLD`
//   stub: std::string exchange(const PosixQueue&, const PosixQueue&, unsigned,
//   stub:                      const std::string&, double, const lab::StopSignals&,
//   stub:                      const std::string&) {
//   stub:     lab::not_written_yet(3, 14, "send a request with mq_timedsend, read the reply");
//   stub: }
// The next wake-up: the deadline, or a tick sooner to look at the server
// and at SIGINT/SIGTERM.
timespec tick(const lab::Deadline& deadline) {
    return lab::Deadline(deadline.tick_milliseconds(lab::stop_check_interval_ms) / 1000.0)
        .absolute_realtime();
}

// A timed send/receive that returned without its message: a real error, or
// a tick: then go on waiting, unless we are told to stop, the server died or
// the time is up.
void wait_failed(const char* call, const std::string& name, const lab::Deadline& deadline,
                 double timeout_seconds, const lab::StopSignals& stop) {
    if (errno != ETIMEDOUT && errno != EINTR) {
        throw lab::sys_error(call);
    }
    stop.throw_if_requested();
    check_still_waiting(posix_topic, name, deadline, timeout_seconds);
}

// 3. One message there and back; returns the reply.
std::string exchange(const PosixQueue& server, const PosixQueue& replies, unsigned priority,
                     const std::string& name, double timeout_seconds, const lab::StopSignals& stop,
                     const std::string& message) {
    const pid_t self = ::getpid();
    lab::Deadline deadline(timeout_seconds);
    std::vector<char> body(sizeof self + message.size()); // [pid][message]
    std::memcpy(body.data(), &self, sizeof self);
    std::memcpy(body.data() + sizeof self, message.data(), message.size());
    timespec until = tick(deadline);
    while (::mq_timedsend(server.get(), body.data(), body.size(), priority, &until) < 0) {
        // full: the server is behind or stopped
        wait_failed("mq_timedsend", name, deadline, timeout_seconds, stop);
        until = tick(deadline);
    }
    std::vector<char> reply(reply_max_bytes); // must hold the queue's mq_msgsize
    ssize_t got;
    until = tick(deadline);
    while ((got = ::mq_timedreceive(replies.get(), reply.data(), reply.size(), nullptr, &until)) <
           0) {
        wait_failed("mq_timedreceive", name, deadline, timeout_seconds, stop);
        until = tick(deadline);
    }
    return {reply.data(), static_cast<std::size_t>(got)};
}
// END TASK 14

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
