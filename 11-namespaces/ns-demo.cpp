// 11-namespaces/ns-demo.cpp - what an IPC namespace keeps apart, and what it
// does not: System V and POSIX objects, limits, and their end.
//
//   ns-demo [--name NAME]     (needs CAP_SYS_ADMIN: root, or root of a user namespace)
//
// 1. Before any namespace: pipe2() and socketpair(AF_UNIX). No IPC
//    namespace owns a pipe or a socket; they will cross every boundary below.
// 2. unshare(CLONE_NEWIPC): this process moves to a new, empty IPC namespace
//    A (the caller's is left alone: nothing is made in it). In A: a System V
//    queue from msgget(ftok(NAME.lock), IPC_CREAT | IPC_EXCL | 0600) and a
//    POSIX queue from mq_open(O_CREAT | O_EXCL), one message in each
//    (msgsnd, mq_send); /proc/sysvipc/msg lists the queue; A's limits are
//    written to /proc/sys/kernel/msgmax and /proc/sys/fs/mqueue/msg_max.
//    A is kept open too: open("/proc/self/ns/ipc").
// 3. clone(CLONE_NEWIPC): a child in another new namespace, B. There
//    msgget(key, 0) and mq_open(name) fail with ENOENT, /proc/sysvipc/msg is
//    empty and the limits are a new namespace's defaults; the pipe and the
//    socket pair carry data as before. The child makes its own queue under
//    the same key, leaves a message in it, and exits once the parent holds
//    open("/proc/CHILD/ns/ipc").
// 4. setns(): the parent enters B, which no process is in any more (that
//    descriptor keeps it alive): the child's queue and message are there.
//    setns() back into A: A's queues, messages and limits are as they were.
// 5. close() the last reference to B: the kernel frees B and the queue in
//    it, which nobody removed. A's objects are removed (msgctl IPC_RMID,
//    mq_unlink), though they too would go with A when this process exits.
#include "protocol.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sched.h>
#include <sstream>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <vector>

