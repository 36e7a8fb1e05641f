// 02-pipe/server.cpp - a parent talking to its child through two pipes.
//
//   server [MESSAGE...]        (no MESSAGE: copies its own stdin)
//
// 1. pipe2() twice: one pipe carries our bytes to the child, one brings its
//    output back. (A pipe is one-way; two directions need two pipes.)
// 2. fork(); the child dup2()s the ends onto its stdin and stdout and execs
//    the client beside our binary.
// 3. The parent closes the ends it does not use, then sends and receives at
//    the same time (poll), so neither side can fill a pipe and wait forever.
// 4. Closing the child's input is its end of file; we drain its output
//    until our end of file, then reap it with waitpid() and report.
#include "protocol.hpp"

#include <array>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <poll.h>

namespace {

struct Pipe {
    lab::Fd read_end;
    lab::Fd write_end;
};

// The child process: reaped exactly once, even when we leave by an exception.
class Child {
  public:
    explicit Child(pid_t pid) : pid_(pid) {}
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child(); // leaving early: kill it and reap it, no running child, no zombie
    pid_t pid() const { return pid_; }
    int wait(); // waitpid(): its status, once it has exited

  private:
    pid_t pid_;
};

// Below run(), in the order run() needs them.
Pipe make_pipe();
[[noreturn]] void become_client(Pipe& to_child, Pipe& from_child, const std::string& client);
void exchange(lab::Fd& to_child, lab::Fd& from_child, std::string pending, bool read_stdin,
              const lab::StopSignals& stop);

int run(int argc, char** argv) {
    lab::Options options("[MESSAGE...]",
                         "Runs the client as a child with a pipe to it and a pipe from it, sends\n"
                         "each MESSAGE as a line (or, given none, its own stdin) and prints what\n"
                         "comes back. Exit 0 when the child exited 0, else 1.");
    std::vector<std::string> messages = options.parse(argc, argv);
    lab::ignore_sigpipe(); // a child that dies early must give EPIPE, not kill us
    lab::StopSignals stop;
    const std::string client = pipe_lab::client_path();

    // 1. Two pipes: one to the child, one from it.
    Pipe to_child = make_pipe();
    Pipe from_child = make_pipe();
    // 2. The child: the pipe ends become its stdin and stdout, then it execs.
    // TASK 2 (step 2): start the child with fork
    //   Flush stdout first (`std::fflush(stdout)`): the child gets a copy of
    //   our stdio buffer and would write what is in it a second time. Then
    //   `fork()`: -1 is an error (throw `lab::sys_error("fork")`); in the
    //   child it returns 0, in the parent the child's pid. The code after
    //   the region sends the child (pid 0) to `become_client` (task 3).
    //   man 2 fork, man 3 fflush
    //   check: `./server hi` now stops twice: the child at task 3, the parent at 4
    //   stub: pid_t pid = lab::not_written_yet<pid_t>(2, 2, "start the child with fork");
    std::fflush(stdout); // else the child may flush our buffered output again
    pid_t pid = ::fork();
    if (pid < 0) {
        throw lab::sys_error("fork");
    }
    // END TASK 2
    if (pid == 0) {
        become_client(to_child, from_child, client);
    }
    Child child(pid);

    // 3. Close the ends the child uses (while we hold its write end, our
    //    read of its output would never see end of file), then send and
    //    receive at the same time.
    to_child.read_end.reset();
    from_child.write_end.reset();
    lab::print_ready({{"child", std::to_string(child.pid())}});

    std::string lines;
    for (const auto& message : messages) {
        lines += message + "\n";
    }
    exchange(to_child.write_end, from_child.read_end, lines, messages.empty(), stop);

    // 4. exchange() closed the child's input and read its output to the
    //    end: reap it.
    int status = child.wait();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw lab::Failure("child " + client + " " + pipe_lab::describe_status(status));
    }
    return lab::exit_ok;
}

