// contract.hpp - the contract's words, spelled once for every chapter: the
// mode of everything a program makes, how a time and a System V key read in
// a message, and the failures a user is promised (`not running`,
// `timed out`). A reader who met them in one chapter knows them in the next.
#pragma once

#include "errors.hpp"

#include <string>
#include <string_view>
#include <sys/types.h>

namespace lab {

// Every file, FIFO, socket and IPC object a program makes: the owner alone
// reads and writes (no group, no others: another user gets nothing).
inline constexpr mode_t owner_only = 0600;

// "5 s", "0.3 s": a --timeout or a pause as messages print it.
std::string seconds_text(double seconds);

// "0x0000abcd": a System V key as ipcs(1) prints it.
std::string key_text(key_t key);

// "server NAME not running (WHY)", exit 1: the server is not there, and the
// client can tell at once. WHY says how it knows ("no /run/x/demo.fifo");
// without one, just "server NAME not running".
Failure not_running(std::string_view name, std::string_view why = {});

// "timed out after 5 s waiting for WHAT", exit 1: --timeout ran out.
Failure timed_out(double seconds, std::string_view waiting_for);

} // namespace lab
