// 02-pipe/popen-demo.cpp - the same child, started by popen(3) in one call.
//
//   popen-demo [MESSAGE...]        (no MESSAGE: copies its own stdin)
//
// popen() does pipe() + fork() + exec for us, but through /bin/sh -c, and in
// ONE direction only: "w" gives us the child's stdin while its stdout stays
// ours, so its replies go straight to our stdout. pclose() closes the pipe
// (the child's end of file) and waits for the child, returning its status.
//
// 1. popen(CLIENT, "we"): the client runs with a pipe from us as its stdin.
// 2. Write each MESSAGE (or each line of stdin) to it as a line.
// 3. pclose(): the client reads end of file, exits, and is reaped; its
//    status is ours to report.
#include "protocol.hpp"

#include <cerrno>
#include <cstdio>
#include <iostream>

namespace {

// Below run(): WORD quoted for /bin/sh.
std::string shell_quote(const std::string& word);

int run(int argc, char** argv) {
    lab::Options options(
        "[MESSAGE...]",
        "Starts the client with popen(3) and writes each MESSAGE (or stdin) to it;\n"
        "the client's output goes straight to stdout.");
    std::vector<std::string> messages = options.parse(argc, argv);
    lab::ignore_sigpipe();
    const std::string command = shell_quote(pipe_lab::client_path());

    // 1. The child, with a pipe to its stdin.
    // TASK 6 (step 1): start the client with popen
    //   Flush stdout first (the child shares it: nothing buffered may be
    //   written twice), then `popen(command.c_str(), "we")`: "w" gives us a
    //   `FILE*` writing to the child's stdin ("e": O_CLOEXEC on our end). The
    //   command runs through `/bin/sh -c`: `command` is already quoted for it.
    //   `nullptr` is an error: throw `lab::sys_error("popen " + command)`.
    //   man 3 popen
    //   check: `./popen-demo hi` now gets as far as task 7
    //   stub: FILE* child_input = lab::not_written_yet<FILE*>(1, 6, "start the client with popen");
    std::fflush(stdout); // the child shares our stdout: nothing buffered may be written twice
    // NOLINTNEXTLINE(cert-env33-c): running a command through the shell is what popen() is
    FILE* child_input = ::popen(command.c_str(), "we"); // e: O_CLOEXEC on our end
    if (child_input == nullptr) {
        throw lab::sys_error("popen " + command);
    }
    // END TASK 6
    // 2. The messages, as lines into the pipe.
    bool write_failed = false;
    int write_errno = 0;
    auto send = [&](const std::string& line) {
        if (!write_failed && (std::fputs(line.c_str(), child_input) == EOF ||
                              std::fputc('\n', child_input) == EOF)) {
            write_failed = true;
            write_errno = errno;
        }
    };
    if (messages.empty()) {
        std::string line;
        while (std::getline(std::cin, line)) {
            send(line);
        }
    } else {
        for (const auto& message : messages) {
            send(message);
        }
    }
    // 3. pclose() always runs, so the child is reaped on every path.
    // TASK 7 (step 3): reap the client with pclose
    //   `pclose(child_input)` closes our end (the client reads end of file
    //   and exits) and waits for the child: it returns the child's status,
    //   as waitpid() gives it, or -1 (throw `lab::sys_error("pclose")`).
    //   man 3 pclose
    //   check: `./popen-demo hi there` prints HI and THERE and exits 0
    //   stub: int status = lab::not_written_yet<int>(3, 7, "reap the client with pclose");
    int status = ::pclose(child_input);
    if (status < 0) {
        throw lab::sys_error("pclose");
    }
    // END TASK 7
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw lab::Failure("child " + command + " " + pipe_lab::describe_status(status));
    }
    if (write_failed) {
        throw lab::sys_error(write_errno, "write to child");
    }
    return lab::exit_ok;
}

// '/dir/client' quoted for /bin/sh, which popen() runs the command through.
std::string shell_quote(const std::string& word) {
    std::string quoted = "'";
    for (char c : word) {
        quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return quoted + "'";
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