namespace {

using namespace namespaces_lab;

inline constexpr std::string_view demo_topic = "namespaces-demo";
inline constexpr std::string_view msgmax = "/proc/sys/kernel/msgmax";
inline constexpr std::string_view mq_msg_max = "/proc/sys/fs/mqueue/msg_max";

// What the parent and the child both use.
struct Shared {
    key_t key;
    std::string queue_name;
    lab::Fd pipe_read, pipe_write; // parent -> child
    lab::Fd socket_parent, socket_child;
};

struct Note { // a System V message: mtype, then text
    long mtype;
    char text[64];
};

void say(const std::string& line) {
    lab::print_line(line);
}
std::string errno_text() {
    return std::strerror(errno);
}
std::string read_proc(std::string_view path);
void write_proc(std::string_view path, const std::string& value);
std::string sysvipc_msg_rows();
key_t key_of(const std::string& path);
int make_sysv_queue(key_t key);
void remove_sysv_queue(int msqid);
std::string look_up_sysv_queue(key_t key);
mqd_t make_posix_queue(const std::string& name);
std::string look_up_posix_queue(const std::string& name);
void send_note(int msqid, const std::string& text);
std::string take_note(int msqid);
void send_line(int fd, const std::string& line);
std::string read_line(int fd);
int child_main(void* argument);

int run(int argc, char** argv) {
    std::string name = lab::default_name;
    lab::Options options("[--name NAME]",
                         "Shows what an IPC namespace isolates (System V and POSIX queues, their\n"
                         "limits) and what it does not (a pipe, a Unix socket), with unshare(),\n"
                         "clone() and setns(). Needs CAP_SYS_ADMIN.");
    options.add_name(name);
    if (std::vector<std::string> operands = options.parse(argc, argv); !operands.empty()) {
        throw lab::UsageError("unexpected argument '" + operands.front() + "'");
    }
    lab::ignore_sigpipe();

    // 1. Before any namespace.
    Shared shared;
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) < 0) {
        throw lab::sys_error("pipe2");
    }
    shared.pipe_read.reset(fds[0]);
    shared.pipe_write.reset(fds[1]);
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds.data()) < 0) {
        throw lab::sys_error("socketpair");
    }
    shared.socket_parent.reset(fds[0]);
    shared.socket_child.reset(fds[1]);
    const std::string start = ipc_namespace_of("self"); // said once we know we can go on

    // 2. A new namespace, A, for this process.
    // TASK 8 (step 2): enter a new IPC namespace with unshare
    //   `unshare(CLONE_NEWIPC)` moves this process into a new, empty IPC
    //   namespace. EPERM (no CAP_SYS_ADMIN): throw `lab::Failure(
    //   "unshare(CLONE_NEWIPC): " + errno_text() + " (an IPC namespace needs
    //   CAP_SYS_ADMIN: run it as root)")`; other errno: `lab::sys_error(
    //   "unshare(CLONE_NEWIPC)")`. Then keep A: `lab::Fd namespace_a(open(
    //   "/proc/self/ns/ipc", O_RDONLY | O_CLOEXEC))` (invalid: throw
    //   `lab::sys_error("open /proc/self/ns/ipc")`).
    //   man 2 unshare, man 7 ipc_namespaces
    //   check: `./ns-demo` prints a step 2 in another ipc:[...] than step 1
    //   stub: lab::Fd namespace_a =
    //   stub:     lab::not_written_yet<lab::Fd>(2, 8, "enter a new IPC namespace with unshare");
    if (::unshare(CLONE_NEWIPC) < 0) {
        if (errno == EPERM) {
            throw lab::Failure("unshare(CLONE_NEWIPC): " + errno_text() +
                               " (an IPC namespace needs CAP_SYS_ADMIN: run it as root)");
        }
        throw lab::sys_error("unshare(CLONE_NEWIPC)");
    }
    lab::Fd namespace_a(::open("/proc/self/ns/ipc", O_RDONLY | O_CLOEXEC));
    if (!namespace_a) {
        throw lab::sys_error("open /proc/self/ns/ipc");
    }
    // END TASK 8
    const std::string a = ipc_namespace_of("self");
    // Its file gives the key; one demo per NAME. (After unshare: a user
    // without the capability hears of that first.)
    lab::InstanceLock instance(demo_topic, name);
    say("1. pipe2() and socketpair(AF_UNIX) made in " + start);
    say("2. unshare(CLONE_NEWIPC): now in " + a + " (A, new and empty)");

    shared.key = key_of(instance.path());
    shared.queue_name = lab::posix_ipc_name(demo_topic, name);
    lab::OwnedSysvId queue_a(remove_sysv_queue);
    queue_a.own(make_sysv_queue(shared.key)); // A is empty: no key is taken
    send_note(queue_a.get(), "left in A");
    mqd_t made = make_posix_queue(shared.queue_name);
    OpenQueue posix_a(made, lab::OwnedName(shared.queue_name, ::mq_unlink));
    if (::mq_send(posix_a.get(), "left in A", 9, 0) < 0) {
        throw lab::sys_error("mq_send");
    }
    say("   msgget(" + lab::key_text(shared.key) + ", IPC_CREAT): msqid " +
        std::to_string(queue_a.get()) + "; mq_open(" + shared.queue_name +
        ", O_CREAT); one message in each");
    say("   /proc/sysvipc/msg (key msqid messages):" + sysvipc_msg_rows());
    std::string default_msgmax = read_proc(msgmax);
    std::string default_msg_max = read_proc(mq_msg_max);
    write_proc(msgmax, "4096");
    write_proc(mq_msg_max, "5");
    say("   limits set in A: msgmax " + default_msgmax + " -> " + read_proc(msgmax) +
        ", mqueue msg_max " + default_msg_max + " -> " + read_proc(mq_msg_max));

    // 3. A child in a namespace of its own, B.
    send_line(shared.pipe_write.get(), "sent through a pipe made before the namespaces");
    std::vector<char> stack(std::size_t{256} *
                            1024); // clone() runs child_main on it (in the child's copy)
    // TASK 9 (step 3): start a child in a new IPC namespace with clone
    //   `pid_t child = clone(child_main, stack.data() + stack.size(),
    //   CLONE_NEWIPC | SIGCHLD, &shared)`: like fork(), but the child starts
    //   in a new IPC namespace and runs child_main on `stack` (it grows down:
    //   pass its end). -1: throw `lab::sys_error("clone(CLONE_NEWIPC)")`.
    //   man 2 clone
    //   check: `./ns-demo` shows step 3's child in a third ipc:[...]
    //   stub: (void)child_main; // what clone() is to run
    //   stub: pid_t child = lab::not_written_yet<pid_t>(3, 9, "start a child with clone");
    pid_t child = ::clone(child_main, stack.data() + stack.size(), CLONE_NEWIPC | SIGCHLD, &shared);
    if (child < 0) {
        throw lab::sys_error("clone(CLONE_NEWIPC)");
    }
    // END TASK 9
    say("   via the socket pair: " + read_line(shared.socket_parent.get())); // the child is done
    std::string child_path = "/proc/" + std::to_string(child) + "/ns/ipc";
    lab::Fd namespace_b(::open(child_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!namespace_b) {
        throw lab::sys_error("open " + child_path);
    }
    send_line(shared.pipe_write.get(), "exit"); // B now outlives its last process
    int status = 0;
    if (::waitpid(child, &status, 0) < 0) {
        throw lab::sys_error("waitpid");
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw lab::Failure("the child in B failed (status " + std::to_string(status) + ")");
    }

    // 4. Into B, which only our descriptor keeps, and back into A.
    std::string b;    // B's name, ipc:[...]
    int queue_b = -1; // the child's queue there
    // TASK 10 (step 4): join the namespaces with setns
    //   `setns(namespace_b.get(), CLONE_NEWIPC)` (-1: throw
    //   `lab::sys_error("setns B")`): this process is now in B; find the
    //   child's queue with `msgget(shared.key, 0)` (-1: `lab::sys_error`)
    //   and say what `take_note()` gets from it. Then `setns(
    //   namespace_a.get(), CLONE_NEWIPC)` back into A.
    //   man 2 setns
    //   check: `./ns-demo` step 4 prints `left in B by pid ...`
    //   stub: lab::not_written_yet(4, 10, "join the namespaces with setns");
    if (::setns(namespace_b.get(), CLONE_NEWIPC) < 0) {
        throw lab::sys_error("setns B");
    }
    b = ipc_namespace_of("self");
    queue_b = ::msgget(shared.key, 0);
    if (queue_b < 0) {
        throw lab::sys_error("msgget " + lab::key_text(shared.key) + " in B");
    }
    say("4. the child exited; setns(/proc/" + std::to_string(child) + "/ns/ipc): now in " + b);
    say("   msgget(" + lab::key_text(shared.key) + ", 0): msqid " + std::to_string(queue_b) +
        ", holding \"" + take_note(queue_b) + "\"");
    if (::setns(namespace_a.get(), CLONE_NEWIPC) < 0) {
        throw lab::sys_error("setns A");
    }
    // END TASK 10
    std::array<char, sizeof Note::text> text{};
    ssize_t got = ::mq_receive(posix_a.get(), text.data(), text.size(), nullptr);
    if (got < 0) {
        throw lab::sys_error("mq_receive");
    }
    say("   setns(A): back in " + ipc_namespace_of("self") + ": msgrcv \"" +
        take_note(queue_a.get()) + "\", mq_receive \"" +
        std::string(text.data(), static_cast<std::size_t>(got)) + "\", msgmax " +
        read_proc(msgmax));

    // 5. The last reference to B goes.
    namespace_b.reset();
    say("5. closed: nothing refers to " + b + " now; the kernel frees it, and msqid " +
        std::to_string(queue_b) + " with it");
    say("   " + a + " goes when this process exits; its queues are removed first");
    // ~OpenQueue (mq_close, mq_unlink), ~OwnedSysvId (IPC_RMID), ~InstanceLock.
    return lab::exit_ok;
}

