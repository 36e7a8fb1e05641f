// server-keyfile.cpp - part of server: see server-keyfile.hpp.
#include "server-keyfile.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fcntl.h>
#include <sys/sem.h>
#include <unistd.h>

namespace semaphore_lab {

namespace {

constexpr std::string_view semid_label = "semid=";
constexpr int semid_width = 10; // INT_MAX has 10 digits

std::string key_file_record(int semid) {
    std::string digits = semid < 0 ? "" : std::to_string(semid);
    return std::string(semid_label) +
           std::string(static_cast<std::size_t>(semid_width) - digits.size(), ' ') + digits + "\n";
}

// The semid recorded in `text`, or -1.
int recorded_semid(const std::string& text) {
    if (text.rfind(semid_label, 0) != 0) {
        return -1;
    }
    const char* digits = text.c_str() + semid_label.size();
    char* end = nullptr;
    long semid = std::strtol(digits, &end, 10); // skips the padding; all blank: no semid
    bool whole = end != digits && *end == '\n' && semid >= 0 && semid <= INT_MAX;
    return whole ? static_cast<int>(semid) : -1;
}

// Removes the set a killed server of this NAME made, if it is still there
// under the key its NAME.key gives.
void remove_leftover_set(const std::string& key_path) {
    lab::Fd old_key(::open(key_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!old_key) {
        return;
    }
    int semid = recorded_semid(read_file(old_key.get(), key_path, 31));
    key_t key = ::ftok(key_path.c_str(), key_project_id);
    semid_ds info{};
    if (semid >= 0 && key != -1 && ::semctl(semid, 0, IPC_STAT, &info) == 0 &&
        info.sem_perm.__key == key) {
        if (::semctl(semid, 0, IPC_RMID) < 0) {
            throw lab::sys_error("semctl IPC_RMID leftover semid " + std::to_string(semid));
        }
    }
}

} // namespace

KeyFile::KeyFile(std::string path) : path_(std::move(path)) {
    remove_leftover_set(path_);
    file_ = std::make_unique<ServerFile>(path_, key_file_record(-1));
}

KeyFile::~KeyFile() = default;

void KeyFile::record(int semid) {
    replace_file(file_->fd(), path_, key_file_record(semid));
    collided_.clear();
}

void KeyFile::renew() {
    collided_.emplace_back(::dup(file_->fd()));
    file_.reset(); // unlinks it
    file_ = std::make_unique<ServerFile>(path_, key_file_record(-1));
}

OwnedSetId::~OwnedSetId() {
    if (semid_ >= 0) {
        ::semctl(semid_, 0, IPC_RMID);
    }
}

} // namespace semaphore_lab
