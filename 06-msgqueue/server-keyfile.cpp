// server-keyfile.cpp - part of server: see server-keyfile.hpp.
#include "server-keyfile.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <unistd.h>

namespace msgqueue_lab {

namespace {
constexpr int msqid_width = 10; // INT_MAX has 10 digits

std::string key_file_record(int msqid) {
    std::string digits = msqid < 0 ? "" : std::to_string(msqid);
    return std::string(static_cast<std::size_t>(msqid_width) - digits.size(), ' ') + digits + "\n";
}
} // namespace

std::optional<int> remove_leftover(const std::string& key_path) {
    lab::Fd file(::open(key_path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!file) {
        if (errno == ENOENT) {
            return std::nullopt;
        }
        throw lab::sys_error("open leftover " + key_path);
    }
    char text[32] = {};
    lab::read_some(file.get(), std::span<char>(text, sizeof text - 1), "read leftover key file");
    char* end = nullptr;
    long recorded_id = std::strtol(text, &end, 10); // blank or "": no id
    bool has_id = end != text && *end == '\n';
    key_t key = ::ftok(key_path.c_str(), key_project_id);
    msqid_ds info{};
    std::optional<int> removed;
    if (key != -1 && has_id && ::msgctl(static_cast<int>(recorded_id), IPC_STAT, &info) == 0 &&
        info.msg_perm.__key == key && info.msg_perm.cuid == ::geteuid()) {
        if (::msgctl(static_cast<int>(recorded_id), IPC_RMID, nullptr) < 0) {
            throw lab::sys_error("msgctl IPC_RMID leftover msqid " + std::to_string(recorded_id));
        }
        removed = static_cast<int>(recorded_id);
    }
    if (::unlink(key_path.c_str()) < 0 && errno != ENOENT) {
        throw lab::sys_error("unlink leftover " + key_path);
    }
    return removed;
}

KeyFile::KeyFile(std::string path) : path_(std::move(path)) {
    create();
}

void KeyFile::create() {
    fd_.reset(
        ::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, lab::owner_only));
    if (!fd_) {
        throw lab::sys_error("create " + path_);
    }
    owned_.reset(path_);                            // ours from here: every way out removes it
    if (::fchmod(fd_.get(), lab::owner_only) < 0) { // the umask may have cut the mode
        throw lab::sys_error("fchmod " + path_);
    }
    lab::write_all(fd_.get(), key_file_record(-1), ("write " + path_).c_str());
}

void KeyFile::record(int msqid) {
    if (::lseek(fd_.get(), 0, SEEK_SET) < 0) {
        throw lab::sys_error("lseek " + path_);
    }
    lab::write_all(fd_.get(), key_file_record(msqid), ("write " + path_).c_str());
    collided_.clear();
}

void KeyFile::renew() {
    collided_.push_back(std::move(fd_));
    owned_.reset(); // unlinks it
    create();
}

OwnedQueue::~OwnedQueue() {
    if (msqid_ >= 0) {
        ::msgctl(msqid_, IPC_RMID, nullptr);
    }
}

} // namespace msgqueue_lab
