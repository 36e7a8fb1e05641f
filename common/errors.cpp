#include "errors.hpp"

#include <cerrno>
#include <cstdio>
#include <exception>
#include <fcntl.h>
#include <string_view>
#include <unistd.h>

namespace lab {

namespace {
std::string the_program_name = "ipc-lab";

// The contract's error is ONE line. Messages quote user input (a --name,
// an option), which may hold a newline or other control bytes: escape them.
std::string one_line(std::string_view text) {
    std::string line;
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if (c == '\n') {
            line += "\\n";
        } else if (byte < 0x20 || byte == 0x7f) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
            line += escaped;
        } else {
            line += c;
        }
    }
    return line;
}

int report(const char* what, int code) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: %s\n", the_program_name.c_str(), one_line(what).c_str());
    return code;
}
} // namespace

std::system_error sys_error(const std::string& what) {
    return sys_error(errno, what);
}

std::system_error sys_error(int error_number, const std::string& what) {
    return {error_number, std::generic_category(), what};
}

void check_error_number(int error_number, const std::string& what) {
    if (error_number != 0) { // errno is left as it was: the result is the error
        throw sys_error(error_number, what);
    }
}

void not_written_yet(int step, int task, const std::string& what) {
    throw Failure("step " + std::to_string(step) + " is not written yet: " + what +
                  " (see README, task " + std::to_string(task) + ")");
}

const std::string& program_name() {
    return the_program_name;
}

namespace {
// A program started with stdin, stdout or stderr closed would hand that
// number to its first open(): a server's log lines would then land in its
// lock file or its FIFO. Point any closed one at /dev/null first.
void ensure_standard_descriptors() {
    for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; ++fd) {
        if (::fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            // open() returns the lowest free number: this one.
            if (::open("/dev/null", fd == STDIN_FILENO ? O_RDONLY : O_WRONLY) != fd) {
                ::_exit(exit_failure);
            }
        }
    }
}
} // namespace

int guarded_main(int argc, char** argv, int (*body)(int, char**)) {
    ensure_standard_descriptors();
    if (argc > 0 && argv[0] != nullptr) {
        std::string path = argv[0];
        auto slash = path.rfind('/');
        the_program_name = slash == std::string::npos ? path : path.substr(slash + 1);
    }
    try {
        return body(argc, argv);
    } catch (const HelpShown&) {
        return exit_ok;
    } catch (const UsageError& e) {
        return report(e.what(), exit_usage);
    } catch (const Failure& e) {
        return report(e.what(), e.code);
    } catch (const std::exception& e) {
        return report(e.what(), exit_failure);
    }
}

} // namespace lab
