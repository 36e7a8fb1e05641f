// 04-signal/client.cpp - a message as a train of real-time signals, or plain signals.
//
//   client [--name NAME | --pid PID] [--timeout SECONDS] [MESSAGE...]
//   client [--name NAME | --pid PID] --signal USR1|USR2 [--count K]
//
// 1. Block SIGRTMIN (sigprocmask) before anything is sent. The reply may
//    come back before we are ready to wait for it; blocked, it stays
//    pending until sigtimedwait() takes it. (Unblocked, its default action would kill us;
//    with a handler and pause(), it could land between the send and the
//    pause and we would wait forever: the race sigwaitinfo() closes.)
// 2. Find the server: NAME.pid (or --pid). "not running" at once when there
//    is no live server to signal.
// 3. Send each byte with sigqueue(), then 256. EAGAIN means the server's
//    queue is full (RLIMIT_SIGPENDING): wait a little and retry, bounded by
//    --timeout.
// 4. sigtimedwait() for the reply, bounded by --timeout, taking only
//    SIGRTMIN sent with sigqueue() by the server's own pid.
// With --signal: kill() K times and exit; standard signals do not queue,
// so the server may see fewer.
#include "client-lookup.hpp"
#include "protocol.hpp"

#include <algorithm>
#include <cstdint>
#include <ctime>

