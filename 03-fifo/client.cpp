// 03-fifo/client.cpp - sends each message through NAME.fifo, reads the reply
// from its own FIFO NAME.PID.fifo.
//
//   client [--name NAME] [--timeout SECONDS] [MESSAGE...]   (no MESSAGE: stdin lines)
//
// 1. open() NAME.fifo for writing with O_NONBLOCK: with no server reading it,
//    that fails at once (ENXIO; ENOENT when it is not there) - "not running"
//    now, where a plain open() would wait for a reader forever.
// 2. mkfifo() NAME.PID.fifo and open it, both ends, BEFORE sending: the
//    server opens it without waiting, so a reader must already be there.
// 3. Per message: one write() of "PID MESSAGE\n", then poll() for the reply
//    line, bounded by --timeout.
// 4. unlink() NAME.PID.fifo on every way out: success, error, timeout,
//    SIGINT/SIGTERM (all of them return through the destructors).
#include "protocol.hpp"

#include <array>
#include <cstring>
#include <poll.h>

namespace {

lab::Fd open_server_fifo(const fifo_lab::Paths& paths);

// Our reply FIFO, open at both ends. We hold a writer too, never used: with
// none, the read end reports end of file (POLLHUP, at once, every time) as
// soon as the server closes its end after a reply, and poll() would spin.
struct ReplyFifo {
    explicit ReplyFifo(const fifo_lab::Paths& paths);
    static lab::OwnedPath make_node(const fifo_lab::Paths& paths);

    lab::OwnedPath node;
    lab::Fd read_end;
    lab::Fd keep_open_writer;
    std::string unread; // bytes after a reply line (none, from a sane server)
};

class Exchange {
  public:
    Exchange(const fifo_lab::Paths& paths, double timeout_seconds, const lab::StopSignals& stop);
    std::string ask(const std::string& message);

  private:
    void send_request(const std::string& request, const lab::Deadline& deadline);
    std::string wait_for_reply(const lab::Deadline& deadline);

