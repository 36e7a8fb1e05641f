// server-udp.hpp - the UDP server's exchange (server-udp.cpp): one
// datagram of lines in, one datagram of reply lines out, sent back from the
// address the request was sent to.
#pragma once

#include "server-connection.hpp"

namespace socket_lab {

// setsockopt(IP_PKTINFO, or IPV6_RECVPKTINFO for an AF_INET6 socket): every
// datagram received on `server_socket` comes with the local address it was sent to.
// Call it before bind(), so that no request arrives without one.
void ask_for_destination_addresses(const lab::Fd& server_socket, int family);

// Answers every datagram that arrives on `server_socket` (a bound, non-blocking UDP
// socket after ask_for_destination_addresses()) until a stop signal.
// `own_port`: the port it is bound to (datagrams "from" it are forged).
void serve_datagrams(const lab::Fd& server_socket, int own_port, const lab::StopSignals& stop);

} // namespace socket_lab