// 3. In the child, in B: nothing of A's is here, and the pipe still works.
int child_main(void* argument) {
    try {
        const auto& shared = *static_cast<Shared*>(argument);
        std::string prefix = "   [child " + std::to_string(::getpid()) + "] ";
        say("3. clone(CLONE_NEWIPC): the child is in " + ipc_namespace_of("self") + " (B)");
        say(prefix + "msgget(" + lab::key_text(shared.key) +
            ", 0): " + look_up_sysv_queue(shared.key));
        say(prefix + "mq_open(" + shared.queue_name +
            "): " + look_up_posix_queue(shared.queue_name));
        say(prefix + "/proc/sysvipc/msg:" + sysvipc_msg_rows());
        say(prefix + "limits: msgmax " + read_proc(msgmax) + ", mqueue msg_max " +
            read_proc(mq_msg_max));
        say(prefix + "read from the pipe: \"" + read_line(shared.pipe_read.get()) + "\"");
        int msqid = make_sysv_queue(shared.key); // never removed: it goes with B
        send_note(msqid, "left in B by pid " + std::to_string(::getpid()));
        say(prefix + "msgget(" + lab::key_text(shared.key) + ", IPC_CREAT): msqid " +
            std::to_string(msqid) + ", same key, its own queue; one message in it");
        send_line(shared.socket_child.get(),
                  "the child says hello from " + ipc_namespace_of("self"));
        read_line(shared.pipe_read.get()); // "exit": the parent holds B open now
        // A copy of the parent, the child holds every descriptor it had (the
        // lock, A's namespace, A's queue): let go of them all, as an exec'd
        // or exiting child would, since child_main never returns through
        // the parent's destructors.
        ::close_range(3, ~0U, 0);
        return 0;
    } catch (const std::exception& error) {
        std::string line = lab::program_name() + ": child: " + error.what() + "\n";
        (void)!::write(2, line.data(), line.size());
        return 1;
    }
}

