// writer.cpp - a hostile plant: writes into the grader's tests and reports.
// It tries the suite's files and the grader's reports (the test file, its
// directory and the report directory, as its environment names them), every
// regular file that any process it can see has open (the reports bats
// writes among them), and new files beside them. The sandbox leaves the
// grader's tree and reports read-only; it only reaches its own run's scratch.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "guard.hpp"

namespace {

// Appends a line to PATH; says on stderr which it wrote and which it could
// not (tests/hostile.bats reads that from the test's output).
void scribble(const std::string& path) {
    const int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    static const char line[] = "planted by a hostile submission\n";
    if (fd < 0 || write(fd, line, sizeof line - 1) < 0) {
        std::fprintf(stderr, "hostile writer: refused %s (%s)\n", path.c_str(),
                     std::strerror(errno));
    } else {
        std::fprintf(stderr, "hostile writer: wrote %s\n", path.c_str());
    }
    if (fd >= 0) {
        static_cast<void>(close(fd));
    }
}

} // namespace

int main() {
    hostile::require_sandbox("writer");
    std::vector<std::string> targets;
    for (const char* name : {"BATS_TEST_FILENAME", "BATS_TEST_DIRNAME", "LAB_ROOT", "GRADE_OUT"}) {
        if (const char* value = std::getenv(name); value != nullptr && *value != '\0') {
            for (const char* file : {"", "/planted", "/lab.bash", "/results.json", "/junit.xml"}) {
                targets.push_back(std::string(value) + file);
            }
        }
    }
    if (DIR* proc = opendir("/proc"); proc != nullptr) {
        const std::string self = std::to_string(getpid());
        while (const dirent* process = readdir(proc)) {
            if (self == process->d_name) {
                continue; // its own output is the test's record of what it did
            }
            const std::string fds = std::string("/proc/") + process->d_name + "/fd";
            DIR* dir = opendir(fds.c_str());
            if (dir == nullptr) {
                continue;
            }
            while (const dirent* fd = readdir(dir)) {
                char target[4096];
                const std::string link = fds + "/" + fd->d_name;
                const ssize_t n = readlink(link.c_str(), target, sizeof target - 1);
                struct stat info {};
                if (n > 0 && target[0] == '/' && stat(link.c_str(), &info) == 0 &&
                    S_ISREG(info.st_mode)) {
                    targets.emplace_back(target, static_cast<std::size_t>(n));
                }
            }
            closedir(dir);
        }
        closedir(proc);
    }
    for (const std::string& path : targets) {
        scribble(path);
    }
    return 1;
}