namespace {

using signal_lab::end_of_message;

constexpr long max_signal_count = 1'000'000;

void send_value(pid_t server, int value, const lab::Deadline& deadline, double timeout_seconds);
std::string receive_reply(pid_t server, const sigset_t& message_set, const lab::Deadline& deadline,
                          double timeout_seconds);
int parse_plain_signal(const std::string& text);
void send_plain_signals(pid_t server, int signo, long count);
void catch_without_running(int signo);

int run(int argc, char** argv) {
    std::string name = lab::default_name;
    bool name_given = false;
    pid_t pid = 0;
    double timeout_seconds = 0;
    int plain_signal = 0;
    long count = 0;
    lab::Options options(
        "[--name NAME | --pid PID] [--timeout SECONDS] [MESSAGE...]\n"
        "       client [--name NAME | --pid PID] --signal USR1|USR2 [--count K]",
        "Sends each MESSAGE (or each line of stdin) to the server as SIGRTMIN signals,\n"
        "one per byte, and prints the reply that comes back the same way. With\n"
        "--signal, sends K plain signals instead and exits.");
    // --name by hand, not add_name(): we must know whether it was given.
    options.value("--name", "NAME", "instance name (default demo): 1-40 of A-Z a-z 0-9 _ . -",
                  [&](const std::string& text) {
                      lab::validate_name(text);
                      name = text;
                      name_given = true;
                  });
    options.value("--pid", "PID", "the server's pid, instead of reading NAME.pid",
                  [&pid](const std::string& text) {
                      pid = static_cast<pid_t>(lab::parse_integer("--pid", text, 1, INT32_MAX));
                  });
    options.add_timeout(timeout_seconds);
    options.value(
        "--signal", "USR1|USR2", "send this plain signal instead of messages",
        [&plain_signal](const std::string& text) { plain_signal = parse_plain_signal(text); });
    options.value("--count", "K", "with --signal: how many to send (default 1)",
                  [&count](const std::string& text) {
                      count = lab::parse_integer("--count", text, 1, max_signal_count);
                  });
    std::vector<std::string> messages = options.parse(argc, argv);
    if (name_given && pid != 0) {
        throw lab::UsageError("--name and --pid exclude each other");
    }
    if (count != 0 && plain_signal == 0) {
        throw lab::UsageError("--count goes with --signal");
    }
    if (plain_signal != 0 && !messages.empty()) {
        throw lab::UsageError("--signal sends no message: unexpected '" + messages.front() + "'");
    }
    lab::ignore_sigpipe();

    // 1. Block first: the reply may come before we wait for it. And catch
    //    it: the server answers only a process that blocks or catches
    //    SIGRTMIN (a forged si_pid must not get it killed), and SigBlk in
    //    /proc/PID/status does not show it while sigtimedwait() waits for it;
    //    SigCgt always shows a handler. The handler never runs: the signal
    //    is blocked, and taken by sigtimedwait() when we wait.
    //    Blocked for the rest of our life: a reply still pending when run()
    //    returns then never acts.
    sigset_t message_set;
    sigemptyset(&message_set);
    sigaddset(&message_set, signal_lab::message_signal());
    // TASK 6 (step 1): block SIGRTMIN with sigprocmask
    //   Block the signals of `message_set` (just SIGRTMIN, built above)
    //   before anything is sent: `sigprocmask(SIG_BLOCK, &message_set,
    //   nullptr)`. A reply that comes before we wait for it then stays
    //   pending until step 4 takes it, instead of killing us (SIGRTMIN's
    //   default action). On failure throw `lab::sys_error("sigprocmask")`.
    //   man 2 sigprocmask, man 7 signal
    //   stub: lab::not_written_yet(1, 6, "block SIGRTMIN with sigprocmask");
    if (::sigprocmask(SIG_BLOCK, &message_set, nullptr) < 0) {
        throw lab::sys_error("sigprocmask");
    }
    // END TASK 6
    catch_without_running(signal_lab::message_signal());

    // 2. Find the server.
    const pid_t server =
        pid != 0 ? signal_lab::check_server_pid(pid) : signal_lab::find_server(name);

    if (plain_signal != 0) {
        send_plain_signals(server, plain_signal, count != 0 ? count : 1);
        return lab::exit_ok;
    }
    lab::for_each_message(messages, [&](const std::string& message) {
        lab::Deadline deadline(timeout_seconds); // one bound per exchange
        for (unsigned char byte : message) {     // 3. Send.
            send_value(server, byte, deadline, timeout_seconds);
        }
        send_value(server, end_of_message, deadline, timeout_seconds);
        lab::print_line(receive_reply(server, message_set, deadline, timeout_seconds)); // 4.
    });
    return lab::exit_ok;
}

// TASK 7 (step 3): send one value with sigqueue, retried while the queue is full
//   `send_value()` sends `value` (a byte 0-255, or `end_of_message`) to the
//   server as SIGRTMIN: `sigqueue(server, signal_lab::message_signal(),
//   carried)`, `carried` a zeroed `sigval` with `sival_int = value`.
//   - ESRCH: the server is gone: throw `lab::not_running("pid " +
//     std::to_string(server), "sigqueue: it has exited")`.
//   - EAGAIN: the server's queue of pending signals is full
//     (RLIMIT_SIGPENDING) and nothing tells us when it has room again:
//     sleep (nanosleep(), again on EINTR) 1 ms, then 2, 4, ... at most 32
//     ms, and retry; once `deadline.expired()`, throw
//     `lab::timed_out(timeout_seconds, "room in the server's signal queue")`.
//     Never sleep past the deadline (`deadline.relative()` is the time left).
//   - any other error: `throw lab::sys_error(error, "sigqueue to pid " +
//     std::to_string(server))`.
//   man 3 sigqueue, man 2 nanosleep, man 2 getrlimit
//   check: with step 4 still a stub, `./client hi` stops there; the server logs `received: hi`
//   stub: void send_value(pid_t, int, const lab::Deadline&, double) {
//   stub:     lab::not_written_yet(3, 7, "send one value with sigqueue");
//   stub: }
// Backoff while the receiver's queue is full: no event says "room again".
constexpr long first_backoff_ns = 1'000'000;    // 1 ms
constexpr long longest_backoff_ns = 32'000'000; // 32 ms

void pause_for(long nanoseconds, const lab::Deadline& deadline) {
    timespec left = deadline.relative();
    timespec pause{0, nanoseconds};
    if (left.tv_sec == 0 && left.tv_nsec < nanoseconds) {
        pause = left;
    }
    while (::nanosleep(&pause, &pause) < 0 && errno == EINTR) {
    }
}

// 3. One value, retried while the server's queue is full.
void send_value(pid_t server, int value, const lab::Deadline& deadline, double timeout_seconds) {
    long backoff_ns = first_backoff_ns;
    for (;;) {
        sigval carried{};
        carried.sival_int = value;
        if (::sigqueue(server, signal_lab::message_signal(), carried) == 0) {
            return;
        }
        const int error = errno;
        if (error == ESRCH) {
            throw lab::not_running("pid " + std::to_string(server), "sigqueue: it has exited");
        }
        if (error != EAGAIN) {
            throw lab::sys_error(error, "sigqueue to pid " + std::to_string(server));
        }
        if (deadline.expired()) {
            throw lab::timed_out(timeout_seconds, "room in the server's signal queue");
        }
        pause_for(backoff_ns, deadline);
        backoff_ns = std::min(2 * backoff_ns, longest_backoff_ns);
    }
}
// END TASK 7

// 4. The reply, byte by byte, from the server only.
// TASK 8 (step 4): take the reply with sigtimedwait
//   `receive_reply()` collects the reply one SIGRTMIN at a time:
//   `sigtimedwait(&message_set, &info, &left)`, `info` a zeroed
//   `siginfo_t`, `left = deadline.relative()` recomputed before each wait.
//   It returns the signal number, or -1 with errno EAGAIN when the time ran
//   out: throw `lab::timed_out(timeout_seconds, "the reply from pid " +
//   std::to_string(server))`; EINTR (we were stopped and continued): wait
//   again; any other errno: `lab::sys_error("sigtimedwait")`.
//   Skip a signal unless `info.si_pid == server` and `info.si_code ==
//   SI_QUEUE`: any process of our uid can signal us. `info.si_value.sival_int`
//   is then a byte (append it) or `end_of_message` (return the reply); any
//   other value, or a reply longer than `lab::max_message_bytes`, throws
//   `lab::Failure("bad reply from pid ...")`.
//   man 2 sigtimedwait, man 2 sigaction (siginfo_t)
//   check: `./server &`, then `./client hello` prints `HELLO`
//   stub: std::string receive_reply(pid_t, const sigset_t&, const lab::Deadline&, double) {
//   stub:     lab::not_written_yet(4, 8, "take the reply with sigtimedwait");
//   stub: }
std::string receive_reply(pid_t server, const sigset_t& message_set, const lab::Deadline& deadline,
                          double timeout_seconds) {
    std::string reply;
    for (;;) {
        timespec left = deadline.relative();
        siginfo_t info{};
        if (::sigtimedwait(&message_set, &info, &left) < 0) {
            if (errno == EINTR) { // stopped and continued (SIGSTOP, SIGCONT): wait on
                continue;
            }
            if (errno == EAGAIN) {
                throw lab::timed_out(timeout_seconds,
                                     "the reply from pid " + std::to_string(server));
            }
            throw lab::sys_error("sigtimedwait");
        }
        if (info.si_pid != server || info.si_code != SI_QUEUE) {
            continue; // not the server's: anyone of our uid can signal us
        }
        int value = info.si_value.sival_int;
        if (value == end_of_message) {
            return reply;
        }
        if (value < 0 || value > signal_lab::max_byte_value ||
            reply.size() == lab::max_message_bytes) {
            throw lab::Failure("bad reply from pid " + std::to_string(server) + ": value " +
                               std::to_string(value) + " after " + std::to_string(reply.size()) +
                               " bytes");
        }
        reply.push_back(static_cast<char>(value));
    }
}
// END TASK 8

int parse_plain_signal(const std::string& text) {
    if (text == "USR1" || text == "SIGUSR1") {
        return SIGUSR1;
    }
    if (text == "USR2" || text == "SIGUSR2") {
        return SIGUSR2;
    }
    throw lab::UsageError("bad value '" + text + "' for --signal: want USR1 or USR2");
}

void send_plain_signals(pid_t server, int signo, long count) {
    for (long i = 0; i < count; ++i) {
        if (::kill(server, signo) < 0) {
            if (errno == ESRCH) {
                throw lab::not_running("pid " + std::to_string(server), "kill: it has exited");
            }
            throw lab::sys_error("kill " + signal_lab::signal_name(signo));
        }
    }
}

// Installs a handler for `signo` that does nothing: for a signal that stays
// blocked and is taken by sigtimedwait(), so the handler never runs, but
// /proc/PID/status SigCgt shows the server we are ready for it.
extern "C" void on_message_signal(int /*signo*/) {}
void catch_without_running(int signo) {
    struct sigaction action {};
    action.sa_handler = on_message_signal;
    sigemptyset(&action.sa_mask);
    if (::sigaction(signo, &action, nullptr) < 0) {
        throw lab::sys_error("sigaction " + signal_lab::signal_name(signo));
    }
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