std::string read_proc(std::string_view path) {
    std::ifstream file{std::string(path)};
    std::string value;
    if (!std::getline(file, value)) {
        throw lab::Failure("cannot read " + std::string(path) + ": " + errno_text());
    }
    return value;
}

void write_proc(std::string_view path, const std::string& value) {
    lab::Fd fd(::open(std::string(path).c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) {
        throw lab::sys_error("open " + std::string(path));
    }
    lab::write_all(fd.get(), value + "\n", "write /proc/sys");
}

// " none", or " 0x4e0081e5 0 1; ...": the queues of the namespace we are in.
std::string sysvipc_msg_rows() {
    std::ifstream file("/proc/sysvipc/msg");
    std::string line;
    std::string rows;
    std::getline(file, line); // the header
    while (std::getline(file, line)) {
        std::istringstream fields(line);
        long long key = 0;
        std::string msqid;
        std::string skipped; // perms, cbytes
        std::string messages;
        fields >> key >> msqid >> skipped >> skipped >> messages;
        rows += rows.empty() ? " " : "; ";
        rows += lab::key_text(static_cast<key_t>(key));
        rows.append(" ").append(msqid).append(" ").append(messages);
    }
    return rows.empty() ? " none" : rows;
}

// TASK 11 (step 2): the queue calls of the demo: ftok, msgget, msgsnd, msgrcv, mq_open
//   Write the helpers the steps use, each a call 06-msgqueue teaches:
//   `key_of(path)`: `ftok(path.c_str(), key_project_id)` (-1: throw
//   `lab::sys_error("ftok " + path)`); `make_sysv_queue(key)`: `msgget(key,
//   IPC_CREAT | IPC_EXCL | lab::owner_only)` (-1: throw);
//   `remove_sysv_queue(id)`: `msgctl(id, IPC_RMID, nullptr)`;
//   `look_up_sysv_queue(key)`: `msgget(key, 0)`, returning "msqid N" or
//   `errno_text()`; `make_posix_queue(name)`: `mq_open(name.c_str(), O_RDWR
//   | O_CREAT | O_EXCL | O_CLOEXEC, lab::owner_only, &attributes)` with
//   `mq_maxmsg` 1 and `mq_msgsize` `sizeof Note::text` (-1: throw);
//   `look_up_posix_queue(name)`: `mq_open(name.c_str(), O_RDONLY |
//   O_CLOEXEC)`, returning "opened" (after `mq_close`) or `errno_text()`;
//   `send_note(msqid, text)`: a zeroed `Note`, mtype 1, `msgsnd(msqid,
//   &note, size, IPC_NOWAIT)`; `take_note(msqid)`: `msgrcv(msqid, &note,
//   sizeof note.text, 0, IPC_NOWAIT | MSG_NOERROR)`, its text returned.
//   man 3 ftok, man 2 msgget, man 2 msgsnd, man 2 msgrcv, man 3 mq_open
//   check: `./ns-demo` prints steps 2 to 5 as the README shows
//   stub: key_t key_of(const std::string&) {
//   stub:     return lab::not_written_yet<key_t>(2, 11, "the queue calls of the demo");
//   stub: }
//   stub: int make_sysv_queue(key_t) { return lab::not_written_yet<int>(2, 11, "msgget"); }
//   stub: void remove_sysv_queue(int) {}
//   stub: std::string look_up_sysv_queue(key_t) {
//   stub:     return lab::not_written_yet<std::string>(3, 11, "msgget");
//   stub: }
//   stub: mqd_t make_posix_queue(const std::string&) {
//   stub:     return lab::not_written_yet<mqd_t>(2, 11, "mq_open");
//   stub: }
//   stub: std::string look_up_posix_queue(const std::string&) {
//   stub:     return lab::not_written_yet<std::string>(3, 11, "mq_open");
//   stub: }
//   stub: void send_note(int, const std::string&) { lab::not_written_yet(2, 11, "msgsnd"); }
//   stub: std::string take_note(int) {
//   stub:     return lab::not_written_yet<std::string>(4, 11, "msgrcv");
//   stub: }
key_t key_of(const std::string& path) {
    key_t key = ::ftok(path.c_str(), key_project_id);
    if (key == -1) {
        throw lab::sys_error("ftok " + path);
    }
    return key;
}

int make_sysv_queue(key_t key) {
    int msqid = ::msgget(key, IPC_CREAT | IPC_EXCL | lab::owner_only);
    if (msqid < 0) {
        throw lab::sys_error("msgget " + lab::key_text(key));
    }
    return msqid;
}

void remove_sysv_queue(int msqid) {
    ::msgctl(msqid, IPC_RMID, nullptr);
}

std::string look_up_sysv_queue(key_t key) {
    int msqid = ::msgget(key, 0);
    return msqid < 0 ? errno_text() : "msqid " + std::to_string(msqid);
}

mqd_t make_posix_queue(const std::string& name) {
    mq_attr attributes{};
    attributes.mq_maxmsg = 1;
    attributes.mq_msgsize = sizeof Note::text;
    mqd_t queue = ::mq_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, lab::owner_only,
                            &attributes);
    if (queue == static_cast<mqd_t>(-1)) {
        throw lab::sys_error("mq_open " + name);
    }
    return queue;
}

