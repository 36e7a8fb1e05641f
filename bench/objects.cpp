#include "objects.hpp"

#include "errors.hpp"
#include "runtime_dir.hpp"

#include <cstdio>
#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace bench {

namespace {
constexpr mode_t private_mode = 0600;
constexpr const char* topic = "bench";
bool verbose_objects = false;

std::string run_tag(std::string_view what) {
    return std::to_string(::getpid()) + "-" + std::string(what);
}

// System V semctl() takes this union, which the caller must declare (semctl(2)).
union semun {
    int val;       // cppcheck-suppress unusedStructMember
    semid_ds* buf; // cppcheck-suppress unusedStructMember
    unsigned short* array;
};

// Maps `fd` MAP_SHARED, so that stores by either side reach the other.
std::byte* map_shared(int fd, std::size_t bytes, const std::string& what) {
    if (::ftruncate(fd, static_cast<off_t>(bytes)) < 0) {
        throw lab::sys_error("ftruncate " + what);
    }
    void* address = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (address == MAP_FAILED) {
        throw lab::sys_error("mmap " + what);
    }
    return static_cast<std::byte*>(address);
}
} // namespace

std::string run_path(std::string_view what, std::string_view ext) {
    return lab::object_path(topic, run_tag(what), ext);
}

std::string run_ipc_name(std::string_view what) {
    return lab::posix_ipc_name(topic, run_tag(what));
}

void set_verbose(bool verbose) {
    verbose_objects = verbose;
}

void log_object(const std::string& what) {
    if (verbose_objects) {
        std::fprintf(stderr, "ipc-bench: made %s\n", what.c_str());
    }
}

SysvSemaphores::SysvSemaphores(std::span<const unsigned short> initial_values) {
    // IPC_PRIVATE: only our own children use the set, so no ftok() key (and
    // none of its collisions) is needed.
    id_ = ::semget(IPC_PRIVATE, static_cast<int>(initial_values.size()), IPC_CREAT | private_mode);
    if (id_ < 0) {
        throw lab::sys_error("semget");
    }
    log_object("semid " + std::to_string(id_));
    std::vector<unsigned short> values(initial_values.begin(), initial_values.end());
    semun arg{};
    arg.array = values.data();
    if (::semctl(id_, 0, SETALL, arg) < 0) {
        int saved = errno;
        ::semctl(id_, 0, IPC_RMID);
        throw lab::sys_error(saved, "semctl SETALL");
    }
}

SysvSemaphores::~SysvSemaphores() {
    ::semctl(id_, 0, IPC_RMID);
}

unsigned short SysvSemaphores::value(int number) const {
    int value = ::semctl(id_, number, GETVAL);
    if (value < 0) {
        throw lab::sys_error("semctl GETVAL");
    }
    return static_cast<unsigned short>(value);
}

SysvQueue::SysvQueue() {
    id_ = ::msgget(IPC_PRIVATE, IPC_CREAT | private_mode);
    if (id_ < 0) {
        throw lab::sys_error("msgget");
    }
    log_object("msqid " + std::to_string(id_));
}

SysvQueue::~SysvQueue() {
    ::msgctl(id_, IPC_RMID, nullptr);
}

SysvSegment::SysvSegment(std::size_t bytes) {
    int id = ::shmget(IPC_PRIVATE, bytes, IPC_CREAT | private_mode);
    if (id < 0) {
        throw lab::sys_error("shmget");
    }
    log_object("shmid " + std::to_string(id));
    void* address = ::shmat(id, nullptr, 0);
    int saved = errno;
    // Marked for removal at once: it lives while attached (fork() attaches
    // it to both sides too) and goes with the last shmdt() or exit.
    ::shmctl(id, IPC_RMID, nullptr);
    // NOLINTNEXTLINE(performance-no-int-to-ptr): (void*)-1 is shmat(2)'s error value, not NULL
    if (address == reinterpret_cast<void*>(-1)) {
        throw lab::sys_error(saved, "shmat");
    }
    data_ = static_cast<std::byte*>(address);
    size_ = bytes;
}

SysvSegment::~SysvSegment() {
    ::shmdt(data_);
}

PosixSegment::PosixSegment(std::size_t bytes) {
    std::string name = run_ipc_name("shm");
    lab::Fd fd(::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, private_mode));
    if (!fd) {
        throw lab::sys_error("shm_open " + name);
    }
    log_object("/dev/shm" + name);
    ::shm_unlink(name.c_str()); // the descriptor, then the mapping, keeps the memory
    data_ = map_shared(fd.get(), bytes, name);
    size_ = bytes;
}

PosixSegment::~PosixSegment() {
    ::munmap(data_, size_);
}

FileMapping::FileMapping(std::size_t bytes) {
    std::string path = run_path("map", "map");
    // A regular file (on the runtime dir's file system), not tmpfs: its pages
    // are the page cache of that file.
    lab::Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, private_mode));
    if (!fd) {
        throw lab::sys_error("open " + path);
    }
    log_object(path);
    ::unlink(path.c_str()); // the descriptor, then the mapping, keeps the file
    data_ = map_shared(fd.get(), bytes, path);
    size_ = bytes;
}

FileMapping::~FileMapping() {
    ::munmap(data_, size_);
}

PosixQueue::PosixQueue(std::string_view what, long max_messages, long message_bytes) {
    std::string name = run_ipc_name(what);
    mq_attr attr{};
    attr.mq_maxmsg = max_messages;
    attr.mq_msgsize = message_bytes;
    queue_ = ::mq_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, private_mode, &attr);
    if (queue_ == static_cast<mqd_t>(-1)) {
        throw lab::sys_error("mq_open " + name);
    }
    log_object("mqueue " + name);
    ::mq_unlink(name.c_str()); // the descriptor keeps the queue; the name can go
}

PosixQueue::~PosixQueue() {
    ::mq_close(queue_);
}

NamedSemaphore::NamedSemaphore(std::string_view what) {
    std::string name = run_ipc_name(what);
    semaphore_ = ::sem_open(name.c_str(), O_CREAT | O_EXCL, private_mode, 0U);
    if (semaphore_ == SEM_FAILED) { // not nullptr: sem_open's own error value
        throw lab::sys_error("sem_open " + name);
    }
    log_object("/dev/shm/sem." + name.substr(1));
    ::sem_unlink(name.c_str());
}

NamedSemaphore::~NamedSemaphore() {
    ::sem_close(semaphore_);
}

Fifo::Fifo(std::string_view what) : path_(run_path(what, "fifo")) {
    if (::mkfifo(path_.c_str(), private_mode) < 0) {
        throw lab::sys_error("mkfifo " + path_);
    }
    log_object(path_);
}

Fifo::~Fifo() {
    ::unlink(path_.c_str());
}

lab::Fd anonymous_file(std::string_view what) {
    std::string path = run_path(what, "lock");
    lab::Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, private_mode));
    if (!fd) {
        throw lab::sys_error("open " + path);
    }
    log_object(path);
    ::unlink(path.c_str());
    return fd;
}

} // namespace bench
