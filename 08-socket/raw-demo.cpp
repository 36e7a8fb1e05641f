// 08-socket/raw-demo.cpp - ping by hand: ICMP echo requests on a raw socket.
//
//   raw-demo [--count N] [--timeout SECONDS] ADDRESS
//
// 1. socket(AF_INET, SOCK_RAW, IPPROTO_ICMP): a socket below TCP and UDP,
//    where the program writes the ICMP message itself and reads whole IP
//    packets. It needs CAP_NET_RAW (root): whoever has one can forge any
//    packet. Without it socket() fails with EPERM, and the one line says so
//    and names the unprivileged way to ping: SOCK_DGRAM with IPPROTO_ICMP.
// 2. For each sequence number 1..N: build the echo request (type 8, code 0,
//    identifier, sequence, payload) and its Internet checksum (RFC 1071) by
//    hand, and sendto() ADDRESS. The kernel adds the IP header (IP_HDRINCL
//    is off).
// 3. recvfrom() until the reply comes, each wait a poll() bounded by
//    --timeout. A raw ICMP socket gets a copy of every ICMP packet the host
//    receives: other programs' pings, and on loopback our own request. Only
//    an echo reply (type 0) from ADDRESS with our identifier and this
//    sequence number, its checksum right, is the answer; the rest is skipped.
// 4. Print the reply and its round-trip time; at the end, the count.
// 5. close() (in lab::Fd).
#include "lab.hpp"

#include <arpa/inet.h>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/socket.h>

