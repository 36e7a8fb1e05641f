#include "runtime_dir.hpp"

#include "errors.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <sys/stat.h>
#include <unistd.h>

namespace lab {

namespace {
constexpr mode_t private_dir_mode = 0700;

std::string uid_string() {
    return std::to_string(::geteuid());
}

// Makes `path` 0700 if missing, then checks it is ours and private.
void ensure_private_dir(const std::string& path) {
    if (::mkdir(path.c_str(), private_dir_mode) == 0) {
        // mkdir's mode is filtered by the umask: say exactly what we mean.
        if (::chmod(path.c_str(), private_dir_mode) < 0) {
            throw sys_error("chmod " + path);
        }
    } else if (errno != EEXIST) {
        throw sys_error("runtime dir " + path);
    }
    struct stat st {};
    if (::lstat(path.c_str(), &st) < 0) {
        throw sys_error("runtime dir " + path);
    }
    if (S_ISLNK(st.st_mode)) {
        // Followed, a link could lead anywhere; name the real directory instead.
        throw Failure("runtime dir " + path + ": is a symbolic link, not a directory");
    }
    if (!S_ISDIR(st.st_mode)) {
        throw Failure("runtime dir " + path + ": not a directory");
    }
    if (st.st_uid != ::geteuid()) {
        throw Failure("runtime dir " + path + ": owned by uid " + std::to_string(st.st_uid) +
                      ", not by you (uid " + uid_string() + ")");
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        throw Failure("runtime dir " + path + ": writable by group or others (mode " + mode +
                      "); chmod go-w it or choose another IPC_LAB_DIR");
    }
}
} // namespace

std::string runtime_dir() {
    std::string path;
    if (const char* explicit_dir = std::getenv("IPC_LAB_DIR"); explicit_dir && *explicit_dir) {
        path = explicit_dir;
    } else {
        const char* base = std::getenv("XDG_RUNTIME_DIR");
        path = std::string(base && *base ? base : "/tmp") + "/ipc-lab-" + uid_string();
    }
    while (path.size() > 1 && path.back() == '/') {
        path.pop_back();
    }
    ensure_private_dir(path);
    return path;
}

std::string topic_dir(std::string_view topic) {
    std::string path = runtime_dir() + "/" + std::string(topic);
    ensure_private_dir(path);
    return path;
}

std::string object_path(std::string_view topic, std::string_view name, std::string_view ext) {
    return topic_dir(topic) + "/" + std::string(name) + "." + std::string(ext);
}

std::string posix_ipc_name(std::string_view topic, std::string_view name, std::string_view suffix) {
    std::string result =
        "/ipc-lab-" + uid_string() + "-" + std::string(topic) + "-" + std::string(name);
    if (!suffix.empty()) {
        result += "-" + std::string(suffix);
    }
    return result;
}

} // namespace lab
