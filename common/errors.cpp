#include "errors.hpp"

#include <cerrno>
#include <cstdio>
#include <exception>

namespace lab {

namespace {
std::string the_program_name = "ipc-lab";

int report(const char* what, int code) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: %s\n", the_program_name.c_str(), what);
    return code;
}
} // namespace

std::system_error sys_error(const std::string& what) {
    return sys_error(errno, what);
}

std::system_error sys_error(int error_number, const std::string& what) {
    return {error_number, std::generic_category(), what};
}

const std::string& program_name() {
    return the_program_name;
}

int guarded_main(int argc, char** argv, int (*body)(int, char**)) {
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
