// 06-msgqueue/posix-server.cpp - a POSIX message queue server: its own queue
// for requests, one reply queue per client.
//
//   posix-server [--name NAME]
//
// 1. Create: mq_open(/ipc-lab-UID-msgqueue-posix-NAME, O_RDONLY | O_CREAT |
//    O_EXCL, 0600, {mq_maxmsg 10, mq_msgsize pid + 1024}). A killed server's
//    queue of that name is unlinked and made anew; a queue of another shape
//    there (a client's reply queue: mq_getattr) is left alone and we exit 1.
// 2. Attach: the descriptor mq_open gave is all we need.
// 3. Exchange: mq_timedreceive() takes the oldest request of the HIGHEST
//    priority; the reply goes to the client's own queue, opened by name with
//    O_NONBLOCK and sent with mq_send(), so a client that stopped reading
//    costs its own reply, never our progress.
// 4. Detach: mq_close() each descriptor.
// 5. Remove: mq_unlink() our queue (and the reply queues that SIGKILLed
//    clients left, after mq_getattr shows they are reply queues:
//    ClientQueues, posix-server-clients.cpp), on
//    SIGINT/SIGTERM through the same destructors.
#include "posix-server-clients.hpp"
#include "protocol.hpp"

#include <fcntl.h>
#include <vector>

