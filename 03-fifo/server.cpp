// 03-fifo/server.cpp - one FIFO in, one FIFO out per client.
//
//   server [--name NAME]
//
// 1. Create: take the instance lock (a second live server is refused; what
//    a killed one left is ours to remove), then mkfifo() NAME.fifo, 0600.
// 2. Attach: open() it for reading with O_NONBLOCK (a plain open would wait
//    for the first writer), then open() it for writing too, and never write:
//    with a writer always there, read() does not return end of file each
//    time the last client closes its end.
// 3. Exchange: poll() the FIFO and the stop pipe; read() whatever came;
//    split it into lines; each "PID MESSAGE" is logged and answered through
//    NAME.PID.fifo (server-replies.cpp: non-blocking open(), one write()).
// 4. Detach: on SIGINT/SIGTERM the loop ends; the descriptors close.
// 5. Remove: unlink() NAME.fifo, then release the lock (destructors, in
//    that order, on every way out).
#include "server-replies.hpp"
#include "server-requests.hpp"

#include <array>
#include <cstring>
#include <optional>
#include <poll.h>

namespace {

void handle_request(std::string_view line, const fifo_lab::Paths& paths,
                    fifo_lab::Replies& replies);
std::string preview(std::string_view line);

int run(int argc, char** argv) {
    std::string name = lab::parse_server_options(
        argc, argv,
        "Serves clients through the FIFO NAME.fifo: reads \"PID MESSAGE\" lines and\n"
        "writes each reply into that client's FIFO NAME.PID.fifo. Runs until\n"
        "SIGINT or SIGTERM, then removes NAME.fifo.");

    // 1. Create.
    lab::InstanceLock lock(fifo_lab::topic, name);
    lab::ignore_sigpipe(); // a client that closes its FIFO mid-write: EPIPE, not death
    lab::StopSignals stop;
    fifo_lab::Paths paths(name);
    fifo_lab::remove_leftover(paths.server_fifo()); // we hold the lock: a killed server's
    // TASK 1 (step 1): create NAME.fifo with mkfifo
    //   `mkfifo(paths.server_fifo().c_str(), lab::owner_only)`: mode 0600, so
    //   that nobody else can inject requests. The leftover was removed above:
    //   if someone has put a file there since, mkfifo fails with EEXIST, and
    //   we never reuse it. Any failure: throw `lab::sys_error("mkfifo " +
    //   paths.server_fifo())`. From then on it is ours: hold it in a
    //   `lab::OwnedPath fifo(paths.server_fifo(), lab::same_file_only)`,
    //   which unlinks it on every way out (if the name still leads to this
    //   FIFO); `fifo.path()` is its path from then on. The umask may have
    //   taken bits from the mode: set it exactly with
    //   `chmod(fifo.path().c_str(), lab::owner_only)` (error: throw
    //   `lab::sys_error("chmod " + fifo.path())`).
    //   man 3 mkfifo, man 7 fifo, man 2 chmod
    //   check: `./server &`, then `ls -l` in its runtime dir shows `prw-------` NAME.fifo
    //   stub: lab::OwnedPath fifo =
    //   stub:     lab::not_written_yet<lab::OwnedPath>(1, 1, "create NAME.fifo with mkfifo");
    // 0600: nobody else may inject requests. mkfifo() fails with EEXIST
    // rather than reuse a file someone put there since.
    if (::mkfifo(paths.server_fifo().c_str(), lab::owner_only) < 0) {
        throw lab::sys_error("mkfifo " + paths.server_fifo());
    }
    // Ours: removed on every way out, if the name still leads to this FIFO.
    lab::OwnedPath fifo(paths.server_fifo(), lab::same_file_only);
    // mkfifo's mode is filtered by the umask: say exactly what we mean.
    if (::chmod(fifo.path().c_str(), lab::owner_only) < 0) {
        throw lab::sys_error("chmod " + fifo.path());
    }
    // END TASK 1

    // 2. Attach: the read end first, non-blocking, then the writer we keep.
    // TASK 2 (step 2): open NAME.fifo for reading, then for writing
    //   `lab::Fd requests(open(fifo.path().c_str(), O_RDONLY | O_NONBLOCK |
    //   O_CLOEXEC))`: a FIFO's read end opened without O_NONBLOCK waits for
    //   the first writer. Then a write end we keep and never write to,
    //   `lab::Fd keep_open_writer(open(fifo.path().c_str(), O_WRONLY |
    //   O_CLOEXEC))` (it does not wait: we are a reader): while it is open,
    //   `read()` never returns end of file when the last client closes its
    //   end. A failed open leaves the Fd empty (`!requests`): throw
    //   `lab::sys_error("open " + fifo.path() + " for reading")` (or "for
    //   writing").
    //   man 2 open, man 7 fifo
    //   check: `./server` says ready; `ls -l /proc/PID/fd` shows NAME.fifo twice
    //   stub: lab::Fd requests =
    //   stub:     lab::not_written_yet<lab::Fd>(2, 2, "open NAME.fifo at both ends");
    lab::Fd requests(::open(fifo.path().c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!requests) {
        throw lab::sys_error("open " + fifo.path() + " for reading");
    }
    lab::Fd keep_open_writer(::open(fifo.path().c_str(), O_WRONLY | O_CLOEXEC));
    if (!keep_open_writer) {
        throw lab::sys_error("open " + fifo.path() + " for writing");
    }
    // END TASK 2
    lab::print_ready({{"path", fifo.path()}});

    // 3. Exchange, until SIGINT/SIGTERM.
    fifo_lab::RequestLines lines;
    fifo_lab::Replies replies;
    constexpr std::size_t read_chunk_bytes = std::size_t{64} * 1024; // a pipe's default capacity
    std::array<char, read_chunk_bytes> buffer;
    while (!stop.requested()) {
        std::array<pollfd, 2> fds{{{requests.get(), POLLIN, 0}, {stop.fd(), POLLIN, 0}}};
        if (::poll(fds.data(), fds.size(), replies.retry_timeout_ms()) < 0 && errno != EINTR) {
            throw lab::sys_error("poll");
        }
        // Read until the pipe is empty (EAGAIN: the read end is non-blocking).
        while (fds[0].revents & POLLIN) {
            // TASK 3 (step 3): read what came from NAME.fifo, until it is empty
            //   `ssize_t got = read(requests.get(), buffer.data(), buffer.size())`
            //   gives what the clients wrote, in any cut; the code after the
            //   region splits it into lines. EINTR: `continue`, read again.
            //   EAGAIN (the read end is non-blocking): the FIFO is empty now:
            //   call `lines.drained(...)` with a function that logs
            //   `lab::log_ignored("request without a newline \"" +
            //   preview(tail) + "\"")` for bytes left without their newline,
            //   then `break` back to poll(). Any other error: throw
            //   `lab::sys_error("read " + fifo.path())`. Never 0 (end of file):
            //   we hold a write end ourselves (task 2).
            //   man 2 read, man 7 fifo, man 7 pipe
            //   check: `./server &`; `./client hi` prints HI (with tasks 4 to 8 done)
            //   stub: ssize_t got = lab::not_written_yet<ssize_t>(3, 3, "read from NAME.fifo");
            ssize_t got = ::read(requests.get(), buffer.data(), buffer.size());
            if (got < 0 && errno == EINTR) {
                continue;
            }
            if (got < 0 && errno == EAGAIN) {
                lines.drained([](std::string_view tail) {
                    lab::log_ignored("request without a newline \"" + preview(tail) + "\"");
                });
                break;
            }
            if (got < 0) {
                throw lab::sys_error("read " + fifo.path());
            }
            // END TASK 3
            lines.feed(
                std::string_view(buffer.data(), static_cast<std::size_t>(got)),
                [&](std::string_view line) { handle_request(line, paths, replies); },
                [] {
                    lab::log_ignored("request over " + std::to_string(fifo_lab::max_request_bytes) +
                                     " bytes (PIPE_BUF); skipped to the next newline");
                });
        }
        replies.retry();
    }
    // 4 and 5: the destructors close both ends, unlink NAME.fifo, drop the lock.
    return lab::exit_ok;
}

// The first bytes of a bad request, for the log.
std::string preview(std::string_view line) {
    constexpr std::size_t preview_bytes = 40;
    return line.size() <= preview_bytes ? std::string(line)
                                        : std::string(line.substr(0, preview_bytes)) + "...";
}

void handle_request(std::string_view line, const fifo_lab::Paths& paths,
                    fifo_lab::Replies& replies) {
    std::optional<fifo_lab::Request> request = fifo_lab::parse_request(line);
    if (!request) {
        lab::log_ignored("no PID in request \"" + preview(line) + "\"");
        return;
    }
    std::string who = "pid " + std::to_string(request->pid) + ": ";
    // NAME.PID.fifo is also the FIFO of a server named "NAME.PID", if one
    // runs: never write into another server's FIFO. The question looks at
    // NAME.PID.lock, a path a request names: whatever is planted there, it
    // never blocks or follows a link (lab::server_running), and a failure
    // costs this request, not the server.
    std::string namesake = paths.name + "." + std::to_string(request->pid);
    try {
        if (lab::server_running(fifo_lab::topic, namesake)) {
            lab::log_ignored(who + "reply FIFO belongs to the server " + namesake);
            return;
        }
    } catch (const std::system_error& error) {
        lab::log_ignored(who + "cannot tell whether a server " + namesake +
                         " runs: " + error.what());
        return;
    }
    if (std::optional<std::string> problem = lab::message_problem(request->message)) {
        lab::log_ignored(who + *problem); // too long: a line holds no newline
        return;
    }
    // Not answered when there is nowhere to answer; checked again, safely,
    // when the reply is written (the client may go away in between).
    // O_PATH opens the name itself: no FIFO open (nothing blocks, no reader
    // or writer is counted), and with O_NOFOLLOW a symlink stays a symlink.
    // The descriptor also pins the FIFO the client made: see Replies.
    std::string reply_path = paths.reply_fifo(request->pid);
    // TASK 4 (step 3): hold the reply FIFO with an O_PATH open, and check it is a FIFO
    //   `lab::Fd reply_fifo(open(reply_path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC))`
    //   opens the name itself, not the FIFO: nothing blocks, no reader or
    //   writer is counted, a symlink is not followed. It fails: log
    //   `lab::log_ignored(who + "no reply FIFO " + reply_path)` for ENOENT,
    //   else `who + "open " + reply_path + ": " + strerror(errno)`, and
    //   return. Then `fstat(reply_fifo.get(), &st)`: failing, or not
    //   `S_ISFIFO(st.st_mode)`: log `who + reply_path + " is not a FIFO"` and
    //   return. Kept, this descriptor pins the FIFO the client made: the
    //   reply goes into that one only (task 5).
    //   man 2 open, man 2 fstat, man 7 inode
    //   check: a regular file at NAME.PID.fifo: the log says "ignored: ... not a FIFO"
    //   stub: lab::Fd reply_fifo = lab::not_written_yet<lab::Fd>(3, 4, "hold the reply FIFO");
    lab::Fd reply_fifo(::open(reply_path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {};
    if (!reply_fifo) {
        lab::log_ignored(who + (errno == ENOENT
                                    ? "no reply FIFO " + reply_path
                                    : "open " + reply_path + ": " + std::strerror(errno)));
        return;
    }
    if (::fstat(reply_fifo.get(), &st) < 0 || !S_ISFIFO(st.st_mode)) {
        lab::log_ignored(who + reply_path + " is not a FIFO");
        return;
    }
    // END TASK 4
    lab::log_received(request->message);
    replies.send(request->pid, std::move(reply_path), std::move(reply_fifo),
                 lab::to_upper(request->message) + "\n");
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
