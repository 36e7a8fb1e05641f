// fd_links.hpp - Links over file descriptors, for pipes.cpp and sockets.cpp.
//
// Each message costs two system calls and two copies (user to kernel on
// write, kernel to user on read), and a wake-up of the reader when it was
// asleep. What differs is the kernel path between: a pipe's ring of pages,
// a socket's queue of buffers, or the whole TCP/IP stack through loopback.
#pragma once

#include "harness.hpp"

#include <cstddef>
#include <memory>
#include <span>

namespace bench {

// A byte stream (pipe, FIFO, Unix stream socket, TCP) keeps no message
// boundaries: write() all of a message, read() until all of it has arrived
// (one read may return part of it).
class StreamLink : public Link {
  public:
    StreamLink(int out_fd, int in_fd, std::size_t message_bytes);
    void send(std::span<const std::byte> message) override;
    std::span<const std::byte> receive() override;

  protected:
    int out_fd_;
    int in_fd_;
    PageAlignedWords buffer_;
};

// A datagram socket (Unix datagram, UDP) keeps boundaries: one send() is one
// message, one recv() takes it whole. With a window (UDP throughput), the
// receiver acknowledges every `ack_every` datagrams and the sender keeps at
// most twice that many unacknowledged: UDP drops what does not fit in the
// receive buffer, and a benchmark that let it would time datagrams that
// never arrive (the receiver's sequence check would then fail the run).
class DatagramLink : public Link {
  public:
    DatagramLink(int fd, std::size_t message_bytes, std::size_t ack_every);
    void send(std::span<const std::byte> message) override;
    std::span<const std::byte> receive() override;
    void release() override;

  private:
    void wait_for_ack() const;

    int fd_;
    PageAlignedWords buffer_;
    std::size_t ack_every_;
    std::size_t unacknowledged_ = 0;
    std::size_t received_ = 0;
};

// A Pair that gives each side its descriptors: the one it writes to and the
// one it reads from (the same one, for a socket). The coordinator made them;
// the sides inherited them through fork().
class FdPair : public LinkPair {
  protected:
    std::unique_ptr<Link> open(Side& side) override;

    int a_out_ = -1;
    int a_in_ = -1;
    int b_out_ = -1;
    int b_in_ = -1;
    bool datagrams_ = false;
    std::size_t ack_every_ = 0; // 0: no window
};

} // namespace bench