    lab::Fd server_;
    ReplyFifo reply_;
    const fifo_lab::Paths& paths_;
    double timeout_seconds_;
    const lab::StopSignals& stop_;
};

int run(int argc, char** argv) {
    lab::ClientCommand command = lab::parse_client_options(
        argc, argv,
        "Sends each MESSAGE (or, given none, each line of stdin) to the server\n"
        "through NAME.fifo and prints each reply, read from NAME.PID.fifo.");

    lab::ignore_sigpipe(); // a server gone mid-write: EPIPE, which we report
    lab::StopSignals stop;
    fifo_lab::Paths paths(command.name);
    Exchange exchange(paths, command.timeout_seconds, stop); // steps 1 and 2
    lab::for_each_message(
        command.messages,
        [&](const std::string& message) { lab::print_line(exchange.ask(message)); },
        &stop);          // step 3 (with &stop: Ctrl-C while it waits for a line ends the run)
    return lab::exit_ok; // step 4: ~ReplyFifo unlinks NAME.PID.fifo
}

// Steps 1 and 2.
Exchange::Exchange(const fifo_lab::Paths& paths, double timeout_seconds,
                   const lab::StopSignals& stop)
    : server_(open_server_fifo(paths)), reply_(paths), paths_(paths),
      timeout_seconds_(timeout_seconds), stop_(stop) {}

// 1. The server's FIFO, for writing, without waiting for a reader.
// TASK 6 (step 1): open NAME.fifo for writing without waiting
//   `fifo_lab::open_fifo_for_writing(paths.server_fifo())` (protocol.hpp:
//   read it) is the `open()` with O_WRONLY | O_NONBLOCK: where a plain open
//   would wait for a reader forever, this one fails at once with ENXIO.
//   Return `writer.fd` (moved) when its `state` is `opened`; else throw
//   `lab::not_running(paths.name, WHY)` with WHY `"no " + path` (`missing`),
//   `"nobody reads " + path` (`no_reader`), `path + " is not a FIFO"`
//   (`not_a_fifo`); `failed`: `lab::sys_error(writer.error, "open " + path)`.
//   man 2 open, man 7 fifo
//   check: with no server, `./client hi` says "not running" at once, exit 1
//   stub: lab::Fd open_server_fifo(const fifo_lab::Paths&) {
//   stub:     return lab::not_written_yet<lab::Fd>(1, 6, "open NAME.fifo for writing");
//   stub: }
lab::Fd open_server_fifo(const fifo_lab::Paths& paths) {
    std::string path = paths.server_fifo();
    fifo_lab::FifoWriter writer = fifo_lab::open_fifo_for_writing(path);
    switch (writer.state) {
    case fifo_lab::FifoOpen::opened:
        return std::move(writer.fd);
    case fifo_lab::FifoOpen::missing:
        throw lab::not_running(paths.name, "no " + path);
    case fifo_lab::FifoOpen::no_reader:
        throw lab::not_running(paths.name, "nobody reads " + path);
    case fifo_lab::FifoOpen::not_a_fifo:
        throw lab::not_running(paths.name, path + " is not a FIFO");
    case fifo_lab::FifoOpen::failed:
        break;
    }
    throw lab::sys_error(writer.error, "open " + path);
}
// END TASK 6

// 2. Our reply FIFO: made, then open at both ends before anything is sent.
// TASK 7 (step 2): make the reply FIFO with mkfifo and open both its ends
//   Write two functions: the constructor `ReplyFifo::ReplyFifo(paths)`,
//   which initialises `node(make_node(paths))` first, and
//   `lab::OwnedPath ReplyFifo::make_node(paths)` (declared above; no stub).
//   `make_node`: `std::string path = paths.reply_fifo(getpid())`, PID
//   being `std::to_string(getpid())`. If `lab::server_running(
//   fifo_lab::topic, paths.name + "." + PID)`, a server named "NAME.PID"
//   owns this path: throw `lab::Failure(path + " is in use by the server
//   named 'NAME.PID'")`. Else `fifo_lab::remove_leftover(path)` (a killed
//   client's), then `mkfifo(path.c_str(), lab::owner_only)` (0600: nobody
//   else may read our replies; error: `lab::sys_error("mkfifo " + path)`),
//   at once `lab::OwnedPath node(path, lab::same_file_only)` (unlinked on
//   every way out: step 4), `chmod(path.c_str(), lab::owner_only)` against
//   the umask, and return the node.
//   The constructor's body: `read_end.reset(open(node.path().c_str(),
//   O_RDONLY | O_NONBLOCK | O_CLOEXEC))`, then
//   `keep_open_writer.reset(open(node.path().c_str(), O_WRONLY |
//   O_NONBLOCK | O_CLOEXEC))`; an empty Fd after either: throw
//   `lab::sys_error("open " + node.path() + " for reading")` (or "for
//   writing"). Both BEFORE the request goes: the server opens this
//   FIFO without waiting, so a reader must be there. The writer is never
//   used: without it, the read end reports end of file (POLLHUP) at once
//   and for ever after the server's first reply, and poll() would spin.
//   man 3 mkfifo, man 2 open, man 7 fifo
//   check: `./client hi` with a server: while it waits, NAME.PID.fifo exists, 0600
//   stub: ReplyFifo::ReplyFifo(const fifo_lab::Paths&) {
//   stub:     lab::not_written_yet(2, 7, "make the reply FIFO and open both its ends");
//   stub: }
ReplyFifo::ReplyFifo(const fifo_lab::Paths& paths) : node(make_node(paths)) {
    read_end.reset(::open(node.path().c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!read_end) {
        throw lab::sys_error("open " + node.path() + " for reading");
    }
    // Cannot block or fail with ENXIO: we are its reader.
    keep_open_writer.reset(::open(node.path().c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (!keep_open_writer) {
        throw lab::sys_error("open " + node.path() + " for writing");
    }
}

lab::OwnedPath ReplyFifo::make_node(const fifo_lab::Paths& paths) {
    pid_t self = ::getpid();
    std::string path = paths.reply_fifo(self);
    // Names may hold dots: a server named "NAME.PID" owns this very path.
    if (lab::server_running(fifo_lab::topic, paths.name + "." + std::to_string(self))) {
        throw lab::Failure(path + " is in use by the server named '" + paths.name + "." +
                           std::to_string(self) + "'");
    }
    // No living process but us has our pid: what is there is the leftover
    // of a killed client that had it before.
    fifo_lab::remove_leftover(path);
    // 0600: nobody else may read our replies or write fake ones. mkfifo()
    // fails with EEXIST rather than reuse a file someone put there since.
    if (::mkfifo(path.c_str(), lab::owner_only) < 0) {
        throw lab::sys_error("mkfifo " + path);
    }
    // Ours: unlinked on every way out (step 4), if the name still leads to
    // this FIFO (a server named "NAME.PID" may make one there after we go).
    lab::OwnedPath node(path, lab::same_file_only);
    // mkfifo's mode is filtered by the umask: say exactly what we mean.
    if (::chmod(path.c_str(), lab::owner_only) < 0) {
        throw lab::sys_error("chmod " + path);
    }
    return node;
}
// END TASK 7

// 3. One request, one reply.
std::string Exchange::ask(const std::string& message) {
    lab::Deadline deadline(timeout_seconds_);
    send_request(fifo_lab::format_request(::getpid(), message), deadline);
    return wait_for_reply(deadline);
}

// TASK 8 (step 3): send the request with one write, then poll for the reply
//   FIFO below is `paths_.server_fifo()`.
//   `send_request`: one `write(server_.get(), ...)` of the whole request
//   ("PID MESSAGE\n", at most PIPE_BUF bytes: written whole or not at all,
//   never mixed with another client's). EPIPE (SIGPIPE is ignored):
//   `lab::not_running(paths_.name, "nobody reads " + FIFO + " any more")`.
//   A short write: `lab::Failure("write " + FIFO + ": request cut short")`.
//   EINTR: again. EAGAIN (NAME.fifo is full): `poll()` for POLLOUT on it
//   and POLLIN on `stop_.fd()` up to `deadline.milliseconds_left()`, then
//   `stop_.throw_if_requested()`; poll 0: `lab::timed_out(timeout_seconds_,
//   "room in " + FIFO)`. Other errors: `lab::sys_error("write " + FIFO)`.
//   `wait_for_reply`: return the first line of `reply_.unread` (without its
//   newline, the rest kept), else `poll()` over `reply_.read_end` (POLLIN),
//   `server_` (events 0: POLLERR comes by itself once the server closed
//   NAME.fifo) and `stop_.fd()` (POLLIN), up to the deadline; then
//   `stop_.throw_if_requested()`; POLLIN (first: the server may have
//   answered, then gone): append a `lab::read_some` chunk (a 4096-byte
//   buffer) to `unread`; else POLLERR on `server_`: `lab::not_running(paths_.name,
//   "nobody reads " + FIFO + " any more, no reply")`; poll 0:
//   `lab::timed_out(timeout_seconds_, "the reply")`. More than
//   `lab::max_message_bytes` unread without a newline:
//   `lab::Failure("reply over N bytes in " + reply_.node.path())`, N that
//   limit. poll() failing with EINTR: go round again; else throw
//   `lab::sys_error("poll")` (in both functions).
//   man 2 write, man 2 poll, man 7 fifo, man 7 pipe
//   check: `./client hi there` prints HI and THERE
//   stub: void Exchange::send_request(const std::string&, const lab::Deadline&) {
//   stub:     lab::not_written_yet(3, 8, "send the request into " + paths_.server_fifo());
//   stub: }
//   stub:
//   stub: std::string Exchange::wait_for_reply(const lab::Deadline&) {
//   stub:     stop_.throw_if_requested();
//   stub:     return lab::not_written_yet<std::string>(3, 8, "poll for the reply");
//   stub: }
// One write(): at most PIPE_BUF bytes, so it is whole or not at all.
void Exchange::send_request(const std::string& request, const lab::Deadline& deadline) {
    for (;;) {
        ssize_t written = ::write(server_.get(), request.data(), request.size());
        if (written == static_cast<ssize_t>(request.size())) {
            return;
        }
        if (written < 0 && errno == EPIPE) { // SIGPIPE ignored: EPIPE, not death
            throw lab::not_running(paths_.name,
                                   "nobody reads " + paths_.server_fifo() + " any more");
        }
        if (written >= 0) { // POSIX rules this out for a write of at most PIPE_BUF
            throw lab::Failure("write " + paths_.server_fifo() + ": request cut short");
        }
        if (errno != EAGAIN && errno != EINTR) {
            throw lab::sys_error("write " + paths_.server_fifo());
        }
        // EAGAIN: NAME.fifo is full, the server is behind. Wait for room.
        std::array<pollfd, 2> fds{{{server_.get(), POLLOUT, 0}, {stop_.fd(), POLLIN, 0}}};
        int ready = ::poll(fds.data(), fds.size(), deadline.milliseconds_left());
        if (ready < 0 && errno != EINTR) {
            throw lab::sys_error("poll");
        }
        stop_.throw_if_requested();
        if (ready == 0) {
            throw lab::timed_out(timeout_seconds_, "room in " + paths_.server_fifo());
        }
    }
}

std::string Exchange::wait_for_reply(const lab::Deadline& deadline) {
    std::string& unread = reply_.unread;
    for (;;) {
        if (auto newline = unread.find('\n'); newline != std::string::npos) {
            std::string reply = unread.substr(0, newline);
            unread.erase(0, newline + 1);
            return reply;
        }
        if (unread.size() > lab::max_message_bytes) {
            throw lab::Failure("reply over " + std::to_string(lab::max_message_bytes) +
                               " bytes in " + reply_.node.path());
        }
        // The server's end (POLLERR once it has no reader) tells us at
        // once when the server is gone, instead of at the timeout.
        enum { reply, server, stopping };
        std::array<pollfd, 3> fds{
            {{reply_.read_end.get(), POLLIN, 0}, {server_.get(), 0, 0}, {stop_.fd(), POLLIN, 0}}};
        int ready = ::poll(fds.data(), fds.size(), deadline.milliseconds_left());
        if (ready < 0 && errno != EINTR) {
            throw lab::sys_error("poll");
        }
        stop_.throw_if_requested();
        if (fds[reply].revents & POLLIN) {
            std::array<char, 4096> buffer;
            std::size_t got = lab::read_some(reply_.read_end.get(), buffer, "read reply FIFO");
            unread.append(buffer.data(), got);
        } else if (fds[server].revents & POLLERR) {
            throw lab::not_running(paths_.name,
                                   "nobody reads " + paths_.server_fifo() + " any more, no reply");
        } else if (ready == 0) {
            throw lab::timed_out(timeout_seconds_, "the reply");
        }
    }
}
// END TASK 8

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