namespace {

using namespace msgqueue_lab;

mqd_t create_request_queue(const std::string& queue_name, bool& took_over);
void send_reply(const std::string& name, pid_t pid, const std::string& reply);

int run(int argc, char** argv) {
    std::string name = lab::parse_server_options(
        argc, argv,
        "Serves clients through POSIX message queues until SIGINT or SIGTERM:\n"
        "requests come to its own queue, highest priority first; each reply\n"
        "goes to the client's own queue.");
    lab::InstanceLock instance(posix_topic, name); // first: "already running", safe takeover
    lab::StopSignals stop;
    lab::ignore_sigpipe(); // a closed stdout must fail a write, not kill us before cleanup

    // 1. Create, and 2. attach: the descriptor is all we need.
    std::string queue_name = server_queue_name(name);
    bool took_over = false;
    mqd_t request_queue = create_request_queue(queue_name, took_over); // made first, then owned
    PosixQueue requests(request_queue, lab::OwnedName(queue_name, ::mq_unlink));
    ClientQueues clients(name);

    lab::print_ready({{"posix", queue_name}});
    if (took_over) {
        lab::print_line("took over: removed " + queue_name + " left by a killed server");
    }

    // 3. Exchange.
    std::vector<char> buffer(request_max_bytes); // mq_receive wants room for mq_msgsize
    lab::Deadline next_housekeeping(0);
    while (!stop.requested()) {
        if (next_housekeeping.expired()) {
            clients.remove_vanished();
            next_housekeeping = lab::Deadline(lab::stop_check_interval_ms / 1000.0);
        }
        // TASK 10 (step 3): take the next request with mq_timedreceive
        //   Wait for the next request on `requests.get()` into `buffer`:
        //   `mq_timedreceive(requests.get(), buffer.data(), buffer.size(),
        //   &priority, &until)` into `ssize_t got`, the request's length, with
        //   an `unsigned priority` it fills (not used after); it takes the
        //   oldest message of the highest priority. The buffer must hold the
        //   queue's mq_msgsize (EMSGSIZE otherwise): `buffer` does. There is
        //   no descriptor to poll with the stop signals, so wake every tick:
        //   `timespec until` is the absolute CLOCK_REALTIME time
        //   `lab::Deadline(lab::stop_check_interval_ms / 1000.0)
        //   .absolute_realtime()`. On ETIMEDOUT or EINTR `continue` (the loop
        //   looks at the stop flag); any other errno: throw
        //   `lab::sys_error("mq_timedreceive " + queue_name)`.
        //   man 3 mq_receive
        //   check: `./posix-server`, and `./posix-client hi` elsewhere: it logs `received: hi`
        //   stub: ssize_t got = lab::not_written_yet<ssize_t>(
        //   stub:     3, 10, "take the next request with mq_timedreceive");
        // No descriptor to poll with the stop pipe: wake every tick to check.
        timespec until = lab::Deadline(lab::stop_check_interval_ms / 1000.0).absolute_realtime();
        unsigned priority = 0;
        ssize_t got =
            ::mq_timedreceive(requests.get(), buffer.data(), buffer.size(), &priority, &until);
        if (got < 0) {
            if (errno == ETIMEDOUT || errno == EINTR) {
                continue;
            }
            throw lab::sys_error("mq_timedreceive " + queue_name);
        }
        // END TASK 10
        auto parsed = parse_request({buffer.data(), static_cast<std::size_t>(got)});
        if (!parsed) {
            continue;
        }
        lab::log_received(parsed->message);
        clients.seen(parsed->client_pid);
        send_reply(name, parsed->client_pid, lab::to_upper(parsed->message));
    }
    // 4. Detach and 5. remove: ~ClientQueues, ~PosixQueue (mq_close, mq_unlink).
    return lab::exit_ok;
}

// TASK 9 (step 1): create the request queue with mq_open
//   Write `create_request_queue(queue_name, took_over)`: it returns the
//   descriptor of our new queue, opened for reading. Set an `mq_attr`
//   (zeroed) to `server_queue_shape`: `mq_maxmsg = max_messages`,
//   `mq_msgsize = message_bytes`. Then `mq_open(queue_name.c_str(), O_RDONLY | O_CREAT |
//   O_EXCL | O_CLOEXEC, lab::owner_only, &attributes)`: O_EXCL makes a new
//   queue or fails. It returns `(mqd_t)-1` on failure. On EEXIST a queue
//   of that name is there already: `remove_leftover_queue(queue_name,
//   server_queue_shape)` (protocol.hpp) unlinks it when it is a killed
//   server's (true: set `took_over`), throws when it is of another shape;
//   then try again, at most `max_create_attempts` times in all. Any other
//   errno, or EEXIST at the last attempt (nothing removed then): throw
//   `lab::sys_error("mq_open " + queue_name)`.
//   man 3 mq_open, man 7 mq_overview
//   check: `./posix-server`, then `ls -l /dev/mqueue` shows the queue, mode 600
//   stub: mqd_t create_request_queue(const std::string&, bool&) {
//   stub:     return lab::not_written_yet<mqd_t>(1, 9, "create the request queue with mq_open");
//   stub: }
// 1. Our queue, new (O_EXCL): a killed server's of the same shape is
// unlinked first; one of another shape is a client's reply queue, and stays.
mqd_t create_request_queue(const std::string& queue_name, bool& took_over) {
    mq_attr attributes{};
    attributes.mq_maxmsg = server_queue_shape.max_messages;
    attributes.mq_msgsize = server_queue_shape.message_bytes;
    for (int attempt = 1;; ++attempt) {
        mqd_t queue = ::mq_open(queue_name.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                                lab::owner_only, &attributes);
        if (queue != static_cast<mqd_t>(-1)) {
            return queue;
        }
        if (errno != EEXIST || attempt == max_create_attempts) {
            throw lab::sys_error("mq_open " + queue_name);
        }
        took_over = remove_leftover_queue(queue_name, server_queue_shape) || took_over;
    }
}
// END TASK 9

// TASK 11 (step 3): send the reply to the client's queue with mq_send
//   Write `send_reply(name, pid, reply)`. Open the client's queue,
//   `reply_queue_name(name, pid)`, with `mq_open(queue_name.c_str(), O_WRONLY |
//   O_NONBLOCK | O_CLOEXEC)`: no O_CREAT, the client made it. O_NONBLOCK:
//   a full reply queue fails with EAGAIN instead of blocking us. When it
//   fails, print `dropped: reply to pid PID: QUEUE: ` + `strerror(errno)`
//   with `lab::print_line` and return: a client that is gone costs its
//   reply, never the server. Own the descriptor in a `PosixQueue` (closed
//   when it goes; the client removes the queue). The server named
//   NAME-PID has this name too: if `shape_mismatch(queue,
//   reply_queue_shape)` is not empty, `lab::log_ignored("reply to pid PID:
//   QUEUE: " + it)` and return. Then `mq_send(queue, reply.data(),
//   reply.size(), 0)`; on failure (EAGAIN: the client stopped reading)
//   print `dropped: reply to pid PID: ` + `strerror(errno)`.
//   man 3 mq_open, man 3 mq_send
//   check: `./posix-server`, and `./posix-client hi` elsewhere prints `HI`
//   stub: void send_reply(const std::string&, pid_t, const std::string&) {
//   stub:     lab::not_written_yet(3, 11, "send the reply to the client's queue with mq_send");
//   stub: }
void send_reply(const std::string& name, pid_t pid, const std::string& reply) {
    std::string queue_name = reply_queue_name(name, pid);
    // O_NONBLOCK: a full reply queue fails with EAGAIN instead of blocking us.
    mqd_t queue = ::mq_open(queue_name.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (queue == static_cast<mqd_t>(-1)) {
        lab::print_line("dropped: reply to pid " + std::to_string(pid) + ": " + queue_name + ": " +
                        std::strerror(errno));
        return;
    }
    PosixQueue reply_queue(queue); // close it when done; the client removes it
    // The server named NAME-PID has this name too: its queue gets nothing of ours.
    if (std::string clash = shape_mismatch(reply_queue.get(), reply_queue_shape); !clash.empty()) {
        lab::log_ignored("reply to pid " + std::to_string(pid) + ": " + queue_name + ": " + clash);
        return;
    }
    if (::mq_send(reply_queue.get(), reply.data(), reply.size(), 0) < 0) {
        // EAGAIN: full (a client reads each reply before its next request:
        // this one stopped reading).
        lab::print_line("dropped: reply to pid " + std::to_string(pid) + ": " +
                        std::strerror(errno));
    }
}
// END TASK 11

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
