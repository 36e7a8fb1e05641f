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

constexpr double usec_per_second = 1e6;

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
    sd_bus* raw_bus = nullptr;
    int opened = sd_bus_open_user(&raw_bus);
    dbus_lab::Bus bus(raw_bus);
    if (opened < 0) {
        throw lab::Failure(std::string("session bus not running (DBUS_SESSION_BUS_ADDRESS): ") +
                           std::strerror(-opened));
    }
    wait_until_connected(bus.get(), command.timeout_seconds);
    // 2. and 3.: one Upper call per message, its reply printed.
    lab::for_each_message(command.messages, [&](const std::string& message) {
        lab::print_line(call_upper(bus.get(), command.name, message, command.timeout_seconds));
    });
    return lab::exit_ok;
}

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
            auto usec = static_cast<std::uint64_t>(deadline.seconds_left() * usec_per_second) + 1;
            dbus_lab::check(sd_bus_wait(bus, usec), "sd_bus_wait");
        }
    }
}

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
        static_cast<std::uint64_t>(std::max(1.0, timeout_seconds * usec_per_second));
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

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
