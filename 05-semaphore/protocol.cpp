// protocol.cpp - what the 05-semaphore programs agree on: the record format,
// the shared files and the clients' command line. The semaphores, and the
// loops that use them, are in the four programs.
#include "protocol.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace semaphore_lab {

namespace {
// A decimal number > 0 (pid, sequence), or nothing.
std::optional<long> parse_positive(std::string_view text) {
    if (text.empty() || text.size() > 18 ||
        text.find_first_not_of("0123456789") != std::string_view::npos) {
        return std::nullopt;
    }
    long value = std::strtol(std::string(text).c_str(), nullptr, 10);
    return value > 0 ? std::optional<long>(value) : std::nullopt;
}
} // namespace

std::string format_record(std::string_view kind, long pid, long sequence,
                          std::string_view message) {
    std::string text(kind);
    text += " " + std::to_string(pid) + " " + std::to_string(sequence) + "\n";
    text += message;
    text += "\n";
    return text;
}

std::optional<Record> parse_record(std::string_view text, std::string& why) {
    auto header_end = text.find('\n');
    if (text.empty()) {
        why = "empty file";
        return std::nullopt;
    }
    if (header_end == std::string_view::npos || header_end > max_header_bytes) {
        why = "no header line";
        return std::nullopt;
    }
    std::string_view header = text.substr(0, header_end);
    std::string_view body = text.substr(header_end + 1);
    auto first_space = header.find(' ');
    auto second_space = header.find(' ', first_space + 1);
    if (first_space == std::string_view::npos || second_space == std::string_view::npos) {
        why = "bad header '" + std::string(header) + "'";
        return std::nullopt;
    }
    auto pid = parse_positive(header.substr(first_space + 1, second_space - first_space - 1));
    auto sequence = parse_positive(header.substr(second_space + 1));
    if (!pid || !sequence) {
        why = "bad header '" + std::string(header) + "'";
        return std::nullopt;
    }
    if (body.empty() || body.back() != '\n' || body.find('\n') != body.size() - 1) {
        why = "the message is not one line";
        return std::nullopt;
    }
    body.remove_suffix(1);
    if (body.size() > lab::max_message_bytes) {
        why = "message too long";
        return std::nullopt;
    }
    return Record{std::string(header.substr(0, first_space)), *pid, *sequence, std::string(body)};
}

std::optional<Record> parse_request(std::string_view text, std::string& why) {
    if (text.size() > max_record_bytes) {
        why = "request too long";
        return std::nullopt;
    }
    std::optional<Record> record = parse_record(text, why);
    if (record && record->kind != "request") {
        why = "'" + record->kind + "' record where a request should be";
        return std::nullopt;
    }
    return record;
}

ServerFile::ServerFile(std::string path, std::string_view contents) : path_(std::move(path)) {
    // We hold the instance lock, so a file already there is a killed
    // server's: remove it, then create ours with O_EXCL, never reusing
    // whatever (file, symlink) sits under the name.
    if (::unlink(path_.c_str()) < 0 && errno != ENOENT) {
        throw lab::sys_error("unlink " + path_);
    }
    fd_.reset(
        ::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, lab::owner_only));
    if (!fd_) {
        throw lab::sys_error("create " + path_);
    }
    // Ours from here: a write that fails (a full file system) removes it.
    owned_.reset(path_);
    lab::write_all(fd_.get(), contents, ("write " + path_).c_str());
}

ServerFile::~ServerFile() = default;

void require_server(std::string_view topic, const std::string& name) {
    if (!lab::server_running(topic, name)) {
        throw lab::not_running(name);
    }
}

lab::Fd open_server_file(std::string_view topic, const std::string& name,
                         std::string_view extension) {
    require_server(topic, name);
    std::string path = lab::object_path(topic, name, extension);
    lab::Fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
        if (errno == ENOENT) { // the server is starting or exiting right now
            throw lab::not_running(name, path + " is missing");
        }
        throw lab::sys_error("open " + path);
    }
    return fd;
}

