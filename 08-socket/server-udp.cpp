// server-udp.cpp - the UDP server's exchange (server-udp.hpp).
//
// Why the reply names its source address: a server bound to a wildcard
// (0.0.0.0, [::]) receives datagrams sent to any local address, but sendto()
// lets the kernel pick the reply's source from the route: 127.0.0.1 for a
// request sent to 127.0.0.2. A connected UDP socket (our client's, socat's)
// takes datagrams only from the address it connect()ed to and silently drops
// such a reply, so its owner times out. So the server asks for each
// datagram's destination address (IP_PKTINFO; IPV6_RECVPKTINFO, which also
// covers IPv4 datagrams on a dual-stack [::] socket), reads it from
// recvmsg()'s control message, and sends the reply from it with sendmsg().
//
// Why some datagrams get no reply at all: UDP's source address is whatever
// the sender wrote, and a reply goes wherever it says. A datagram forged with
// our own address and port as its source makes us answer ourselves; the
// answer is again a datagram from our own address, and so on forever. Port 0
// cannot be a sender's port either. Such datagrams are dropped
// (sender_to_refuse()) and logged once per episode, not once each.
#include "server-udp.hpp"

#include <arpa/inet.h>
#include <array>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <span>
#include <vector>

namespace socket_lab {

namespace {

// A datagram of lines gets a datagram of reply lines; a trailing newline
// (socat sends one per line typed) ends the last message and is sent back.
std::string answer_datagram(std::string datagram) {
    bool had_newline = strip_newline(datagram);
    std::string reply;
    std::string_view rest = datagram;
    for (;;) {
        std::size_t end = rest.find('\n');
        reply += answer_line(rest.substr(0, end), "");
        if (end == std::string_view::npos) {
            break;
        }
        reply += '\n';
        rest.remove_prefix(end + 1);
    }
    return had_newline ? reply + '\n' : reply;
}

// What recvmsg() fills and sendmsg() sends: the peer's address, the data, and
// room for one IP_PKTINFO or IPV6_PKTINFO control message (in6_pktinfo is the
// larger), aligned as a cmsghdr must be.
struct Datagram {
    sockaddr_storage peer{};
    iovec data{};
    msghdr header{};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))]{};

    explicit Datagram(std::span<char> bytes) : data{bytes.data(), bytes.size()} {
        header.msg_name = &peer;
        header.msg_namelen = sizeof peer;
        header.msg_iov = &data;
        header.msg_iovlen = 1;
        header.msg_control = control;
        header.msg_controllen = sizeof control;
    }
    Datagram(const Datagram&) = delete; // header points into itself
    Datagram& operator=(const Datagram&) = delete;

    // Makes `info` the one control message to send.
    template <typename PacketInfo>
    void set_control(int level, int type, const PacketInfo& info) {
        header.msg_controllen = sizeof control; // CMSG_FIRSTHDR needs room for a cmsghdr
        cmsghdr* message = CMSG_FIRSTHDR(&header);
        message->cmsg_level = level;
        message->cmsg_type = type;
        message->cmsg_len = CMSG_LEN(sizeof info);
        std::memcpy(CMSG_DATA(message), &info, sizeof info);
        header.msg_controllen = CMSG_SPACE(sizeof info);
    }
};

