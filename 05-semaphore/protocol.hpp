// protocol.hpp - what the 05-semaphore programs agree on.
//
// The message travels through a shared file, NAME.txt; three semaphores only
// say when each side may touch it:
//
//   mutex    1 = free. A client takes it for its whole exchange (or for one
//            step of --increment), so clients take turns.
//   request  posted by the client once its request is in the file.
//   reply    posted by the server once the reply is in the file.
//
// System V (server, client): one set of three, keyed by ftok() of
// RUNTIME/semaphore/NAME.key. POSIX (posix-server, posix-client): three named
// semaphores /ipc-lab-UID-semaphore-posix-NAME-mutex|-request|-reply.
//
// NAME.txt holds one record, text you can `cat`:
//
//   request PID SEQ\nMESSAGE\n      written by the client holding the mutex
//   reply PID SEQ\nREPLY\n          written by the server, same PID and SEQ
//
// PID and SEQ (the client's pid and its own count of messages) tie a reply to
// its request: a client accepts only a reply carrying its own.
#pragma once

#include "lab.hpp"

#include <array>
#include <cstddef>
#include <optional>
#include <semaphore.h>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace semaphore_lab {

inline constexpr std::string_view sysv_topic = "semaphore";
inline constexpr std::string_view posix_topic = "semaphore-posix";

inline constexpr std::string_view exchange_extension = "txt"; // the shared file
inline constexpr std::string_view counter_extension = "count";
inline constexpr std::string_view key_extension = "key";     // System V only
inline constexpr std::string_view owner_extension = "owner"; // POSIX only

// ftok()'s second argument (its low 8 bits go into the key). Another server
// of this chapter, another NAME or run dir, may still get the same key: ftok
// keeps only 16 bits of the inode (see server.cpp).
inline constexpr int key_project_id = 'S';

// Index in the System V set; suffix of the POSIX name.
enum Semaphore : unsigned short { mutex = 0, request = 1, reply = 2 };
inline constexpr int semaphore_count = 3;
inline constexpr std::array<std::string_view, semaphore_count> semaphore_suffixes = {
    "mutex", "request", "reply"};

// A record: header line, newline, message, newline. No header is longer
// than this ("request " + two numbers).
inline constexpr std::size_t max_header_bytes = 64;
inline constexpr std::size_t max_record_bytes = max_header_bytes + 1 + lab::max_message_bytes + 1;

struct Record {
    std::string kind; // "request" or "reply"
    long pid = 0;
    long sequence = 0;
    std::string message;
};

std::string format_record(std::string_view kind, long pid, long sequence, std::string_view message);
// The record in `text`, or nothing with `why` saying what is wrong with it.
std::optional<Record> parse_record(std::string_view text, std::string& why);
// The request in `text` (what the server read from NAME.txt), or nothing
// with `why` saying why it is none: too long, malformed, or not a request.
std::optional<Record> parse_request(std::string_view text, std::string& why);

// ---- the shared files --------------------------------------------------

// A file the server makes (O_EXCL, 0600) and removes when it goes. A file
// of that name left by a killed server is removed first.
class ServerFile {
  public:
    ServerFile(std::string path, std::string_view contents);
    ~ServerFile(); // unlinks the file (through owned_)
    ServerFile(const ServerFile&) = delete;
    ServerFile& operator=(const ServerFile&) = delete;

    int fd() const { return fd_.get(); }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
    lab::Fd fd_;
    lab::OwnedPath owned_; // unlinks the file, on every way out of the constructor too
};

// Says "not running" (exit 1) unless a live server of TOPIC and NAME holds
// its instance lock: a killed server's leftovers answer nobody.
void require_server(std::string_view topic, const std::string& name);

// Opens one of the server's files read-write, or says the server is gone.
lab::Fd open_server_file(std::string_view topic, const std::string& name,
                         std::string_view extension);

// The whole file, up to `limit` + 1 bytes (one more tells "too long").
std::string read_file(int fd, const std::string& path, std::size_t limit = max_record_bytes);
// Replaces the file's contents: write from offset 0, then cut what is left.
void replace_file(int fd, const std::string& path, std::string_view contents);

// NAME.count: the server writes "0\n", each client the number plus one.
// The number at the start of the file; what a torn unlocked write
// (--no-lock) may leave behind it is ignored.
long read_counter(int fd, const std::string& path);

// The servers' work on one request, the same in server and posix-server:
// the request in NAME.txt logged, and the reply written in its place. False,
// and a line `ignored: WHY`, when the file holds no request.
bool answer_request(const ServerFile& exchange);

// ---- the clients' command line -----------------------------------------

struct ClientSettings {
    std::string name;
    double timeout_seconds = lab::default_timeout_seconds;
    long increment_count = 0; // --increment COUNT; 0 = exchange messages
    bool no_lock = false;
    std::vector<std::string> messages;
};

// client and posix-client take the same options (the contract's, plus
// --increment COUNT [--no-lock]).
ClientSettings parse_client_options(int argc, char** argv);

// ---- POSIX: the named semaphores -------------------------------------

// One named semaphore, as sem_open() gave it (each program makes its own
// call: the server creates, a client opens). sem_close()d when this goes,
// and its name sem_unlink()ed after that by the lab::OwnedName the server
// gives it (a client gives none).
class NamedSemaphore {
  public:
    explicit NamedSemaphore(sem_t* sem, lab::OwnedName owned_name = {})
        : sem_(sem), owned_name_(std::move(owned_name)) {}
    ~NamedSemaphore() { ::sem_close(sem_); }
    NamedSemaphore(const NamedSemaphore&) = delete;
    NamedSemaphore& operator=(const NamedSemaphore&) = delete;

    sem_t* get() const { return sem_; }

  private:
    sem_t* sem_;
    lab::OwnedName owned_name_; // goes after the body's sem_close()
};

// The three, by role; each program fills it with its own sem_open() calls.
struct PosixSemaphores {
    NamedSemaphore mutex, request, reply;
};

// ---- POSIX only: who holds the mutex -----------------------------------
//
// A POSIX named semaphore has no SEM_UNDO: a client killed while holding the
// mutex leaves it taken. So the holder writes who it is into NAME.owner right
// after taking the mutex and nobody (pid 0) just before posting it; the
// server repairs the mutex when the process there is dead (posix-server.cpp).
// Who it is: the pid and the process's start time, since a pid alone may
// have been handed to a new process by the time the server looks.

inline constexpr std::size_t owner_record_bytes = 32; // "%10d %20llu\n": one fixed-size pwrite
void write_owner(int fd, const lab::ProcessIdentity& holder);
lab::ProcessIdentity read_owner(int fd);

} // namespace semaphore_lab