std::string read_file(int fd, const std::string& path, std::size_t limit) {
    std::string text(limit + 1, '\0');
    std::size_t total = 0;
    while (total < text.size()) {
        ssize_t got =
            ::pread(fd, text.data() + total, text.size() - total, static_cast<off_t>(total));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            throw lab::sys_error("read " + path);
        }
        if (got == 0) {
            break;
        }
        total += static_cast<std::size_t>(got);
    }
    text.resize(total);
    return text;
}

void replace_file(int fd, const std::string& path, std::string_view contents) {
    std::size_t done = 0;
    while (done < contents.size()) {
        ssize_t put =
            ::pwrite(fd, contents.data() + done, contents.size() - done, static_cast<off_t>(done));
        if (put < 0 && errno == EINTR) {
            continue;
        }
        if (put < 0) {
            throw lab::sys_error("write " + path);
        }
        done += static_cast<std::size_t>(put);
    }
    // Cut after writing, not before: whoever looks next never finds the file empty.
    if (::ftruncate(fd, static_cast<off_t>(contents.size())) < 0) {
        throw lab::sys_error("ftruncate " + path);
    }
}

long read_counter(int fd, const std::string& path) {
    std::string text = read_file(fd, path, 31);
    char* end = nullptr;
    errno = 0;
    long value = std::strtol(text.c_str(), &end, 10);
    if (end == text.c_str() || errno != 0 || value < 0) {
        throw lab::Failure(path + ": not a counter: '" + text + "'");
    }
    return value;
}

bool answer_request(const ServerFile& exchange) {
    std::string why;
    std::optional<Record> incoming = parse_request(read_file(exchange.fd(), exchange.path()), why);
    if (!incoming) {
        lab::log_ignored(why);
        return false;
    }
    lab::log_received(incoming->message);
    replace_file(exchange.fd(), exchange.path(),
                 format_record("reply", incoming->pid, incoming->sequence,
                               lab::to_upper(incoming->message)));
    return true;
}

ClientSettings parse_client_options(int argc, char** argv) {
    ClientSettings settings;
    lab::Options options = lab::client_options(
        "Sends each MESSAGE (or each line of stdin) through the shared file NAME.txt,\n"
        "taking turns with other clients through the mutex semaphore, and prints each\n"
        "reply. With --increment COUNT [--no-lock] instead, adds 1 to NAME.count COUNT\n"
        "times, each under the mutex, and prints the last value written.",
        settings.name, settings.timeout_seconds);
    options.value("--increment", "COUNT", "add 1 to NAME.count COUNT times (1-1000000000)",
                  [&](const std::string& text) {
                      settings.increment_count =
                          lab::parse_integer("--increment", text, 1, 1'000'000'000);
                  });
    options.flag("--no-lock", "with --increment: skip the mutex, to see updates get lost",
                 settings.no_lock);
    settings.messages = options.parse(argc, argv);
    if (settings.no_lock && settings.increment_count == 0) {
        throw lab::UsageError("--no-lock goes with --increment COUNT");
    }
    if (settings.increment_count > 0 && !settings.messages.empty()) {
        throw lab::UsageError("unexpected argument '" + settings.messages.front() +
                              "' with --increment");
    }
    return settings;
}

void write_owner(int fd, const lab::ProcessIdentity& holder) {
    std::array<char, owner_record_bytes + 1> text{};
    int length = std::snprintf(text.data(), text.size(), "%10d %20llu\n",
                               static_cast<int>(holder.pid), holder.start_time);
    if (length != static_cast<int>(owner_record_bytes)) {
        throw lab::Failure("pid " + std::to_string(holder.pid) + " does not fit the owner file");
    }
    if (::pwrite(fd, text.data(), owner_record_bytes, 0) !=
        static_cast<ssize_t>(owner_record_bytes)) {
        throw lab::sys_error("write owner file");
    }
}

lab::ProcessIdentity read_owner(int fd) {
    std::array<char, owner_record_bytes + 1> text{};
    if (::pread(fd, text.data(), owner_record_bytes, 0) < 0) {
        throw lab::sys_error("read owner file");
    }
    char* end = nullptr;
    lab::ProcessIdentity holder;
    holder.pid = static_cast<pid_t>(std::strtol(text.data(), &end, 10));
    holder.start_time = std::strtoull(end, nullptr, 10);
    return holder;
}

} // namespace semaphore_lab