namespace {

constexpr std::size_t payload_bytes = 56; // as ping(8): 64 bytes of ICMP in all
constexpr std::size_t echo_bytes = sizeof(icmphdr) + payload_bytes;

using Clock = std::chrono::steady_clock;

// An ICMP echo message as it goes on the wire: the 8-byte header, then the payload.
struct EchoMessage {
    icmphdr header{};
    std::array<char, payload_bytes> payload{};
};
static_assert(sizeof(EchoMessage) == echo_bytes);

// What a reply told us, for the line we print.
struct Reply {
    std::size_t icmp_bytes = 0;
    int ttl = 0;
};

// Below run(): the parts of steps 1 to 3.
in_addr parse_address(const std::string& text);
lab::Fd open_raw_icmp_socket();
std::uint16_t internet_checksum(const void* data, std::size_t length);
EchoMessage echo_request_message(std::uint16_t identifier, std::uint16_t sequence);
void send_echo(const lab::Fd& raw, const sockaddr_in& to, const EchoMessage& request);
bool wait_for_reply(const lab::Fd& raw, const sockaddr_in& from, std::uint16_t identifier,
                    std::uint16_t sequence, const lab::Deadline& deadline, Reply& reply);

int run(int argc, char** argv) {
    long count = 3;
    double timeout_seconds = lab::default_timeout_seconds;
    lab::Options options(
        "[--count N] [--timeout SECONDS] ADDRESS",
        "Sends N ICMP echo requests to the IPv4 ADDRESS on a raw socket and prints\n"
        "each echo reply with its round-trip time. Needs CAP_NET_RAW (root).");
    options.value(
        "--count", "N", "echo requests to send, 1-1000 (default 3)",
        [&](const std::string& text) { count = lab::parse_integer("--count", text, 1, 1000); });
    options.add_timeout(timeout_seconds);
    std::vector<std::string> operands = options.parse(argc, argv);
    if (operands.size() != 1) {
        throw lab::UsageError(operands.empty() ? "no ADDRESS given (try --help)"
                                               : "one ADDRESS only (try --help)");
    }
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_addr = parse_address(operands[0]);
    const std::string& address = operands[0];

    lab::Fd raw = open_raw_icmp_socket(); // 1.

    // The identifier tells our replies from other pings' (ping(8) uses its pid too).
    auto identifier = static_cast<std::uint16_t>(::getpid() & 0xffff);
    std::printf("echo requests to %s: id=%u, %zu bytes of ICMP each\n", address.c_str(), identifier,
                echo_bytes);
    std::fflush(stdout);
    long received = 0;
    for (long n = 1; n <= count; ++n) {
        auto sequence = static_cast<std::uint16_t>(n);
        EchoMessage request = echo_request_message(identifier, sequence); // 2.
        lab::Deadline deadline(timeout_seconds);
        Clock::time_point sent_at = Clock::now();
        send_echo(raw, peer, request);
        Reply reply;
        if (!wait_for_reply(raw, peer, identifier, sequence, deadline, reply)) { // 3.
            std::printf("%ld sent, %ld received\n", n, received);
            std::fflush(stdout);
            throw lab::timed_out(timeout_seconds,
                                 "the echo reply seq=" + std::to_string(n) + " from " + address);
        }
        // 4. The round trip, in milliseconds with microseconds shown.
        double milliseconds =
            std::chrono::duration<double, std::milli>(Clock::now() - sent_at).count();
        ++received;
        std::printf("reply from %s: id=%u seq=%u ttl=%d bytes=%zu time=%.3f ms\n", address.c_str(),
                    identifier, sequence, reply.ttl, reply.icmp_bytes, milliseconds);
        std::fflush(stdout);
    }
    std::printf("%ld sent, %ld received\n", count, received);
    return lab::exit_ok; // 5. raw closes the socket
}

// A dotted IPv4 address ("10.250.1.1"); no host names: no resolver here.
in_addr parse_address(const std::string& text) {
    in_addr address{};
    if (::inet_pton(AF_INET, text.c_str(), &address) != 1) {
        throw lab::UsageError("bad address '" + text + "' (an IPv4 address like 127.0.0.1)");
    }
    return address;
}

// The groups /proc/sys/net/ipv4/ping_group_range lets ping without privilege,
// as the file says it ("1 0": nobody, the kernel's default). maybe_unused:
// in the handout, until task 14 is written.
[[maybe_unused]] std::string ping_group_range() {
    std::ifstream file("/proc/sys/net/ipv4/ping_group_range");
    std::string low;
    std::string high;
    if (!(file >> low >> high)) {
        return "?";
    }
    return low + " " + high;
}

// TASK 14 (step 1): open a raw ICMP socket
//   `socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP)` gives a socket
//   that sends the ICMP messages we build and receives whole IP packets.
//   Return it as a `lab::Fd`. It needs CAP_NET_RAW: on `EPERM` (or `EACCES`)
//   `throw lab::Failure(...)` with one line that names CAP_NET_RAW and the
//   unprivileged alternative, `socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)`
//   for the groups in /proc/sys/net/ipv4/ping_group_range (ping_group_range()
//   reads it); any other error: `lab::sys_error("socket")`.
//   man 7 raw, man 7 icmp, man 7 capabilities
//   check: `./raw-demo --count 1 127.0.0.1` as root prints one reply
//   stub: lab::Fd open_raw_icmp_socket() {
//   stub:     return lab::not_written_yet<lab::Fd>(1, 14, "open a raw ICMP socket");
//   stub: }
lab::Fd open_raw_icmp_socket() {
    lab::Fd raw(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP));
    if (!raw) {
        if (errno == EPERM || errno == EACCES) {
            throw lab::Failure(
                "socket(AF_INET, SOCK_RAW, IPPROTO_ICMP): " + std::string(std::strerror(errno)) +
                ": a raw socket needs CAP_NET_RAW; without it use "
                "socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP), allowed to the groups "
                "in /proc/sys/net/ipv4/ping_group_range (here: " +
                ping_group_range() + ")");
        }
        throw lab::sys_error("socket");
    }
    return raw;
}
// END TASK 14

// TASK 15 (step 2): build the echo request and its Internet checksum
//   `internet_checksum(data, length)` (RFC 1071): add the data up as 16-bit
//   words in network byte order (an odd last byte is the high half of a
//   word), fold the carries back in (`sum = (sum & 0xffff) + (sum >> 16)`
//   until none is left), and return the one's complement in network byte
//   order. `echo_request_message`: type `ICMP_ECHO` (8), code 0, `un.echo.id`
//   and `un.echo.sequence` with `htons`, any payload, the checksum computed
//   over the whole message while its own field is 0. `send_echo`:
//   `sendto(raw, &request, sizeof request, 0, &to, sizeof to)`, again on
//   `EINTR`; else `lab::sys_error("sendto")`.
//   man 7 icmp, man 2 sendto, RFC 792 (echo), RFC 1071 (checksum)
//   check: `sudo tcpdump -i lo -vv icmp` shows the requests with a correct checksum
//   stub: std::uint16_t internet_checksum(const void* /*data*/, std::size_t /*length*/) {
//   stub:     return lab::not_written_yet<std::uint16_t>(
//   stub:         2, 15, "build the echo request and its Internet checksum");
//   stub: }
//   stub:
//   stub: EchoMessage echo_request_message(std::uint16_t /*identifier*/,
//   stub:                                  std::uint16_t /*sequence*/) {
//   stub:     return lab::not_written_yet<EchoMessage>(
//   stub:         2, 15, "build the echo request and its Internet checksum");
//   stub: }
//   stub:
//   stub: void send_echo(const lab::Fd& /*raw*/, const sockaddr_in& /*to*/,
//   stub:                const EchoMessage& /*request*/) {
//   stub:     lab::not_written_yet(2, 15, "build the echo request and its Internet checksum");
//   stub: }
std::uint16_t internet_checksum(const void* data, std::size_t length) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i + 1 < length; i += 2) {
        sum += static_cast<std::uint32_t>(bytes[i] << 8 | bytes[i + 1]);
    }
    if (length % 2 != 0) {
        sum += static_cast<std::uint32_t>(bytes[length - 1] << 8);
    }
    while (sum >> 16 != 0) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return htons(static_cast<std::uint16_t>(~sum & 0xffff));
}

