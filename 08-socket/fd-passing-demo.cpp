// 08-socket/fd-passing-demo.cpp - handing an open file to another process over a Unix socket.
//
//   fd-passing-demo FILE...
//
// 1. socketpair(AF_UNIX, SOCK_STREAM): two connected sockets with no name,
//    like a pipe, but both ways, and able to carry descriptors.
// 2. fork(): the child keeps one end, the parent the other.
// 3. The parent open()s each FILE and sendmsg()s the descriptor as SCM_RIGHTS
//    ancillary data, riding on one ordinary byte (on a stream socket a message
//    with no data carries no ancillary data), then closes its own copy.
// 4. The child recvmsg()s it: the kernel installs a new descriptor in the
//    child, another number for the same open file (same offset, same access
//    mode), though the child never opened anything. It prints what it reads
//    with a-z turned to A-Z, then sends one byte back: "done, send the next".
// 5. The parent shuts down its end: the child reads end of file and exits;
//    the parent reaps it.
// What each side does goes to stderr; the files' contents, uppercased, to stdout.
#include "lab.hpp"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>

namespace {

// Below run(): the parent's side (pass_files), the child's (start_child), reaping.
pid_t start_child(lab::Fd& parent_end, lab::Fd& child_end);
void pass_files(const std::vector<std::string>& files, const lab::Fd& channel);
int wait_for(pid_t pid);

int run(int argc, char** argv) {
    lab::Options options("FILE...",
                         "Opens each FILE and passes the open descriptor over a socketpair to a\n"
                         "child process (SCM_RIGHTS), which prints it with a-z turned to A-Z.");
    std::vector<std::string> files = options.parse(argc, argv);
    if (files.empty()) {
        throw lab::UsageError("no FILE given (try --help)");
    }
    lab::ignore_sigpipe();
    // TASK 12 (step 1): make two connected sockets with socketpair
    //   `socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends)` fills
    //   `int ends[2]` with two connected sockets that have no name: like a
    //   pipe, but both ways, and able to carry descriptors. On failure throw
    //   `lab::sys_error("socketpair")`. Hold them as `lab::Fd parent_end`
    //   (`ends[0]`, ours) and `lab::Fd child_end` (`ends[1]`, the child's).
    //   man 2 socketpair, man 7 unix
    //   stub: lab::Fd parent_end(
    //   stub:     lab::not_written_yet<int>(1, 12, "make two connected sockets with socketpair"));
    //   stub: lab::Fd child_end;
    // 1. Two connected sockets with no name: ends[0] for us, ends[1] for the child.
    int ends[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) < 0) {
        throw lab::sys_error("socketpair");
    }
    lab::Fd parent_end(ends[0]);
    lab::Fd child_end(ends[1]);
    // END TASK 12
    std::fflush(stdout); // else the child may write our buffered output again
    pid_t child = start_child(parent_end, child_end); // 2., and 4. in the child

    std::string failure;
    try {
        pass_files(files, parent_end); // 3.
    } catch (const std::exception& e) {
        failure = e.what();
    }
    // 5. Closing our end is the child's end of file, on every way out: then it exits.
    parent_end.reset();
    int status = wait_for(child);
    if (!failure.empty()) {
        throw lab::Failure(failure);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw lab::Failure("child failed (wait status " + std::to_string(status) + ")");
    }
    return lab::exit_ok;
}

// What sendmsg() sends and recvmsg() fills: one ordinary byte, and room for
// exactly one descriptor in the control buffer, aligned as a cmsghdr must be.
struct DescriptorMessage {
    char byte = 'F';
    iovec data{&byte, 1};
    msghdr header{};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))]{};

    DescriptorMessage() {
        header.msg_iov = &data;
        header.msg_iovlen = 1;
        header.msg_control = control;
        header.msg_controllen = sizeof control;
    }
    DescriptorMessage(const DescriptorMessage&) = delete; // header points into itself
    DescriptorMessage& operator=(const DescriptorMessage&) = delete;
};

void say(const std::string& line) {
    std::fprintf(stderr, "%s\n", line.c_str());
}

