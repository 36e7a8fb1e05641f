// 01-file-locking/server.cpp - writes a shared file slowly under an fcntl write lock.
//
//   server [--name NAME] [--hold SECONDS] [MESSAGE...]
//
// 1. Take the instance lock: one live server per NAME, and what is there
//    now is a killed server's, ours to replace.
// 2. Create the document as NAME.txt.new, lock all of it with
//    fcntl(F_SETLK, F_WRLCK), and only then rename() it to NAME.txt. No
//    client can open the document before it is locked, so none can read it
//    empty. NAME.count is made the same way, holding 0.
// 3. Say ready, then write each MESSAGE as a line, spread over --hold
//    seconds, while the lock is held: a client asking for a read lock now
//    waits (or, with --try, gives up), so it never sees half the lines.
// 4. Release the lock with fcntl(F_SETLK, F_UNLCK): waiting clients go on.
// 5. Run on, unlocked, until SIGINT/SIGTERM; then unlink both files (the
//    destructors) and exit 0.
#include "protocol.hpp"
#include "server-file.hpp"

namespace {

using namespace file_locking_lab;

// Below run(): each MESSAGE as a line, spread over --hold seconds.
bool write_slowly(const ServerFile& document, const std::vector<std::string>& messages,
                  double hold_seconds, const lab::StopSignals& stop);

int run(int argc, char** argv) {
    lab::Options options(
        "[--name NAME] [--hold SECONDS] [MESSAGE...]",
        "Creates NAME.txt and NAME.count, holds an fcntl write lock over all of\n"
        "NAME.txt while it writes each MESSAGE (default 'hello from server') as a\n"
        "line, spread over --hold seconds, then releases it and runs on until\n"
        "SIGINT/SIGTERM, when it removes both files.");
    std::string name;
    double hold_seconds = default_hold_seconds;
    options.add_name(name);
    add_hold_option(options, hold_seconds,
                    "how long to hold the write lock (default 2; 0 allowed)");
    std::vector<std::string> messages = options.parse(argc, argv);
    if (messages.empty()) {
        messages.emplace_back(default_server_message);
    }
    for (const auto& message : messages) {
        lab::check_message(message); // before anything is made: a bad one changes nothing
    }

    // Whoever reads our log may go away: a write to it must fail (and the
    // destructors clean up), not kill us with SIGPIPE and leave the files.
    lab::ignore_sigpipe();

    // 1. One server per NAME; what is there now is a killed server's.
    lab::InstanceLock instance(topic, name);
    lab::StopSignals stop;
    const std::string document_path = lab::object_path(topic, name, document_extension);
    const std::string counter_path = lab::object_path(topic, name, counter_extension);

    // 2. The document, locked before it has its name; the counter, filled
    //    before it has its name.
    ServerFile document(document_path);
    // TASK 1 (step 2): write-lock the whole document with fcntl before it has its name
    //   `document.fd()` is NAME.txt.new, just made and still empty. Put a write
    //   lock over all of it: a `struct flock` from `whole_file(F_WRLCK)`
    //   (protocol.hpp: l_whence SEEK_SET, l_start 0, l_len 0 = to the end,
    //   however long the file grows), then `fcntl(fd, F_SETLK, &lock)`. Do not
    //   wait (F_SETLK, not F_SETLKW): nobody else can know the file yet, so
    //   any failure is an error, thrown as
    //   `lab::sys_error("fcntl F_SETLK F_WRLCK " + document_path)`.
    //   Only after this does `publish()` give it its name.
    //   man 2 fcntl
    //   check: `./server --hold 30 &`, then `lslocks` shows its POSIX WRITE lock
    struct flock write_lock = whole_file(F_WRLCK);
    if (::fcntl(document.fd(), F_SETLK, &write_lock) < 0) {
        throw lab::sys_error("fcntl F_SETLK F_WRLCK " + document_path);
    }
    // END TASK 1
    document.publish();
    ServerFile counter(counter_path);
    lab::write_all(counter.fd(), counter_text(0), "write counter");
    counter.publish();
    lab::print_ready({{"path", document.path()}});

    // 3. The slow write, under the lock.
    if (!write_slowly(document, messages, hold_seconds, stop)) {
        return lab::exit_ok; // SIGINT/SIGTERM: the destructors clean up
    }

    // 4. Release. (Closing the descriptor would release it too - and so
    //    would closing any other descriptor we had on the file.)
    // TASK 2 (step 4): release the write lock with fcntl F_UNLCK
    //   The same call as task 1 with a `whole_file(F_UNLCK)` lock: the range
    //   given is unlocked, and every client waiting in F_SETLKW goes on. On
    //   failure, throw `lab::sys_error("fcntl F_SETLK F_UNLCK " + document_path)`.
    //   (Do not close the descriptor instead: the server keeps NAME.txt open
    //   until it exits.)
    //   man 2 fcntl
    //   check: `./server --hold 1 &`: after "unlocked", `lslocks` shows no lock of it
    struct flock unlock = whole_file(F_UNLCK);
    if (::fcntl(document.fd(), F_SETLK, &unlock) < 0) {
        throw lab::sys_error("fcntl F_SETLK F_UNLCK " + document_path);
    }
    // END TASK 2
    lab::print_line("unlocked path=" + document_path);

    // 5. Keep the files there for clients until told to stop.
    pause_unless_stopped(stop, -1);
    return lab::exit_ok;
}

// Writes each message as a line, pausing after each so that the writes
// take `hold_seconds` in all. False if SIGINT/SIGTERM cut it short.
bool write_slowly(const ServerFile& document, const std::vector<std::string>& messages,
                  double hold_seconds, const lab::StopSignals& stop) {
    const double pause_seconds = hold_seconds / static_cast<double>(messages.size());
    for (const auto& message : messages) {
        lab::write_all(document.fd(), message + "\n", "write document");
        lab::print_line("wrote: " + message);
        // The pause IS the demonstration (a writer busy for a while), not a
        // way to wait for someone: and it still ends at once on a stop.
        if (!pause_unless_stopped(stop, pause_seconds)) {
            break;
        }
    }
    return !stop.requested();
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
