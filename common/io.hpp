// io.hpp - reading and writing all of it: partial transfers and EINTR handled.
//
// read() and write() may move fewer bytes than asked (pipes, sockets,
// signals) and may fail with EINTR when a signal handler ran; these loops
// retry until done. They throw std::system_error on any other error.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <sys/types.h>

namespace lab {

// Writes every byte of `data` (retrying partial writes and EINTR).
void write_all(int fd, std::string_view data, const char* what = "write");

// One read() retried on EINTR: the bytes read, 0 at end of file.
std::size_t read_some(int fd, std::span<char> buffer, const char* what = "read");

// Reads until `buffer` is full or end of file: the bytes read.
std::size_t read_full(int fd, std::span<char> buffer, const char* what = "read");

} // namespace lab
