// protocol.cpp - addresses and options shared by the 08-socket programs.
#include "protocol.hpp"

#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>

namespace socket_lab {

namespace {
constexpr const char* default_host = "127.0.0.1";
constexpr long max_port = 65535;

[[noreturn]] void bad_address(const std::string& option, const std::string& text) {
    throw lab::UsageError("bad address '" + text + "' for " + option +
                          ": want [HOST:]PORT with a numeric HOST (127.0.0.1, [::1])");
}
} // namespace

InetAddress parse_inet_address(const std::string& option, const std::string& text,
                               bool port_zero_allowed) {
    std::string host = default_host;
    std::string port_text = text;
    if (auto colon = text.rfind(':'); colon != std::string::npos) {
        host = colon == 0 ? default_host : text.substr(0, colon); // ":PORT" as well as "PORT"
        port_text = text.substr(colon + 1);
        // An IPv6 address has colons of its own: it must come in brackets.
        if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
            host = host.substr(1, host.size() - 2);
        } else if (host.find(':') != std::string::npos) {
            bad_address(option, text);
        }
    }
    long port = lab::parse_integer(option, port_text, port_zero_allowed ? 0 : 1, max_port);

    InetAddress address;
    // htons(): the port travels in network byte order (big-endian), whatever the CPU's order.
    if (auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage);
        ::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<uint16_t>(port));
        address.length = sizeof(sockaddr_in);
        address.text = host + ":" + std::to_string(port);
    } else if (auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
               ::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<uint16_t>(port));
        address.length = sizeof(sockaddr_in6);
        address.text = "[" + host + "]:" + std::to_string(port);
    } else {
        bad_address(option, text);
    }
    return address;
}

void add_endpoint_options(lab::Options& options, Endpoint& endpoint, bool server_side) {
    options.value("--name", "NAME", "Unix socket RUNTIME/socket/NAME.sock (default demo)",
                  [&endpoint](const std::string& text) {
                      lab::validate_name(text);
                      endpoint.transport = Transport::unix_stream;
                      endpoint.name = text;
                      ++endpoint.choices;
                  });
    auto add_inet = [&options, &endpoint, server_side](const std::string& option,
                                                       Transport transport, const char* label) {
        options.value(option, server_side ? "[HOST:]PORT" : "HOST:PORT",
                      std::string(label) + " instead, HOST default 127.0.0.1" +
                          (server_side ? "; PORT 0: any free port" : ""),
                      [&endpoint, option, transport, server_side](const std::string& text) {
                          endpoint.inet = parse_inet_address(option, text, server_side);
                          endpoint.transport = transport;
                          ++endpoint.choices;
                      });
    };
    add_inet("--tcp", Transport::tcp, "TCP");
    add_inet("--udp", Transport::udp, "UDP");
}

void check_endpoint(const Endpoint& endpoint) {
    if (endpoint.choices > 1) {
        throw lab::UsageError("--name, --tcp and --udp are alternatives: give one of them, once");
    }
}

std::string socket_path(const std::string& name) {
    return lab::object_path(topic, name, socket_extension);
}

UnixAddress unix_address(const std::string& path) {
    UnixAddress address;
    address.storage.sun_family = AF_UNIX;
    // sun_path is a fixed array (108 bytes on Linux) holding the path and its NUL.
    if (path.size() >= sizeof address.storage.sun_path) {
        throw lab::Failure("socket path " + path + " is too long (" + std::to_string(path.size()) +
                           " bytes; sun_path holds at most " +
                           std::to_string(sizeof address.storage.sun_path - 1) +
                           "); choose a shorter IPC_LAB_DIR or NAME");
    }
    std::memcpy(address.storage.sun_path, path.c_str(), path.size() + 1);
    address.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    return address;
}

bool strip_newline(std::string& text) {
    if (text.empty() || text.back() != '\n') {
        return false;
    }
    text.pop_back();
    return true;
}

} // namespace socket_lab