EchoMessage echo_request_message(std::uint16_t identifier, std::uint16_t sequence) {
    EchoMessage request;
    request.header.type = ICMP_ECHO; // 8
    request.header.code = 0;
    request.header.un.echo.id = htons(identifier);
    request.header.un.echo.sequence = htons(sequence);
    std::snprintf(request.payload.data(), request.payload.size(), "ipc-lab raw-demo seq=%u",
                  sequence);
    request.header.checksum = 0; // the sum covers the whole message, this field as 0
    request.header.checksum = internet_checksum(&request, sizeof request);
    return request;
}

void send_echo(const lab::Fd& raw, const sockaddr_in& to, const EchoMessage& request) {
    while (::sendto(raw.get(), &request, sizeof request, 0, reinterpret_cast<const sockaddr*>(&to),
                    sizeof to) < 0) {
        if (errno != EINTR) {
            throw lab::sys_error("sendto");
        }
    }
}
// END TASK 15

// Waits, until the deadline, for the echo reply of `sequence` from `from`;
// false when the deadline passes first. Skips every other packet.
bool wait_for_reply(const lab::Fd& raw, const sockaddr_in& from, std::uint16_t identifier,
                    std::uint16_t sequence, const lab::Deadline& deadline, Reply& reply) {
    std::array<unsigned char, 65536> packet; // the largest IP packet
    while (!deadline.expired()) {
        pollfd ready{raw.get(), POLLIN, 0};
        int events = ::poll(&ready, 1, deadline.milliseconds_left());
        if (events < 0 && errno != EINTR) {
            throw lab::sys_error("poll");
        }
        if (events <= 0) {
            continue; // EINTR, or the deadline: the loop's test decides
        }
        sockaddr_in sender{};
        socklen_t sender_length = sizeof sender;
        ssize_t got = ::recvfrom(raw.get(), packet.data(), packet.size(), 0,
                                 reinterpret_cast<sockaddr*>(&sender), &sender_length);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw lab::sys_error("recvfrom");
        }
        // A raw socket reads the IP header too: its length is IHL 32-bit words.
        auto length = static_cast<std::size_t>(got);
        if (length < sizeof(iphdr)) {
            continue;
        }
        iphdr ip{};
        std::memcpy(&ip, packet.data(), sizeof ip);
        std::size_t header_bytes = std::size_t{ip.ihl} * 4;
        if (header_bytes < sizeof ip || length < header_bytes + sizeof(icmphdr)) {
            continue;
        }
        icmphdr icmp{};
        std::memcpy(&icmp, packet.data() + header_bytes, sizeof icmp);
        std::size_t icmp_bytes = length - header_bytes;
        // Ours, and this one: not our own request looping back on lo (type 8),
        // not another program's ping, not a late reply to an earlier sequence.
        if (sender.sin_addr.s_addr != from.sin_addr.s_addr || icmp.type != ICMP_ECHOREPLY ||
            icmp.code != 0 || ntohs(icmp.un.echo.id) != identifier ||
            ntohs(icmp.un.echo.sequence) != sequence ||
            internet_checksum(packet.data() + header_bytes, icmp_bytes) != 0) {
            continue; // a checksum over a message that includes its own sums to 0
        }
        reply.icmp_bytes = icmp_bytes;
        reply.ttl = ip.ttl;
        return true;
    }
    return false;
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
