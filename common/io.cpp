#include "io.hpp"

#include "errors.hpp"

#include <cerrno>
#include <unistd.h>

namespace lab {

void write_all(int fd, std::string_view data, const char* what) {
    while (!data.empty()) {
        ssize_t written = ::write(fd, data.data(), data.size());
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw sys_error(what);
        }
        data.remove_prefix(static_cast<std::size_t>(written));
    }
}

std::size_t read_some(int fd, std::span<char> buffer, const char* what) {
    for (;;) {
        ssize_t got = ::read(fd, buffer.data(), buffer.size());
        if (got >= 0) {
            return static_cast<std::size_t>(got);
        }
        if (errno != EINTR) {
            throw sys_error(what);
        }
    }
}

std::size_t read_full(int fd, std::span<char> buffer, const char* what) {
    std::size_t total = 0;
    while (total < buffer.size()) {
        std::size_t got = read_some(fd, buffer.subspan(total), what);
        if (got == 0) {
            break;
        }
        total += got;
    }
    return total;
}

} // namespace lab