// TASK 1 (step 1): make a pipe with pipe2
//   `pipe2(ends, O_CLOEXEC)` fills `int ends[2]`: `ends[0]` is the read end,
//   `ends[1]` the write end. O_CLOEXEC: exec closes them in the child, so
//   the client inherits no stray end (a write end left open anywhere means
//   its stdin never reaches end of file). On failure throw
//   `lab::sys_error("pipe2")`; else return them as
//   `{lab::Fd(ends[0]), lab::Fd(ends[1])}`, which close them when destroyed.
//   man 2 pipe2, man 7 pipe
//   check: `./server hi` now stops at task 2, not task 1
//   stub: Pipe make_pipe() {
//   stub:     return lab::not_written_yet<Pipe>(1, 1, "make a pipe with pipe2");
//   stub: }
Pipe make_pipe() {
    int ends[2];
    // O_CLOEXEC: the child must not inherit stray ends, or its input never
    // reaches end of file (a write end would still be open - in the child).
    if (::pipe2(ends, O_CLOEXEC) < 0) {
        throw lab::sys_error("pipe2");
    }
    return {lab::Fd(ends[0]), lab::Fd(ends[1])};
}
// END TASK 1

// TASK 5 (step 4): reap the child with waitpid
//   `Child::wait()`: `waitpid(pid_, &status, 0)` until it succeeds (EINTR:
//   call it again; any other error: throw `lab::sys_error("waitpid")`),
//   then set `pid_` to -1 (reaped: nothing left to do) and return `status`.
//   `run()` reads it with WIFEXITED/WEXITSTATUS.
//   `Child::~Child()`: a child still there when we leave early (an
//   exception) is stopped with `kill(pid_, SIGTERM)` and reaped with
//   `wait()`: no running child and no zombie left behind.
//   man 2 waitpid, man 2 kill
//   check: `./server hi` prints HI and exits 0; `ps` shows no zombie while it runs
//   stub: Child::~Child() = default;
//   stub:
//   stub: int Child::wait() {
//   stub:     return lab::not_written_yet<int>(4, 5, "reap the child with waitpid");
//   stub: }
Child::~Child() {
    if (pid_ > 0) {
        ::kill(pid_, SIGTERM);
        wait();
    }
}

int Child::wait() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0) {
        if (errno != EINTR) {
            throw lab::sys_error("waitpid");
        }
    }
    pid_ = -1;
    return status;
}
// END TASK 5

// TASK 3 (step 2): in the child, put the pipe ends on stdin and stdout and exec the client
//   `dup2(to_child.read_end.get(), STDIN_FILENO)` and
//   `dup2(from_child.write_end.get(), STDOUT_FILENO)`: the new 0 and 1 have
//   no O_CLOEXEC, so they survive the exec while every other end is closed
//   by it. Then restore SIGPIPE (`signal(SIGPIPE, SIG_DFL)`: an ignored
//   signal stays ignored across exec) and `execl(client, client, nullptr)`
//   (the last argument cast to `char*`). This is the child: never return
//   or throw. On any failure print `server: WHAT: REASON` on stderr
//   (`perror`, `strerror(errno)`) and leave with `_exit(127)`, not `exit()`
//   (the stdio buffers and atexit handlers are the parent's); before that
//   `closefrom(STDERR_FILENO + 1)` closes our copies of the parent's files.
//   man 2 dup2, man 3 execl, man 2 _exit, man 2 closefrom
//   check: `./server hi` now stops once, in the parent at task 4
//   stub: [[noreturn]] void become_client(Pipe&, Pipe&, const std::string&) {
//   stub:     lab::not_written_yet(2, 3, "put the pipe ends on stdin and stdout, exec the client");
//   stub: }
[[noreturn]] void become_client(Pipe& to_child, Pipe& from_child, const std::string& client) {
    // dup2 gives the new descriptor no O_CLOEXEC, so 0 and 1 survive exec;
    // every other end is closed by exec because of O_CLOEXEC.
    if (::dup2(to_child.read_end.get(), STDIN_FILENO) < 0 ||
        ::dup2(from_child.write_end.get(), STDOUT_FILENO) < 0) {
        std::perror("server: dup2");
        ::_exit(127);
    }
    ::signal(SIGPIPE, SIG_DFL); // an ignored signal stays ignored across exec
    ::execl(client.c_str(), client.c_str(), static_cast<char*>(nullptr));
    std::fprintf(stderr, "server: exec %s: %s\n", client.c_str(), std::strerror(errno));
    // _exit(), not exit(): the copy of the parent's stdio buffers and atexit
    // handlers belong to the parent. Its descriptors we close ourselves, so a
    // checker (valgrind --track-fds) sees this child leave nothing open.
    ::closefrom(STDERR_FILENO + 1);
    ::_exit(127);
}
// END TASK 3

