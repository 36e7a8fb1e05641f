// protocol.hpp - what the 02-pipe programs agree on.
//
// There is no message format: a pipe is a byte stream, and the client is a
// filter (like `tr a-z A-Z`). The server finds the client next to its own
// binary, so the pair works from any working directory.
#pragma once

#include "lab.hpp"

#include <climits>
#include <cstddef>
#include <cstring>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace pipe_lab {

// One read()/write() at a time: a pipe's default capacity on Linux.
inline constexpr std::size_t chunk_bytes = std::size_t{64} * 1024;

// "/path/to/02-pipe/client": the client beside this program's own binary.
inline std::string client_path() {
    char self[PATH_MAX];
    ssize_t length = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (length < 0) {
        throw lab::sys_error("readlink /proc/self/exe");
    }
    std::string path(self, static_cast<std::size_t>(length));
    return path.substr(0, path.rfind('/') + 1) + "client";
}

// "exited with status 3", "killed by signal 9 (Killed)": from waitpid()'s status.
inline std::string describe_status(int status) {
    if (WIFEXITED(status)) {
        return "exited with status " + std::to_string(WEXITSTATUS(status));
    }
    if (WIFSIGNALED(status)) {
        return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
               ::strsignal(WTERMSIG(status)) + ")";
    }
    return "stopped with wait status " + std::to_string(status);
}

} // namespace pipe_lab
