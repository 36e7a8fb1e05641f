// errors.hpp - one way to fail, one line to report it, the contract's exit codes.
//
// A failing system call throws std::system_error built by lab::sys_error();
// a contract condition (timed out, not running, already running) throws
// lab::Failure; bad command-line input throws lab::UsageError. guarded_main()
// catches all three and prints exactly one line on stderr:
//
//     PROGRAM: what failed: reason
//
// then returns 0 (--help), 1 (runtime failure), 2 (usage) or the code a
// Failure carries (3 where a chapter says so).
#pragma once

#include <stdexcept>
#include <string>
#include <system_error>

namespace lab {

inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;
inline constexpr int exit_usage = 2;

// Bad input on the command line: unknown option, bad name, message too long.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A runtime failure with no errno behind it, or with an exit code of its own.
struct Failure : std::runtime_error {
    explicit Failure(const std::string& what, int exit_code = exit_failure)
        : std::runtime_error(what), code(exit_code) {}
    int code;
};

// Thrown by the option parser after printing --help; guarded_main returns 0.
struct HelpShown {};

// The error for a failed call, from errno: "mkfifo /x/y.fifo: File exists".
std::system_error sys_error(const std::string& what);
std::system_error sys_error(int error_number, const std::string& what);

// For the calls that return an error number instead of setting errno
// (pthread_mutex_init and the other pthread_* calls, posix_fallocate): 0 is
// success; anything else throws sys_error(error_number, what).
//     lab::check_error_number(::pthread_mutex_init(&m, &attributes), "pthread_mutex_init");
void check_error_number(int error_number, const std::string& what);

// A handout's stub (tools/handout): the part of the program a student has
// yet to write. Throws Failure("step STEP is not written yet: WHAT (see
// README, task TASK)"), so the program exits 1 with that one line. The
// template form stands where the step's code yields a value:
//     int msqid = lab::not_written_yet<int>(1, 2, "create the queue with msgget");
[[noreturn]] void not_written_yet(int step, int task, const std::string& what);
template <typename T>
[[noreturn]] T not_written_yet(int step, int task, const std::string& what) {
    not_written_yet(step, task, what);
}

// The program's own name (basename of argv[0]) for error lines and usage.
const std::string& program_name();

// Runs body(argc, argv), turning exceptions into one stderr line and an exit code.
int guarded_main(int argc, char** argv, int (*body)(int, char**));

} // namespace lab
