// 02-pipe/client.cpp - a filter: stdin to stdout with a-z turned to A-Z.
//
//   client < input > output
//
// It knows nothing about pipes: the server hands it one as stdin and one as
// stdout (dup2), exactly as a shell does for `cat file | client | less`.
// Any size and any bytes go through; nothing is held back but one chunk.
//
// 1. read() a chunk of stdin: whatever the pipe holds, up to 64 KiB.
// 2. Turn its a-z to A-Z and write() all of it to stdout.
// 3. End of file (every write end of our stdin closed): exit 0.
#include "protocol.hpp"

#include <array>

namespace {

int run(int argc, char** argv) {
    lab::Options options(
        "< INPUT > OUTPUT",
        "Copies stdin to stdout with ASCII a-z turned to A-Z (any size, any bytes).");
    if (auto operands = options.parse(argc, argv); !operands.empty()) {
        throw lab::UsageError("unexpected argument '" + operands.front() +
                              "': the client is a filter, it reads stdin");
    }
    // A reader that goes away (`client < big | head -c1`) must give EPIPE
    // and an error line, not a silent death by SIGPIPE.
    lab::ignore_sigpipe();

    std::array<char, pipe_lab::chunk_bytes> buffer;
    for (;;) {
        // 1. A chunk of stdin.
        std::size_t got = lab::read_some(STDIN_FILENO, buffer, "read stdin");
        if (got == 0) {
            // 3. End of file: every write end of our stdin is closed.
            return lab::exit_ok;
        }
        // 2. Uppercased, all of it to stdout.
        std::span<char> chunk(buffer.data(), got);
        lab::to_upper_in_place(chunk);
        lab::write_all(STDOUT_FILENO, {chunk.data(), chunk.size()}, "write stdout");
    }
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