// Addresses `reply` to the sender of `request`, from the address `request`
// was sent to. The interface index stays 0: routing picks the interface, as
// for any reply. A request without the control message (none is expected)
// leaves the source to the kernel, as sendto() would.
void address_reply(Datagram& request, Datagram& reply) {
    reply.peer = request.peer;
    reply.header.msg_namelen = request.header.msg_namelen;
    reply.header.msg_controllen = 0;
    for (cmsghdr* message = CMSG_FIRSTHDR(&request.header); message != nullptr;
         message = CMSG_NXTHDR(&request.header, message)) {
        // memcpy out of CMSG_DATA: the data need not be aligned for the struct.
        if (message->cmsg_level == IPPROTO_IP && message->cmsg_type == IP_PKTINFO) {
            in_pktinfo received{};
            std::memcpy(&received, CMSG_DATA(message), sizeof received);
            // ipi_spec_dst: the local address the datagram came to (for a
            // broadcast, a unicast address of ours); ipi_addr is the header's.
            in_pktinfo source{};
            source.ipi_spec_dst = received.ipi_spec_dst;
            reply.set_control(IPPROTO_IP, IP_PKTINFO, source);
        } else if (message->cmsg_level == IPPROTO_IPV6 && message->cmsg_type == IPV6_PKTINFO) {
            in6_pktinfo received{};
            std::memcpy(&received, CMSG_DATA(message), sizeof received);
            in6_pktinfo source{};
            source.ipi6_addr = received.ipi6_addr;
            reply.set_control(IPPROTO_IPV6, IPV6_PKTINFO, source);
        }
    }
}

int port_of(const sockaddr_storage& address) {
    if (address.ss_family == AF_INET6) {
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
    }
    return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
}

// "127.0.0.1:5000", "[::1]:5000": a sender, for the log.
std::string address_text(const sockaddr_storage& address) {
    std::array<char, INET6_ADDRSTRLEN> host{};
    bool v6 = address.ss_family == AF_INET6;
    const void* binary =
        v6 ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(&address)->sin6_addr)
           : &reinterpret_cast<const sockaddr_in*>(&address)->sin_addr;
    if (::inet_ntop(address.ss_family, binary, host.data(), host.size()) == nullptr) {
        return "?";
    }
    std::string port = std::to_string(port_of(address));
    return v6 ? "[" + std::string(host.data()) + "]:" + port
              : std::string(host.data()) + ":" + port;
}

// TASK 7 (step 4): see if an address is ours with socket and bind
//   The UDP server refuses a datagram whose sender is forged as its own
//   address and port (answering it would loop forever); only the kernel
//   knows all the local addresses (every 127.x.y.z is one). Return whether
//   `address` (`length` bytes) is local: set its port to 0 (`sin6_port` for
//   `AF_INET6`, else `sin_port`), make a throwaway `lab::Fd` with
//   `socket(address.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)` and `bind()`
//   it there. Bound, or any error but `EADDRNOTAVAIL`: true (also when
//   `socket()` fails: assume it is ours). `EADDRNOTAVAIL`: false.
//   man 2 socket, man 2 bind, man 7 ip
//   stub: bool is_local_address(sockaddr_storage /*address*/, socklen_t /*length*/) {
//   stub:     return lab::not_written_yet<bool>(
//   stub:         4, 7, "see if an address is ours with socket and bind");
//   stub: }
// Is `address` one of this host's own? Only the kernel knows them all (every
// address of 127.0.0.0/8 is local, for one): bind() a throwaway socket to it,
// port 0; EADDRNOTAVAIL says it is not ours. Anything else: assume it is.
bool is_local_address(sockaddr_storage address, socklen_t length) {
    if (address.ss_family == AF_INET6) {
        reinterpret_cast<sockaddr_in6*>(&address)->sin6_port = 0;
    } else {
        reinterpret_cast<sockaddr_in*>(&address)->sin_port = 0;
    }
    lab::Fd probe(::socket(address.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!probe) {
        return true;
    }
    return ::bind(probe.get(), reinterpret_cast<const sockaddr*>(&address), length) == 0 ||
           errno != EADDRNOTAVAIL;
}
// END TASK 7

// Why `request` must not be answered (its sender is forged); "" when it may be.
// `own_port`: the port we are bound to.
std::string sender_to_refuse(const Datagram& request, int own_port) {
    int port = port_of(request.peer);
    if (port == 0) {
        return "source port 0";
    }
    // The cheap test first: only a datagram "from" our own port costs the bind() probe.
    if (port == own_port && is_local_address(request.peer, request.header.msg_namelen)) {
        return "our own address: answering would loop";
    }
    return "";
}

} // namespace