// TASK 4 (step 3): send and receive at the same time, with poll
//   Send `pending` (then, if `read_stdin`, each chunk read from our stdin)
//   into `to_child`, and copy all the child's output from `from_child` to
//   our stdout, until `from_child` reads end of file (0 bytes: the child
//   closed its stdout). Both at once: writing everything first would
//   deadlock once the child's output fills the other pipe (64 KiB) and it
//   stops reading. So:
//   - make `to_child` non-blocking (`fcntl(fd, F_SETFL, O_NONBLOCK)`);
//   - loop on `poll()` over: stdin (POLLIN, only when all of `pending` is
//     sent and `read_stdin`), `to_child` (POLLOUT, while unsent bytes
//     remain), `from_child` (POLLIN) and `stop.fd()` (POLLIN); a `-1` fd is
//     skipped by poll; EINTR: loop; then `stop.throw_if_requested()`;
//   - write what the pipe takes (a short write is normal; EAGAIN/EINTR: try
//     later; EPIPE: the child stopped reading, stop sending and drop the
//     rest); read chunks with `lab::read_some`, copy with `lab::write_all`;
//   - once everything is sent (and stdin is done), `to_child.reset()`:
//     closing the last write end is the child's end of file.
//   man 2 poll, man 2 write, man 7 pipe
//   check: `head -c 100M /dev/zero | ./server | wc -c`: 100 MiB + the ready line
//   stub: void exchange(lab::Fd&, lab::Fd&, std::string, bool, const lab::StopSignals&) {
//   stub:     lab::not_written_yet(3, 4, "send and receive at the same time, with poll");
//   stub: }
// Moves bytes: `pending` (then stdin, if `read_stdin`) into the child, the
// child's output to our stdout. Returns once the child closed its output.
void exchange(lab::Fd& to_child, lab::Fd& from_child, std::string pending, bool read_stdin,
              const lab::StopSignals& stop) {
    // Non-blocking: when the pipe is full we must go and read, not wait.
    if (::fcntl(to_child.get(), F_SETFL, O_NONBLOCK) < 0) {
        throw lab::sys_error("fcntl O_NONBLOCK");
    }
    std::array<char, pipe_lab::chunk_bytes> buffer;
    std::size_t sent = 0; // bytes of `pending` already in the pipe
    while (from_child) {
        if (sent == pending.size() && !read_stdin && to_child) {
            to_child.reset(); // all sent: the child now reads end of file
        }
        enum { input, to, from, stopping };
        std::array<pollfd, 4> fds{
            {{-1, POLLIN, 0}, {-1, POLLOUT, 0}, {-1, POLLIN, 0}, {stop.fd(), POLLIN, 0}}};
        if (read_stdin && sent == pending.size()) {
            fds[input].fd = STDIN_FILENO;
        }
        if (to_child && sent < pending.size()) {
            fds[to].fd = to_child.get();
        }
        fds[from].fd = from_child.get();
        if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) {
            throw lab::sys_error("poll");
        }
        stop.throw_if_requested();
        if (fds[input].revents != 0) {
            std::size_t got = lab::read_some(STDIN_FILENO, buffer, "read stdin");
            pending.assign(buffer.data(), got);
            sent = 0;
            read_stdin = got > 0;
        }
        if (fds[to].revents != 0) {
            ssize_t written = ::write(to_child.get(), pending.data() + sent, pending.size() - sent);
            if (written >= 0) {
                sent += static_cast<std::size_t>(written);
            } else if (errno == EPIPE) { // the child stopped reading: stop sending
                to_child.reset();
                pending.clear();
                sent = 0;
                read_stdin = false;
            } else if (errno != EAGAIN && errno != EINTR) {
                throw lab::sys_error("write to child");
            }
        }
        if (fds[from].revents != 0) {
            std::size_t got = lab::read_some(from_child.get(), buffer, "read from child");
            if (got == 0) {
                from_child.reset(); // end of file: the child closed its stdout
            } else {
                lab::write_all(STDOUT_FILENO, {buffer.data(), got}, "write stdout");
            }
        }
    }
}
// END TASK 4

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