std::string look_up_posix_queue(const std::string& name) {
    mqd_t queue = ::mq_open(name.c_str(), O_RDONLY | O_CLOEXEC);
    if (queue == static_cast<mqd_t>(-1)) {
        return errno_text();
    }
    ::mq_close(queue);
    return "opened";
}

void send_note(int msqid, const std::string& text) {
    Note note;
    std::memset(&note, 0, sizeof note);
    note.mtype = 1;
    std::size_t size = std::min(text.size(), sizeof note.text);
    std::memcpy(note.text, text.data(), size);
    if (::msgsnd(msqid, &note, size, IPC_NOWAIT) < 0) {
        throw lab::sys_error("msgsnd");
    }
}

std::string take_note(int msqid) {
    Note note{};
    ssize_t got = ::msgrcv(msqid, &note, sizeof note.text, 0, IPC_NOWAIT | MSG_NOERROR);
    if (got < 0) {
        throw lab::sys_error("msgrcv");
    }
    return {note.text, static_cast<std::size_t>(got)};
}
// END TASK 11

void send_line(int fd, const std::string& line) {
    lab::write_all(fd, line + "\n");
}

// One line from a pipe or socket, read a byte at a time: nothing past the
// newline is taken from the next line's writer.
std::string read_line(int fd) {
    std::string line;
    char byte = 0;
    while (lab::read_some(fd, {&byte, 1}) == 1 && byte != '\n') {
        line += byte;
    }
    return line;
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
