// 09-mmap/anon-demo.cpp - shared pages with no file behind them, across fork().
//
//   anon-demo [--private] [--timeout SECONDS] [MESSAGE...]   (no MESSAGE: stdin lines)
//
// 1. mmap(MAP_SHARED | MAP_ANONYMOUS) a control block and sem_init(pshared=1)
//    its two semaphores. No name, no file: only fork() can hand these pages
//    to another process.
// 2. mmap() the message buffer: MAP_SHARED | MAP_ANONYMOUS too or, with
//    --private, MAP_PRIVATE | MAP_ANONYMOUS, which fork() turns into two
//    copy-on-write copies: each process then writes its own.
// 3. fork(): the child waits for work, uppercases the buffer in place, posts.
// 4. The parent, per message: writes it into the buffer, posts, waits
//    (bounded) and prints the buffer as IT sees it: uppercased when shared,
//    untouched when private.
// 5. The parent sets `stop`, posts once more and reaps the child; munmap().
#include "protocol.hpp"

#include <cerrno>
#include <cstring>
#include <sys/wait.h>

namespace {

// Always shared: semaphores in private memory would be two unrelated copies.
struct Control {
    sem_t work_ready; // parent -> child
    sem_t work_done;  // child -> parent
    std::uint32_t stop;
};

struct Buffer {
    std::uint32_t length;
    char bytes[lab::max_message_bytes];
};

// If run() leaves before step 5 has reaped the child (an exception), the
// child is killed and reaped on the way out: never a zombie, never an
// orphan left waiting on a semaphore.
struct KillOnExit {
    pid_t pid; // 0 once step 5 reaped it
    ~KillOnExit();
};

// Below run(), in the order run() needs them.
lab::Mapping map_anonymous(std::size_t bytes, int sharing, const char* what);
[[noreturn]] void be_child(Control& control, Buffer& buffer, pid_t parent);
void wait_for_child(Control& control, double timeout_seconds);

int run(int argc, char** argv) {
    bool private_buffer = false;
    double timeout_seconds = lab::default_timeout_seconds;
    lab::Options options("[--private] [--timeout SECONDS] [MESSAGE...]",
                         "Forks a child that shares an anonymous mapping with us and uppercases\n"
                         "each MESSAGE (or line of stdin) we put there; prints what we then see.");
    options.flag("--private",
                 "map the message buffer MAP_PRIVATE: the child's change stays its own",
                 private_buffer);
    options.add_timeout(timeout_seconds);
    std::vector<std::string> messages = options.parse(argc, argv);

    // 1. The control block, shared, and its two process-shared semaphores.
    lab::Mapping control_mapping = map_anonymous(sizeof(Control), MAP_SHARED, "control");
    auto& control = control_mapping.as<Control>();
    if (::sem_init(&control.work_ready, 1, 0) < 0 || ::sem_init(&control.work_done, 1, 0) < 0) {
        throw lab::sys_error("sem_init");
    }
    // 2. The message buffer: shared, or (--private) copy-on-write after fork().
    lab::Mapping buffer_mapping =
        map_anonymous(sizeof(Buffer), private_buffer ? MAP_PRIVATE : MAP_SHARED, "buffer");
    auto& buffer = buffer_mapping.as<Buffer>();

    // 3. The child inherits both mappings.
    std::fflush(stdout); // the child must not inherit (and flush again) our buffered output
    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
        throw lab::sys_error("fork");
    }
    if (pid == 0) {
        be_child(control, buffer, parent);
    }
    KillOnExit child{pid};

    // 4. Per message: into the buffer, post, wait, print what we see.
    lab::for_each_message(messages, [&](const std::string& message) {
        buffer.length = static_cast<std::uint32_t>(message.size());
        std::memcpy(buffer.bytes, message.data(), message.size());
        if (::sem_post(&control.work_ready) < 0) {
            throw lab::sys_error("sem_post work_ready");
        }
        wait_for_child(control, timeout_seconds);
        lab::print_line({buffer.bytes, buffer.length});
    });

