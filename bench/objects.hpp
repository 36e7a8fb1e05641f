// objects.hpp - one small owner per kind of object a measurement makes.
//
// The coordinator makes each one before fork(), so both sides inherit it,
// and its destructor removes it - after a normal run, an error or SIGINT
// alike. Where the kernel allows, the name goes as soon as the object is
// open (shm_unlink, mq_unlink, sem_unlink, IPC_RMID on a segment, unlink):
// the sides inherit what is open, and even a coordinator killed with SIGKILL
// leaves nothing in /dev/shm. System V semaphore sets and message queues
// cannot outlive their id like that: their destructor removes them.
#pragma once

#include "fd.hpp"

#include <cstddef>
#include <mqueue.h>
#include <semaphore.h>
#include <span>
#include <string>
#include <string_view>

namespace bench {

// RUNTIME/bench/PID-WHAT.EXT: a path no other run uses.
std::string run_path(std::string_view what, std::string_view ext);
// /ipc-lab-UID-bench-PID-WHAT: a POSIX IPC name no other run uses.
std::string run_ipc_name(std::string_view what);

// Every object made is named on stderr with --verbose, so that a test can
// check afterwards that it is gone.
void set_verbose(bool verbose);
void log_object(const std::string& what);

class SysvSemaphores {
  public:
    explicit SysvSemaphores(std::span<const unsigned short> initial_values);
    ~SysvSemaphores();
    SysvSemaphores(const SysvSemaphores&) = delete;
    SysvSemaphores& operator=(const SysvSemaphores&) = delete;
    int id() const { return id_; }
    unsigned short value(int number) const; // semctl GETVAL

  private:
    int id_ = -1;
};

class SysvQueue {
  public:
    SysvQueue();
    ~SysvQueue();
    SysvQueue(const SysvQueue&) = delete;
    SysvQueue& operator=(const SysvQueue&) = delete;
    int id() const { return id_; }

  private:
    int id_ = -1;
};

// Shared memory of any kind, as the sides see it: an address and a size.
class Memory {
  public:
    Memory() = default;
    Memory(const Memory&) = delete;
    Memory& operator=(const Memory&) = delete;
    virtual ~Memory() = default;
    std::byte* data() const { return data_; }
    std::size_t size() const { return size_; }

  protected:
    std::byte* data_ = nullptr;
    std::size_t size_ = 0;
};

class SysvSegment : public Memory { // shmget, shmat; shmdt
  public:
    explicit SysvSegment(std::size_t bytes);
    ~SysvSegment() override;
};

class PosixSegment : public Memory { // shm_open, ftruncate, mmap; munmap
  public:
    explicit PosixSegment(std::size_t bytes);
    ~PosixSegment() override;
};

class FileMapping : public Memory { // a regular file: open, ftruncate, mmap, unlink; munmap
  public:
    explicit FileMapping(std::size_t bytes);
    ~FileMapping() override;
};

class PosixQueue {
  public:
    PosixQueue(std::string_view what, long max_messages, long message_bytes);
    ~PosixQueue();
    PosixQueue(const PosixQueue&) = delete;
    PosixQueue& operator=(const PosixQueue&) = delete;
    mqd_t get() const { return queue_; }

  private:
    mqd_t queue_ = static_cast<mqd_t>(-1);
};

class NamedSemaphore {
  public:
    explicit NamedSemaphore(std::string_view what);
    ~NamedSemaphore();
    NamedSemaphore(const NamedSemaphore&) = delete;
    NamedSemaphore& operator=(const NamedSemaphore&) = delete;
    sem_t* get() const { return semaphore_; }

  private:
    sem_t* semaphore_ = SEM_FAILED;
};

class Fifo {
  public:
    explicit Fifo(std::string_view what);
    ~Fifo();
    Fifo(const Fifo&) = delete;
    Fifo& operator=(const Fifo&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

// An open regular file whose name is already gone (for record locks).
lab::Fd anonymous_file(std::string_view what);

} // namespace bench
