// server-event-loop.hpp - the stream server's exchange (server-event-loop.cpp and
// server-connection.cpp).
#pragma once

#include "server-connection.hpp"

namespace socket_lab {

// Serves every connection that arrives on `listener` (a listening, non-blocking
// stream socket) in one poll() loop, until a stop signal. `peer_credentials`:
// log each client's pid and uid (SO_PEERCRED, Unix sockets only).
void serve_stream(const lab::Fd& listener, bool peer_credentials, const lab::StopSignals& stop);

} // namespace socket_lab