// TASK 13 (step 3): pass an open descriptor with sendmsg and recvmsg
//   Both use a `DescriptorMessage` (above): one ordinary byte in `data` and
//   a control buffer with room for one descriptor.
//
//   `send_descriptor(channel, fd)`: fill the first control message
//   (`CMSG_FIRSTHDR(&message.header)`): `cmsg_level` `SOL_SOCKET`,
//   `cmsg_type` `SCM_RIGHTS`, `cmsg_len` `CMSG_LEN(sizeof(int))`, and
//   `memcpy` `fd` into `CMSG_DATA()`. Then `sendmsg(channel,
//   &message.header, MSG_NOSIGNAL)`, again on `EINTR`; other errors:
//   `lab::sys_error("sendmsg SCM_RIGHTS")`. The byte must be there: on a
//   stream socket a message with no data carries no ancillary data.
//
//   `receive_descriptor(channel)`: `recvmsg(channel, &message.header,
//   MSG_CMSG_CLOEXEC)` (the new descriptor gets close-on-exec), again on
//   `EINTR`, else `lab::sys_error("recvmsg")`. 0 bytes: end of file, return
//   an empty `lab::Fd`. Refuse (`throw lab::Failure("recvmsg: a message
//   without exactly one descriptor")`) when `msg_flags` has `MSG_CTRUNC`
//   or the first control message is missing or is not one `SCM_RIGHTS`
//   descriptor of `SOL_SOCKET`; else `memcpy` the int out of `CMSG_DATA()`
//   and return it as a `lab::Fd`: a new number in this process for the
//   same open file.
//   man 2 sendmsg, man 2 recvmsg, man 3 cmsg, man 7 unix
//   check: `./fd-passing-demo /etc/hostname` prints the host name in capitals
//   stub: void send_descriptor(int /*channel*/, int /*fd*/) {
//   stub:     lab::not_written_yet(3, 13, "pass an open descriptor with sendmsg and recvmsg");
//   stub: }
//   stub:
//   stub: lab::Fd receive_descriptor(int /*channel*/) {
//   stub:     return lab::not_written_yet<lab::Fd>(
//   stub:         3, 13, "pass an open descriptor with sendmsg and recvmsg");
//   stub: }
void send_descriptor(int channel, int fd) {
    DescriptorMessage message;
    cmsghdr* control = CMSG_FIRSTHDR(&message.header);
    control->cmsg_level = SOL_SOCKET;
    control->cmsg_type = SCM_RIGHTS;
    control->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(control), &fd, sizeof fd);
    while (::sendmsg(channel, &message.header, MSG_NOSIGNAL) < 0) {
        if (errno != EINTR) {
            throw lab::sys_error("sendmsg SCM_RIGHTS");
        }
    }
}

// The next descriptor the parent sent; an empty Fd at end of file.
lab::Fd receive_descriptor(int channel) {
    DescriptorMessage message;
    ssize_t got = 0;
    // MSG_CMSG_CLOEXEC: the new descriptor gets O_CLOEXEC, as open() would give it here.
    while ((got = ::recvmsg(channel, &message.header, MSG_CMSG_CLOEXEC)) < 0) {
        if (errno != EINTR) {
            throw lab::sys_error("recvmsg");
        }
    }
    if (got == 0) {
        return {};
    }
    // MSG_CTRUNC: the buffer was too small and the kernel closed what did not fit.
    cmsghdr* control = CMSG_FIRSTHDR(&message.header);
    if ((message.header.msg_flags & MSG_CTRUNC) != 0 || control == nullptr ||
        control->cmsg_level != SOL_SOCKET || control->cmsg_type != SCM_RIGHTS ||
        control->cmsg_len != CMSG_LEN(sizeof(int))) {
        throw lab::Failure("recvmsg: a message without exactly one descriptor");
    }
    int fd = -1;
    std::memcpy(&fd, CMSG_DATA(control), sizeof fd);
    return lab::Fd(fd);
}
// END TASK 13

void child_main(const lab::Fd& channel) {
    while (lab::Fd file = receive_descriptor(channel.get())) {
        say("child pid=" + std::to_string(::getpid()) + ": recvmsg gave fd " +
            std::to_string(file.get()) + "; reading it");
        std::array<char, std::size_t{64} * 1024> buffer;
        while (std::size_t got = lab::read_some(file.get(), buffer, "read passed descriptor")) {
            std::span<char> chunk(buffer.data(), got);
            lab::to_upper_in_place(chunk);
            lab::write_all(STDOUT_FILENO, {chunk.data(), chunk.size()}, "write stdout");
        }
        lab::write_all(channel.get(), "d", "write to parent"); // done: send the next
    }
}

// fork()s a child that runs child_main on its end of the pair and leaves
// with _exit(): it must not return into the parent's main.
pid_t start_child(lab::Fd& parent_end, lab::Fd& child_end) {
    pid_t pid = ::fork();
    if (pid < 0) {
        throw lab::sys_error("fork");
    }
    if (pid == 0) {
        parent_end.reset(); // else the child would never see end of file on its own end
        int status = lab::exit_ok;
        try {
            child_main(child_end);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s: child: %s\n", lab::program_name().c_str(), e.what());
            status = lab::exit_failure;
        }
        child_end.reset();
        ::_exit(status);
    }
    child_end.reset();
    return pid;
}

int wait_for(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            throw lab::sys_error("waitpid");
        }
    }
    return status;
}

void pass_files(const std::vector<std::string>& files, const lab::Fd& channel) {
    for (const auto& path : files) {
        lab::Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!file) {
            throw lab::sys_error("open " + path);
        }
        say("parent pid=" + std::to_string(::getpid()) + ": open(" + path + ") = fd " +
            std::to_string(file.get()) + "; sendmsg(SCM_RIGHTS) it, then close it");
        send_descriptor(channel.get(), file.get());
        file.reset(); // our copy only: the one in flight keeps the file open
        char done = 0;
        if (lab::read_some(channel.get(), {&done, 1}, "read from child") == 0) {
            throw lab::Failure("the child ended without finishing " + path);
        }
    }
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
