// 04-signal/server.cpp - signals as notifications and as a (very narrow) carrier.
//
//   server [--name NAME]
//
// 1. Block SIGUSR1, SIGUSR2 and SIGRTMIN (sigprocmask) before anyone can
//    know our pid. From then on each one waits, pending in the kernel,
//    until we take it: none can kill us, run a handler in the middle of our
//    code, or slip in between two waits unseen. The stop signals (SIGINT,
//    SIGTERM, SIGHUP, ...) go through lab::StopSignals as in every other
//    server, keeping ours: a handler can interrupt a write() to a stalled
//    log, a blocked signal could not.
// 2. signalfd() makes the pending signals readable: each read() returns
//    signalfd_siginfo records carrying the signal, the sender's pid
//    (ssi_pid) and the sigqueue() value (ssi_int).
// 3. Publish our pid in NAME.pid: written aside, then rename()d into
//    place, so a client never reads half a number.
// 4. Exchange: SIGUSR1/SIGUSR2 are logged with their sender. SIGRTMIN
//    values are bytes (0-255) and message ends (256), collected per sender
//    pid (server-senders.cpp); each message is answered with sigqueue(),
//    the same way, byte by byte.
// 5. A stop signal makes stop.fd() readable, polled in the same loop:
//    print the summary and return; the destructors remove NAME.pid and the
//    instance lock.
#include "protocol.hpp"
#include "server-senders.hpp"

#include <array>
#include <fcntl.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

