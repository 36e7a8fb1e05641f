// 10-dbus/client.cpp - calls Upper on the service for each message.
//
//   client [--name NAME] [--timeout SECONDS] [MESSAGE...]
//
// 1. Connect to the session bus (sd_bus_open_user: $DBUS_SESSION_BUS_ADDRESS)
//    and wait, bounded by --timeout, until it has answered our Hello.
// 2. For each message: build a method call to org.ipclab.Lab.NAME, object
//    /org/ipclab/Lab, interface org.ipclab.Lab, member Upper, with one
//    string; send it and wait for the reply (sd_bus_call, bounded).
// 3. Print the reply's string.
#include "protocol.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>

namespace {

// Below: wait for the bus's answer to Hello (step 1), one Upper call (step 2).
void wait_until_connected(sd_bus* bus, double timeout_seconds);
std::string call_upper(sd_bus* bus, const std::string& name, const std::string& message,
                       double timeout_seconds);

int run(int argc, char** argv) {
    lab::ClientCommand command = lab::parse_client_options(
        argc, argv,
        "Calls org.ipclab.Lab.Upper on org.ipclab.Lab.NAME for each MESSAGE (or\n"
        "each line of stdin) and prints the replies.");
    lab::ignore_sigpipe();

    // 1. sd_bus_open_user() connects to $DBUS_SESSION_BUS_ADDRESS and sends
    // Hello; the Bus owns whatever it returned, also when it failed.
    // TASK 6 (step 1): connect to the session bus with sd_bus_open_user
    //   As the server does (its task 1): `sd_bus_open_user(&raw_bus)` into
    //   `sd_bus* raw_bus = nullptr`, held at once as `dbus_lab::Bus
    //   bus(raw_bus)`; a negative result: `throw lab::Failure("session bus
    //   not running (DBUS_SESSION_BUS_ADDRESS): " + strerror(-result))`.
    //   man 3 sd_bus_open_user
    //   check: with no server, `./client hi` says `not running` (the bus answered)
    //   stub: dbus_lab::Bus bus(lab::not_written_yet<sd_bus*>(
    //   stub:     1, 6, "connect to the session bus with sd_bus_open_user"));
    sd_bus* raw_bus = nullptr;
    int opened = sd_bus_open_user(&raw_bus);
    dbus_lab::Bus bus(raw_bus);
    if (opened < 0) {
        throw lab::Failure(std::string("session bus not running (DBUS_SESSION_BUS_ADDRESS): ") +
                           std::strerror(-opened));
    }
    // END TASK 6
    wait_until_connected(bus.get(), command.timeout_seconds);
    // 2. and 3.: one Upper call per message, its reply printed.
    lab::for_each_message(command.messages, [&](const std::string& message) {
        lab::print_line(call_upper(bus.get(), command.name, message, command.timeout_seconds));
    });
    return lab::exit_ok;
}

// TASK 7 (step 1): wait until the bus answered our Hello
//   `sd_bus_open_user()` only starts connecting; `sd_bus_call()` would wait
//   for the bus's answer to Hello with sd-bus's own long bound, so wait
//   here, within `lab::Deadline deadline(timeout_seconds)`. Loop:
//   `sd_bus_is_ready(bus)` > 0: return (each negative result of an sd-bus
//   call: `dbus_lab::check(result, "WHAT")`, which throws). Deadline
//   expired: `throw lab::timed_out(timeout_seconds, "the session bus to
//   answer our Hello")`. Else `sd_bus_process(bus, nullptr)` (check it
//   with `"connect to the session bus"`); when it did nothing (0),
//   `sd_bus_wait(bus, usec)` for at most the time left:
//   `deadline.seconds_left() * dbus_lab::usec_per_second`, plus 1.
//   man 3 sd_bus_is_ready, man 3 sd_bus_process, man 3 sd_bus_wait
//   stub: void wait_until_connected(sd_bus* /*bus*/, double /*timeout_seconds*/) {
//   stub:     lab::not_written_yet(1, 7, "wait until the bus answered our Hello");
//   stub: }
// Waits, bounded, until the bus has answered our Hello: sd_bus_call would
// otherwise wait for that with sd-bus's own, much longer, bound.
void wait_until_connected(sd_bus* bus, double timeout_seconds) {
    lab::Deadline deadline(timeout_seconds);
    for (;;) {
        int ready = sd_bus_is_ready(bus);
        dbus_lab::check(ready, "sd_bus_is_ready");
        if (ready > 0) {
            return;
        }
        if (deadline.expired()) {
            throw lab::timed_out(timeout_seconds, "the session bus to answer our Hello");
        }
        int processed = sd_bus_process(bus, nullptr);
        dbus_lab::check(processed, "connect to the session bus");
        if (processed == 0) {
            auto usec =
                static_cast<std::uint64_t>(deadline.seconds_left() * dbus_lab::usec_per_second) + 1;
            dbus_lab::check(sd_bus_wait(bus, usec), "sd_bus_wait");
        }
    }
}
// END TASK 7

// TASK 8 (step 2): call Upper with sd_bus_call
//   Build the call: `sd_bus_message_new_method_call(bus, &raw,
//   service_name, dbus_lab::object_path, dbus_lab::interface_name,
//   "Upper")` with `service_name = dbus_lab::service_name(name)`, held as
//   a `dbus_lab::Message`; `sd_bus_message_set_auto_start(call, 0)`: a
//   missing service is an error at once, never a request to start one;
//   `sd_bus_message_append(call, "s", message)`, which fails only for a
//   string that is not UTF-8: `throw lab::UsageError("message is not
//   valid UTF-8 (D-Bus strings must be)")`. Send it and wait for the
//   reply: `sd_bus_call(bus, call, timeout_usec, error.get(), &raw_reply)`
//   with a `dbus_lab::BusError error`, the reply held as a
//   `dbus_lab::Message`, and `timeout_usec` = `timeout_seconds *
//   dbus_lab::usec_per_second`, at least 1 (0 would mean sd-bus's default,
//   25 s). A negative result: `SD_BUS_ERROR_SERVICE_UNKNOWN` or
//   `SD_BUS_ERROR_NAME_HAS_NO_OWNER` (`error.has_name()`): `throw
//   lab::not_running(name, service_name + " has no owner")`; `-ETIMEDOUT`
//   or `SD_BUS_ERROR_NO_REPLY`: if a `lab::Deadline` started before the
//   call has not expired, the server's connection dropped while it owed
//   the reply: `lab::not_running(name, service_name + " went away before
//   replying")`, else `lab::timed_out(timeout_seconds, "the reply from " +
//   service_name)`; anything else: `lab::Failure("Upper on " + service_name
//   + ": " + error.message())`. Return the reply's string
//   (`sd_bus_message_read(reply, "s", &upper)`, checked as `"read reply"`).
//   man 3 sd_bus_message_new_method_call, man 3 sd_bus_message_append, man 3 sd_bus_call
//   check: `./server` in one terminal, `./client hi` in another prints `HI`
//   stub: std::string call_upper(sd_bus* /*bus*/, const std::string& /*name*/,
//   stub:                        const std::string& /*message*/, double /*timeout_seconds*/) {
//   stub:     return lab::not_written_yet<std::string>(2, 8, "call Upper with sd_bus_call");
//   stub: }
// Step 2: Upper(message) on the service of server NAME, bounded by
// timeout_seconds; the reply's string.
std::string call_upper(sd_bus* bus, const std::string& name, const std::string& message,
                       double timeout_seconds) {
    const std::string service_name = dbus_lab::service_name(name);
    sd_bus_message* raw = nullptr;
    dbus_lab::check(sd_bus_message_new_method_call(bus, &raw, service_name.c_str(),
                                                   dbus_lab::object_path, dbus_lab::interface_name,
                                                   "Upper"),
                    "sd_bus_message_new_method_call");
    dbus_lab::Message call(raw);
    // A missing service is an error at once, never a request to start one.
    dbus_lab::check(sd_bus_message_set_auto_start(call.get(), 0), "sd_bus_message_set_auto_start");
    if (sd_bus_message_append(call.get(), "s", message.c_str()) < 0) {
        throw lab::UsageError("message is not valid UTF-8 (D-Bus strings must be)");
    }

    // 0 would mean sd-bus's default (25 s): the smallest bound is 1 us.
    auto timeout_usec =
        static_cast<std::uint64_t>(std::max(1.0, timeout_seconds * dbus_lab::usec_per_second));
    dbus_lab::BusError error;
    sd_bus_message* raw_reply = nullptr;
    lab::Deadline deadline(timeout_seconds);
    int result = sd_bus_call(bus, call.get(), timeout_usec, error.get(), &raw_reply);
    dbus_lab::Message reply(raw_reply);
    if (result < 0) {
        if (error.has_name(SD_BUS_ERROR_SERVICE_UNKNOWN) ||
            error.has_name(SD_BUS_ERROR_NAME_HAS_NO_OWNER)) {
            throw lab::not_running(name, service_name + " has no owner");
        }
        if (result == -ETIMEDOUT || error.has_name(SD_BUS_ERROR_NO_REPLY)) {
            // The bus also says NoReply when the server's connection dropped
            // while it owed us the reply: that is not a timeout.
            if (!deadline.expired()) {
                throw lab::not_running(name, service_name + " went away before replying");
            }
            throw lab::timed_out(timeout_seconds, "the reply from " + service_name);
        }
        throw lab::Failure("Upper on " + service_name + ": " + error.message());
    }
    const char* upper = nullptr;
    dbus_lab::check(sd_bus_message_read(reply.get(), "s", &upper), "read reply");
    return upper;
}
// END TASK 8

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
