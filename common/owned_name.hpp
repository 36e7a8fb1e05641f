// owned_name.hpp - a POSIX IPC name this process made (shm_open, sem_open or
// mq_open with O_CREAT): removed, with the unlink call its chapter teaches,
// when its owner goes. The name's twin of lab::OwnedPath.
//
//   lab::Fd fd(::shm_open(object.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600));
//   if (!fd) throw ...;
//   lab::OwnedName owned_name(object, ::shm_unlink); // every way out removes it
//
// The same with ::sem_unlink (05-semaphore) and ::mq_unlink (06-msgqueue).
// Removing the name does not destroy the object: a process that still has it
// open or mapped keeps it until it lets go. Never give it a name this process
// did not create.
#pragma once

#include <string>
#include <utility>

namespace lab {

class OwnedName {
  public:
    using Unlink = int (*)(const char*);

    OwnedName() = default;
    OwnedName(std::string name, Unlink unlink) : name_(std::move(name)), unlink_(unlink) {}
    OwnedName(OwnedName&& other) noexcept
        : name_(std::exchange(other.name_, {})), unlink_(std::exchange(other.unlink_, nullptr)) {}
    OwnedName& operator=(OwnedName&& other) noexcept {
        if (this != &other) {
            reset();
            name_ = std::exchange(other.name_, {});
            unlink_ = std::exchange(other.unlink_, nullptr);
        }
        return *this;
    }
    OwnedName(const OwnedName&) = delete;
    OwnedName& operator=(const OwnedName&) = delete;
    ~OwnedName() { reset(); }

    const std::string& name() const { return name_; }
    explicit operator bool() const { return !name_.empty(); }

    // Removes the name it holds, if any; it then holds none.
    void reset() {
        if (unlink_ != nullptr && !name_.empty()) {
            unlink_(name_.c_str()); // on the way out: nothing to report an error to
        }
        name_.clear();
        unlink_ = nullptr;
    }

  private:
    std::string name_;
    Unlink unlink_ = nullptr;
};

} // namespace lab