void ask_for_destination_addresses(const lab::Fd& server_socket, int family) {
    int on = 1;
    bool v6 = family == AF_INET6;
    if (::setsockopt(server_socket.get(), v6 ? IPPROTO_IPV6 : IPPROTO_IP,
                     v6 ? IPV6_RECVPKTINFO : IP_PKTINFO, &on, sizeof on) < 0) {
        throw lab::sys_error(v6 ? "setsockopt IPV6_RECVPKTINFO" : "setsockopt IP_PKTINFO");
    }
}

void serve_datagrams(const lab::Fd& server_socket, int own_port, const lab::StopSignals& stop) {
    std::vector<char> buffer(max_datagram_bytes);
    Episode refused;       // forged senders, logged once per episode
    Episode reply_dropped; // sendmsg() failures, likewise
    while (!stop.requested()) {
        std::array<pollfd, 2> fds{{{stop.fd(), POLLIN, 0}, {server_socket.get(), POLLIN, 0}}};
        if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) {
            throw lab::sys_error("poll");
        }
        if (fds[1].revents == 0) {
            continue;
        }
        Datagram request(buffer);
        // TASK 8 (step 4): receive a datagram and its sender with recvmsg
        //   `ssize_t got = recvmsg(server_socket.get(), &request.header, 0)`:
        //   `request` (a `Datagram`, above) points its `msghdr` at `buffer`
        //   for the bytes, at `request.peer` for the sender's address, and at
        //   room for the control message that says which of our addresses
        //   the datagram was sent to. -1 with `EAGAIN`, `EINTR` or
        //   `ECONNREFUSED` (an ICMP error for an earlier reply): `continue`;
        //   any other error: `throw lab::sys_error("recvmsg")`.
        //   man 2 recvmsg, man 3 cmsg, man 7 ip
        //   stub: ssize_t got = lab::not_written_yet<ssize_t>(
        //   stub:     4, 8, "receive a datagram and its sender with recvmsg");
        ssize_t got = ::recvmsg(server_socket.get(), &request.header, 0);
        if (got < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNREFUSED) {
                continue;
            }
            throw lab::sys_error("recvmsg");
        }
        // END TASK 8
        if (std::string why = sender_to_refuse(request, own_port); !why.empty()) {
            if (auto note = refused.occurred()) {
                lab::log_ignored("datagram from " + address_text(request.peer) + ": " + why +
                                 *note);
            }
            continue;
        }
        std::string answer = answer_datagram({buffer.data(), static_cast<std::size_t>(got)});
        Datagram reply(answer);
        address_reply(request, reply);
        // TASK 9 (step 4): send the reply to the sender with sendmsg
        //   `address_reply()` (above) has addressed `reply` to the sender of
        //   `request`, from the address the request came to. Send it:
        //   `ssize_t sent = sendmsg(server_socket.get(), &reply.header,
        //   MSG_DONTWAIT)`. With `MSG_DONTWAIT` a full send buffer drops this
        //   reply (UDP may lose any datagram; the client times out) instead of
        //   stalling every other client. A failure is not fatal: the code
        //   after this task warns about it.
        //   man 2 sendmsg, man 3 cmsg
        //   check: `./server --udp 0`, then `./client --udp 127.0.0.1:PORT hi` prints `HI`
        //   stub: ssize_t sent = lab::not_written_yet<ssize_t>(
        //   stub:     4, 9, "send the reply to the sender with sendmsg");
        // MSG_DONTWAIT: a full send buffer drops this reply (UDP may lose any
        // datagram; the client times out) instead of stalling every other client.
        ssize_t sent = ::sendmsg(server_socket.get(), &reply.header, MSG_DONTWAIT);
        // END TASK 9
        if (sent < 0) {
            int error = errno;
            if (auto note = reply_dropped.occurred()) {
                warn(std::string("sendmsg: ") + std::strerror(error) + "; reply dropped" + *note);
            }
        }
    }
}

} // namespace socket_lab