namespace {

using signal_lab::signal_name;

// A full receiver queue gives no "room again" event: retry after this.
constexpr int reply_retry_interval_ms = 5;
// How often senders with unfinished business are checked for having died.
constexpr double departed_check_interval_seconds = 0.25;
constexpr std::size_t signals_per_read = 64;

// NAME.pid, the server's address: written aside and rename()d into place.
// The lab::OwnedPath returned removes it on every way out.
lab::OwnedPath publish_pid_file(const std::string& path);

struct Counts {
    std::size_t usr1 = 0;
    std::size_t usr2 = 0;
};

// Handles one signal.
void handle(const signalfd_siginfo& info, signal_lab::Senders& senders, Counts& counts);

int run(int argc, char** argv) {
    std::string name = lab::parse_server_options(
        argc, argv,
        "Logs every SIGUSR1/SIGUSR2 with its sender's pid, and answers messages\n"
        "sent as SIGRTMIN values (one byte each, then 256) the same way, in\n"
        "upper case. Its pid is in RUNTIME/signal/NAME.pid. SIGINT, SIGTERM or SIGHUP:\n"
        "prints how many signals and messages it took, removes NAME.pid, exit 0.");
    lab::InstanceLock instance(signal_lab::topic, name);
    lab::ignore_sigpipe();

    // 1. Block, before our pid is known to anyone. The stop signals get the
    //    common handler; every other stray signal is ignored, but not ours.
    const int message_signal = signal_lab::message_signal();
    lab::StopSignals stop(lab::keeping, {SIGUSR1, SIGUSR2, message_signal});
    sigset_t taken;
    sigemptyset(&taken);
    sigaddset(&taken, SIGUSR1);
    sigaddset(&taken, SIGUSR2);
    sigaddset(&taken, message_signal);
    // For the rest of our life: a SIGUSR1 still pending when run() returns
    // would, unblocked, run its default action (death, exit status 138)
    // instead of the clean return we chose.
    // TASK 1 (step 1): block the three signals with sigprocmask
    //   Block every signal in `taken` (SIGUSR1, SIGUSR2 and SIGRTMIN, built
    //   just above) for the rest of the process: `sigprocmask(SIG_BLOCK,
    //   &taken, nullptr)`. From then on they wait, pending in the kernel,
    //   until step 2's descriptor hands them over. On failure (-1) throw
    //   `lab::sys_error("sigprocmask")` (it reads errno).
    //   man 2 sigprocmask, man 3 sigsetops
    //   check: `./server &`, then `grep SigBlk /proc/$!/status` is 0000000200000a00
    if (::sigprocmask(SIG_BLOCK, &taken, nullptr) < 0) {
        throw lab::sys_error("sigprocmask");
    }
    // END TASK 1

    // 2. The blocked signals, as a descriptor we can poll with a timeout.
    // TASK 2 (step 2): make the blocked signals readable with signalfd
    //   `signalfd(-1, &taken, SFD_NONBLOCK | SFD_CLOEXEC)` makes a new
    //   descriptor (-1: not an existing one) from which the signals of
    //   `taken`, once pending, are read as `signalfd_siginfo` records.
    //   SFD_NONBLOCK: a read with nothing pending fails with EAGAIN instead
    //   of blocking, as the loop of step 4 needs (it waits in poll()).
    //   Own the descriptor in a `lab::Fd signals(...)`; when it is invalid
    //   (-1) throw `lab::sys_error("signalfd")`.
    //   man 2 signalfd
    //   check: `./server &`, then `ls -l /proc/$!/fd` shows `anon_inode:[signalfd]`
    //   stub: lab::Fd signals(lab::not_written_yet<int>(
    //   stub:     2, 2, "make the blocked signals readable with signalfd"));
    lab::Fd signals(::signalfd(-1, &taken, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!signals) {
        throw lab::sys_error("signalfd");
    }
    // END TASK 2

    // 3. Publish.
    lab::OwnedPath pid_file = publish_pid_file(signal_lab::pid_file_path(name));
    lab::print_ready({{"path", pid_file.path()}});

    // 4. Exchange.
    signal_lab::Senders senders;
    Counts counts;
    bool replies_waiting = false;
    lab::Deadline next_departed_check(departed_check_interval_seconds);
    std::array<signalfd_siginfo, signals_per_read> batch;
    while (!stop.requested()) {
        int timeout_ms = -1; // nothing in progress: sleep until a signal comes
        if (replies_waiting) {
            timeout_ms = reply_retry_interval_ms;
        } else if (senders.any()) {
            timeout_ms = next_departed_check.milliseconds_left();
        }
        std::array<pollfd, 2> ready{{{signals.get(), POLLIN, 0}, {stop.fd(), POLLIN, 0}}};
        if (::poll(ready.data(), ready.size(), timeout_ms) < 0 && errno != EINTR) {
            throw lab::sys_error("poll");
        }
        if (senders.any() && next_departed_check.expired()) {
            senders.forget_departed(); // before new bytes: a reused pid starts afresh
            next_departed_check = lab::Deadline(departed_check_interval_seconds);
        }
        // One read per turn, so a flood of signals cannot starve the replies.
        // TASK 3 (step 4): read the pending signals from the signalfd
        //   One `read()` of `signals` into `batch` (up to `sizeof batch`
        //   bytes) takes that many pending signals at once, each a whole
        //   `signalfd_siginfo`. Set `records` to how many came: the bytes read
        //   divided by `sizeof batch[0]`, and 0 when the read failed with
        //   EAGAIN (nothing pending: the descriptor is non-blocking) or EINTR
        //   (a stop signal's handler ran). Any other error: throw
        //   `lab::sys_error("read signalfd")`.
        //   man 2 signalfd, man 2 read
        //   stub: std::size_t records = lab::not_written_yet<std::size_t>(
        //   stub:     4, 3, "read the pending signals from the signalfd");
        ssize_t got = ::read(signals.get(), batch.data(), sizeof batch);
        if (got < 0 && errno != EAGAIN && errno != EINTR) {
            throw lab::sys_error("read signalfd");
        }
        std::size_t records = got > 0 ? static_cast<std::size_t>(got) / sizeof batch[0] : 0;
        // END TASK 3
        for (std::size_t i = 0; i < records && !stop.requested(); ++i) {
            handle(batch[i], senders, counts);
        }
        replies_waiting = !stop.requested() && senders.send_replies();
    }

    // 5. Summary; the destructors remove NAME.pid and the lock.
    lab::print_line("signals: SIGUSR1=" + std::to_string(counts.usr1) +
                    " SIGUSR2=" + std::to_string(counts.usr2) +
                    " messages=" + std::to_string(senders.messages()));
    return lab::exit_ok;
}

lab::OwnedPath publish_pid_file(const std::string& path) {
    // We hold the instance lock, so whatever is here is a killed
    // server's leftover: replace it.
    const std::string draft = path + ".new";
    ::unlink(draft.c_str());
    lab::Fd fd(::open(draft.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, lab::owner_only));
    if (!fd) {
        throw lab::sys_error("open " + draft);
    }
    lab::OwnedPath owned_draft(draft);             // every failure below removes it (a full disk)
    if (::fchmod(fd.get(), lab::owner_only) < 0) { // the umask only narrows; say it exactly
        throw lab::sys_error("fchmod " + draft);
    }
    lab::write_all(fd.get(), std::to_string(::getpid()) + "\n", "write pid file");
    if (::rename(draft.c_str(), path.c_str()) < 0) {
        throw lab::sys_error("rename " + draft + " to " + path);
    }
    owned_draft.release();       // it is NAME.pid now,
    return lab::OwnedPath(path); // removed when the caller's OwnedPath goes
}

// Handles one signal.
// TASK 4 (step 4): tell each signal record apart
//   `handle()` gets one `signalfd_siginfo`: `ssi_signo` is the signal,
//   `ssi_pid` the sender's pid, `ssi_code` how it was sent (the si_code
//   values are listed in man 2 sigaction) and `ssi_int` the value sigqueue()
//   carried.
//   - SIGUSR1 or SIGUSR2: add one to `counts.usr1` or `counts.usr2` and log
//     `lab::print_line("signal: SIGUSR1 from pid=PID")` (`signal_name(signo)`
//     gives the name).
//   - SIGRTMIN whose `ssi_code` is not `SI_QUEUE` (sent with kill(): its
//     value is just 0, not a byte): `lab::log_ignored("SIGRTMIN from pid=PID
//     carries no value (sent with kill, not sigqueue)")`.
//   - SIGRTMIN sent with sigqueue(): `senders.take(pid, info.ssi_int)`, which
//     collects the bytes and queues the reply (server-senders.cpp).
//   man 2 signalfd, man 2 sigaction
//   check: `./server &`, then `kill -USR1 $!` logs `signal: SIGUSR1 from pid=...`
//   stub: void handle(const signalfd_siginfo&, signal_lab::Senders&, Counts&) {
//   stub:     lab::not_written_yet(4, 4, "tell each signal record apart");
//   stub: }
void handle(const signalfd_siginfo& info, signal_lab::Senders& senders, Counts& counts) {
    const int signo = static_cast<int>(info.ssi_signo);
    const auto sender = static_cast<pid_t>(info.ssi_pid);
    if (signo == SIGUSR1 || signo == SIGUSR2) {
        ++(signo == SIGUSR1 ? counts.usr1 : counts.usr2);
        lab::print_line("signal: " + signal_name(signo) + " from pid=" + std::to_string(sender));
    } else if (info.ssi_code != SI_QUEUE) {
        // kill() sends no value: ssi_int is just 0, not a byte.
        lab::log_ignored(signal_name(signo) + " from pid=" + std::to_string(sender) +
                         " carries no value (sent with kill, not sigqueue)");
    } else {
        senders.take(sender, info.ssi_int);
    }
}
// END TASK 4

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
