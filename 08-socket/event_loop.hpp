// event_loop.hpp - the server's side of the exchange (event_loop.cpp).
#pragma once

#include "protocol.hpp"

#include <string>
#include <string_view>

namespace socket_lab {

// Serves every connection that arrives on `listener` (a listening, non-blocking
// stream socket) in one poll() loop, until a stop signal. `peer_credentials`:
// log each client's pid and uid (SO_PEERCRED, Unix sockets only).
void serve_stream(const lab::Fd& listener, bool peer_credentials, const lab::StopSignals& stop);

// One message's reply, with `received: MESSAGE PEER` logged; a line over
// lab::max_message_bytes gets too_long_reply and a `rejected:` log line.
std::string answer_line(std::string_view message, std::string_view peer);

} // namespace socket_lab
