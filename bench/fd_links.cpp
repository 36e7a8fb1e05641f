#include "fd_links.hpp"

#include "errors.hpp"
#include "io.hpp"

#include <algorithm>
#include <cerrno>
#include <sys/socket.h>

namespace bench {

StreamLink::StreamLink(int out_fd, int in_fd, std::size_t message_bytes)
    : out_fd_(out_fd), in_fd_(in_fd), buffer_(message_bytes / sizeof(std::uint64_t)) {}

void StreamLink::send(std::span<const std::byte> message) {
    lab::write_all(out_fd_, {reinterpret_cast<const char*>(message.data()), message.size()});
}

std::span<const std::byte> StreamLink::receive() {
    std::span<std::byte> bytes = buffer_.bytes();
    std::size_t got = lab::read_full(in_fd_, {reinterpret_cast<char*>(bytes.data()), bytes.size()});
    if (got != bytes.size()) {
        throw lab::Failure("end of file after " + std::to_string(got) +
                           " bytes of a message: the other side is gone");
    }
    return bytes;
}

DatagramLink::DatagramLink(int fd, std::size_t message_bytes, std::size_t ack_every)
    : fd_(fd), buffer_(message_bytes / sizeof(std::uint64_t)), ack_every_(ack_every) {}

void DatagramLink::send(std::span<const std::byte> message) {
    ssize_t sent = 0;
    do {
        sent = ::send(fd_, message.data(), message.size(), 0);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) {
        throw lab::sys_error("send");
    }
    if (static_cast<std::size_t>(sent) != message.size()) {
        throw lab::Failure("send: datagram cut to " + std::to_string(sent) + " bytes");
    }
    if (ack_every_ > 0 && ++unacknowledged_ == 2 * ack_every_) {
        wait_for_ack();
        unacknowledged_ -= ack_every_;
    }
}

std::span<const std::byte> DatagramLink::receive() {
    // MSG_TRUNC: recv() returns the datagram's real length, so one longer
    // than the buffer shows as a mismatch instead of passing cut short.
    ssize_t got = 0;
    do {
        got = ::recv(fd_, buffer_.data(), buffer_.bytes().size(), MSG_TRUNC);
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
        throw lab::sys_error("recv");
    }
    return buffer_.bytes().first(std::min(static_cast<std::size_t>(got), buffer_.bytes().size()));
}

void DatagramLink::release() {
    if (ack_every_ > 0 && ++received_ % ack_every_ == 0) {
        std::uint64_t ack = received_;
        if (::send(fd_, &ack, sizeof ack, 0) != sizeof ack) {
            throw lab::sys_error("send (acknowledgement)");
        }
    }
}

void DatagramLink::wait_for_ack() const {
    std::uint64_t ack = 0;
    ssize_t got = 0;
    do {
        got = ::recv(fd_, &ack, sizeof ack, 0);
    } while (got < 0 && errno == EINTR);
    if (got != sizeof ack) {
        throw lab::sys_error("recv (acknowledgement)");
    }
}

std::unique_ptr<Link> FdPair::open(Side& side) {
    bool is_a = side.role() == Role::a;
    int out_fd = is_a ? a_out_ : b_out_;
    int in_fd = is_a ? a_in_ : b_in_;
    if (datagrams_) {
        return std::make_unique<DatagramLink>(out_fd, side.job().message_bytes, ack_every_);
    }
    return std::make_unique<StreamLink>(out_fd, in_fd, side.job().message_bytes);
}

} // namespace bench
