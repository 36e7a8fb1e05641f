// protocol.hpp - what the 03-fifo programs agree on.
//
//   $IPC_LAB_DIR/fifo/NAME.fifo       the server's FIFO: every client writes its requests here
//   $IPC_LAB_DIR/fifo/NAME.PID.fifo   one client's reply FIFO, made and removed by that client
//
// Request: ONE write() of "PID MESSAGE\n" into NAME.fifo. Reply: ONE write()
// of "REPLY\n" into NAME.PID.fifo. Plain text, so a shell can speak it too:
//
//     mkfifo -m 600 demo.$$.fifo; echo "$$ hello" > demo.fifo; cat demo.$$.fifo
#pragma once

#include "lab.hpp"

#include <cerrno>
#include <climits> // PIPE_BUF
#include <fcntl.h>
#include <optional>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

namespace fifo_lab {

inline constexpr std::string_view topic = "fifo";

// pipe(7): a write of at most PIPE_BUF bytes into a pipe or FIFO is atomic,
// never interleaved with the bytes of other writers. Many clients share
// NAME.fifo, so every request must fit: then requests arrive whole, one
// after another, however many clients write at the same time.
inline constexpr std::size_t max_request_bytes = PIPE_BUF;
inline constexpr std::size_t max_pid_digits = 10; // pid_t is an int: at most 2147483647
static_assert(max_pid_digits + 1 + lab::max_message_bytes + 1 <= max_request_bytes,
              "the longest request must fit in one atomic write");

struct Paths {
    explicit Paths(std::string instance_name)
        : dir(lab::topic_dir(topic)), name(std::move(instance_name)) {}

    std::string server_fifo() const { return dir + "/" + name + ".fifo"; }
    std::string reply_fifo(pid_t pid) const {
        return dir + "/" + name + "." + std::to_string(pid) + ".fifo";
    }

    std::string dir;  // RUNTIME/fifo, checked private
    std::string name; // NAME
};

inline std::string format_request(pid_t pid, std::string_view message) {
    std::string request = std::to_string(pid);
    request += ' ';
    request += message;
    request += '\n';
    return request;
}

struct Request {
    pid_t pid;
    std::string_view message;
};

// "PID MESSAGE" (one line, newline removed) -> the parts, or nothing when it
// does not start with a PID (1-10 digits, no leading zero) and one space.
inline std::optional<Request> parse_request(std::string_view line) {
    std::size_t space = line.find(' ');
    if (space == std::string_view::npos || space == 0 || space > max_pid_digits || line[0] == '0') {
        return std::nullopt;
    }
    long long pid = 0;
    for (char c : line.substr(0, space)) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        pid = pid * 10 + (c - '0');
    }
    if (pid > INT_MAX) {
        return std::nullopt;
    }
    return Request{static_cast<pid_t>(pid), line.substr(space + 1)};
}

// Removes what a killed process left at `path` (nothing there is fine). A
// FIFO that someone still reads is no leftover: a live client of another
// server whose reply FIFO has this name. Refuse rather than break it.
inline void remove_leftover(const std::string& path) {
    lab::Fd probe(::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
    if (probe) {
        struct stat st {};
        if (::fstat(probe.get(), &st) == 0 && S_ISFIFO(st.st_mode)) {
            throw lab::Failure(path + " is in use by another process (a client's reply FIFO?)");
        }
    }
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) {
        throw lab::sys_error("remove leftover " + path);
    }
}

enum class FifoOpen { opened, missing, not_a_fifo, no_reader, failed };

struct FifoWriter {
    lab::Fd fd; // valid when state == opened
    FifoOpen state;
    int error = 0; // errno when state == failed
};

// Opens an existing FIFO for writing, and nothing else, without ever waiting:
//   - lstat() first and O_NOFOLLOW: never open a symlink, device or regular
//     file planted at the path (opening alone can have effects; writing
//     would change it); fstat() after closes the gap between the two;
//   - O_NONBLOCK: with no reader, a blocking open() would wait for one,
//     perhaps forever; this one fails at once with ENXIO.
inline FifoWriter open_fifo_for_writing(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) < 0) {
        return {lab::Fd(), errno == ENOENT ? FifoOpen::missing : FifoOpen::failed, errno};
    }
    if (!S_ISFIFO(st.st_mode)) {
        return {lab::Fd(), FifoOpen::not_a_fifo};
    }
    lab::Fd fd(::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        switch (errno) {
        case ENOENT:
            return {lab::Fd(), FifoOpen::missing};
        case ENXIO:
            return {lab::Fd(), FifoOpen::no_reader};
        case ELOOP:
            return {lab::Fd(), FifoOpen::not_a_fifo};
        default:
            return {lab::Fd(), FifoOpen::failed, errno};
        }
    }
    if (::fstat(fd.get(), &st) < 0) {
        return {lab::Fd(), FifoOpen::failed, errno};
    }
    if (!S_ISFIFO(st.st_mode)) {
        return {lab::Fd(), FifoOpen::not_a_fifo};
    }
    return {std::move(fd), FifoOpen::opened};
}

} // namespace fifo_lab
