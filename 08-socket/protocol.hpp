// protocol.hpp - what the 08-socket programs agree on.
//
// Three transports, one exchange:
//   Unix stream   RUNTIME/socket/NAME.sock (the default; --name NAME)
//   TCP           --tcp [HOST:]PORT, HOST 127.0.0.1 unless given
//   UDP           --udp [HOST:]PORT
// On a stream the frame is the newline: a client writes `MESSAGE\n`, the
// server writes `REPLY\n`, as many as it likes on one connection. On UDP a
// datagram is the frame: one datagram of lines in, one datagram of reply
// lines back (a trailing newline, as socat sends, is returned as sent).
#pragma once

#include "lab.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <sys/un.h>

namespace socket_lab {

inline constexpr std::string_view topic = "socket";
inline constexpr std::string_view socket_extension = "sock";

// What a client gets for a line over lab::max_message_bytes. A stream server
// then closes the connection: it can no longer tell where the next line starts.
inline constexpr std::string_view too_long_reply = "error: message too long";

// The largest UDP payload over IPv4 is 65507 bytes: a buffer this size never
// truncates a datagram.
inline constexpr std::size_t max_datagram_bytes = std::size_t{64} * 1024;

enum class Transport { unix_stream, tcp, udp };

// A numeric IPv4 or IPv6 address and port, in the form bind() and connect() take.
struct InetAddress {
    sockaddr_storage storage{};
    socklen_t length = 0;
    std::string text; // "127.0.0.1:5000" or "[::1]:5000", for messages
    int family() const { return storage.ss_family; }
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// A path in a sockaddr_un: the whole path and its NUL, never a truncated one.
struct UnixAddress {
    sockaddr_un storage{};
    socklen_t length = 0;
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// Where the server listens and the client connects: --name, --tcp or --udp.
struct Endpoint {
    Transport transport = Transport::unix_stream;
    std::string name = lab::default_name;
    InetAddress inet;
    int choices = 0; // how many of --name, --tcp, --udp were given
    bool is_stream() const { return transport != Transport::udp; }
};

// Adds --name, --tcp and --udp to `options`. Port 0 ("any free port") is for
// the server only; a client must name the port it connects to.
void add_endpoint_options(lab::Options& options, Endpoint& endpoint, bool server_side);

// After Options::parse(): --name, --tcp and --udp are alternatives (exit 2).
void check_endpoint(const Endpoint& endpoint);

// "[HOST:]PORT" with a numeric HOST ("127.0.0.1", "[::1]"); UsageError otherwise.
InetAddress parse_inet_address(const std::string& option, const std::string& text,
                               bool port_zero_allowed);

// RUNTIME/socket/NAME.sock (the directories made and checked).
std::string socket_path(const std::string& name);

// lab::Failure "too long" when `path` does not fit sun_path: bind() and
// connect() would otherwise use a silently different, shorter name.
UnixAddress unix_address(const std::string& path);

// Strips one trailing '\n' from `text`; true when there was one.
bool strip_newline(std::string& text);

} // namespace socket_lab