    // 5. Tell the child to stop, reap it; the lab::Mappings' destructors munmap().
    control.stop = 1;
    if (::sem_post(&control.work_ready) < 0) {
        throw lab::sys_error("sem_post work_ready");
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            throw lab::sys_error("waitpid");
        }
    }
    child.pid = 0; // reaped: nothing left to kill
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw lab::Failure("child " + std::to_string(pid) + " ended with wait status " +
                           std::to_string(status));
    }
    return lab::exit_ok;
}

// TASK 7 (step 1): map anonymous pages with mmap
//   `map_anonymous()` maps `bytes` of memory with no file behind it:
//   `mmap(nullptr, bytes, PROT_READ | PROT_WRITE, sharing | MAP_ANONYMOUS,
//   -1, 0)` (fd -1 and offset 0: nothing to map but fresh zero-filled
//   pages). `sharing` is `MAP_SHARED` (after `fork()`, parent and child
//   see the same pages) or `MAP_PRIVATE` (fork() gives each its own
//   copy-on-write copy). `MAP_FAILED`: `throw
//   lab::sys_error(std::string("mmap ") + what)`. Return `{address, bytes}`
//   (a `lab::Mapping`, which `munmap()`s it).
//   man 2 mmap
//   check: `./anon-demo hi` prints `HI`; `./anon-demo --private hi` prints `hi`
//   stub: lab::Mapping map_anonymous(std::size_t /*bytes*/, int /*sharing*/,
//   stub:                            const char* /*what*/) {
//   stub:     return lab::not_written_yet<lab::Mapping>(1, 7, "map anonymous pages with mmap");
//   stub: }
lab::Mapping map_anonymous(std::size_t bytes, int sharing, const char* what) {
    // fd -1, offset 0: nothing to map but fresh zero-filled pages.
    void* address = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, sharing | MAP_ANONYMOUS, -1, 0);
    if (address == MAP_FAILED) {
        throw lab::sys_error(std::string("mmap ") + what);
    }
    return {address, bytes};
}
// END TASK 7

// The child's whole life. It never returns into the parent's code (whose
// destructors would then run twice): it ends in _exit().
[[noreturn]] void be_child(Control& control, Buffer& buffer, pid_t parent) {
    const double tick_seconds = lab::stop_check_interval_ms / 1000.0;
    for (;;) {
        timespec tick_end = lab::Deadline(tick_seconds).absolute_realtime();
        if (::sem_timedwait(&control.work_ready, &tick_end) < 0) {
            if (errno != ETIMEDOUT && errno != EINTR) {
                std::perror("anon-demo: child: sem_timedwait");
                ::_exit(1);
            }
            if (::getppid() != parent) {
                ::_exit(1); // the parent died without telling us to stop
            }
            continue;
        }
        if (control.stop != 0) {
            ::_exit(0);
        }
        lab::to_upper_in_place(
            {buffer.bytes, std::min<std::size_t>(buffer.length, sizeof buffer.bytes)});
        if (::sem_post(&control.work_done) < 0) {
            std::perror("anon-demo: child: sem_post");
            ::_exit(1);
        }
    }
}

void wait_for_child(Control& control, double timeout_seconds) {
    lab::Deadline deadline(timeout_seconds);
    for (;;) {
        timespec until = deadline.absolute_realtime();
        if (::sem_timedwait(&control.work_done, &until) == 0) {
            return;
        }
        if (errno == ETIMEDOUT) {
            throw lab::timed_out(timeout_seconds, "the child");
        }
        if (errno != EINTR) {
            throw lab::sys_error("sem_timedwait work_done");
        }
    }
}

KillOnExit::~KillOnExit() {
    if (pid > 0) {
        ::kill(pid, SIGKILL);
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
