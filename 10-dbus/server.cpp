// 10-dbus/server.cpp - a service on the session bus.
//
//   server [--name NAME]
//
// 1. Connect to the session bus (sd_bus_open_user: $DBUS_SESSION_BUS_ADDRESS).
// 2. Export the object /org/ipclab/Lab with the interface org.ipclab.Lab:
//    method Upper(s) -> s, signal MessageServed(s), property MessagesServed (t).
//    sd-bus answers Introspect, Get/GetAll and Peer calls from the same table.
// 3. Own the well-known name org.ipclab.Lab.NAME (refused if it is owned).
// 4. Serve: sd_bus_process() dispatches each call to its handler; poll() waits
//    on the bus connection and on SIGINT/SIGTERM.
// 5. Release the name, flush what is queued, close.
#include "protocol.hpp"

#include <array>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <exception>
#include <poll.h>

namespace {

struct Service {
    sd_bus* bus = nullptr;
    std::uint64_t messages_served = 0;
    std::exception_ptr failure; // set by a handler that could not do its job
};

// The interface's handlers and its table (below), and the loop's poll() bound.
int on_upper(sd_bus_message* call, void* userdata, sd_bus_error* error);
int get_messages_served(sd_bus* bus, const char* path, const char* interface, const char* property,
                        sd_bus_message* reply, void* userdata, sd_bus_error* error);
// maybe_unused: in the handout, task 2's stub does not pass it to sd-bus yet.
[[maybe_unused]] extern const sd_bus_vtable lab_vtable[];
int bus_timeout_ms(sd_bus* bus);

int run(int argc, char** argv) {
    std::string name = lab::parse_server_options(
        argc, argv,
        "Owns org.ipclab.Lab.NAME on the session bus and answers Upper(s) calls\n"
        "until SIGINT or SIGTERM.");
    lab::ignore_sigpipe();
    lab::StopSignals stop;
    const std::string service_name = dbus_lab::service_name(name);

    // 1. sd_bus_open_user() connects to $DBUS_SESSION_BUS_ADDRESS and sends
    // Hello; the Bus owns whatever it returned, also when it failed.
    // TASK 1 (step 1): connect to the session bus with sd_bus_open_user
    //   `sd_bus_open_user(&raw_bus)` with `sd_bus* raw_bus = nullptr`
    //   connects to `$DBUS_SESSION_BUS_ADDRESS` and sends Hello. Hold what
    //   it returned at once as `dbus_lab::Bus bus(raw_bus)` (its deleter
    //   closes and unrefs it), also when it failed. sd-bus calls return a
    //   negative errno: on failure `throw lab::Failure("session bus not
    //   running (DBUS_SESSION_BUS_ADDRESS): " + strerror(-result))`.
    //   man 3 sd_bus_open_user, man 3 sd_bus_unref
    //   stub: dbus_lab::Bus bus(lab::not_written_yet<sd_bus*>(
    //   stub:     1, 1, "connect to the session bus with sd_bus_open_user"));
    sd_bus* raw_bus = nullptr;
    int opened = sd_bus_open_user(&raw_bus);
    dbus_lab::Bus bus(raw_bus);
    if (opened < 0) {
        throw lab::Failure(std::string("session bus not running (DBUS_SESSION_BUS_ADDRESS): ") +
                           std::strerror(-opened));
    }
    // END TASK 1
    Service service;
    service.bus = bus.get();

    // TASK 2 (step 2): export the object with sd_bus_add_object_vtable
    //   `sd_bus_add_object_vtable(bus.get(), &raw_slot, dbus_lab::object_path,
    //   dbus_lab::interface_name, lab_vtable, &service)` with `sd_bus_slot*
    //   raw_slot = nullptr`: from then on sd-bus routes calls to that object
    //   and interface to the handlers in `lab_vtable` (below), each given
    //   `&service` as its `userdata`, and answers Introspect and the
    //   property calls itself. Check the result with `dbus_lab::check(result,
    //   "sd_bus_add_object_vtable")`; hold the slot as `dbus_lab::Slot
    //   slot(raw_slot)` (the export lasts as long as the slot).
    //   man 3 sd_bus_add_object_vtable
    //   stub: dbus_lab::Slot slot(lab::not_written_yet<sd_bus_slot*>(
    //   stub:     2, 2, "export the object with sd_bus_add_object_vtable"));
    sd_bus_slot* raw_slot = nullptr; // 2
    dbus_lab::check(sd_bus_add_object_vtable(bus.get(), &raw_slot, dbus_lab::object_path,
                                             dbus_lab::interface_name, lab_vtable, &service),
                    "sd_bus_add_object_vtable");
    dbus_lab::Slot slot(raw_slot);
    // END TASK 2

    // TASK 3 (step 3): own the service name with sd_bus_request_name
    //   `sd_bus_request_name(bus.get(), service_name.c_str(), 0)`: flags 0
    //   neither take the name from its owner nor queue for it. `-EEXIST`:
    //   another server has it: `throw lab::Failure(name + " already running
    //   (" + service_name + " has an owner)")`; another negative result:
    //   `dbus_lab::check(result, "sd_bus_request_name " + service_name)`.
    //   man 3 sd_bus_request_name
    //   check: `./server`, then `busctl --user list | grep ipclab` shows the name
    // 3. Flags 0: neither take the name from its owner nor queue for it.
    if (int result = sd_bus_request_name(bus.get(), service_name.c_str(), 0); result < 0) {
        if (result == -EEXIST) {
            throw lab::Failure(name + " already running (" + service_name + " has an owner)");
        }
        dbus_lab::check(result, "sd_bus_request_name " + service_name);
    }
    // END TASK 3
    lab::print_ready({{"service", service_name}, {"object", dbus_lab::object_path}});

    while (!stop.requested()) { // 4
        // TASK 4 (step 4): dispatch what arrived with sd_bus_process
        //   `int processed = sd_bus_process(bus.get(), nullptr)`: it handles
        //   at most one incoming message (a call goes to its handler in
        //   `lab_vtable`) and returns > 0 when it did something, 0 when there
        //   was nothing to do (the loop then `poll()`s the bus's descriptor).
        //   Check it: `dbus_lab::check(processed, "sd_bus_process")`.
        //   man 3 sd_bus_process
        //   stub: int processed = lab::not_written_yet<int>(
        //   stub:     4, 4, "dispatch what arrived with sd_bus_process");
        int processed = sd_bus_process(bus.get(), nullptr);
        dbus_lab::check(processed, "sd_bus_process");
        // END TASK 4
        if (service.failure) {
            std::rethrow_exception(service.failure);
        }
        if (processed > 0) {
            continue; // more may be queued: process until it says 0
        }
        std::array<pollfd, 2> fds{{{sd_bus_get_fd(bus.get()), 0, 0}, {stop.fd(), POLLIN, 0}}};
        int events = sd_bus_get_events(bus.get());
        dbus_lab::check(events, "sd_bus_get_events");
        fds[0].events = static_cast<short>(events);
        if (::poll(fds.data(), fds.size(), bus_timeout_ms(bus.get())) < 0 && errno != EINTR) {
            throw lab::sys_error("poll");
        }
    }

    // 5. Give the name back and send what is queued (the last replies and
    // signals), then ~Slot and ~Bus close the connection.
    sd_bus_release_name(bus.get(), service_name.c_str());
    sd_bus_flush(bus.get());
    return lab::exit_ok;
}

// Upper(s message) -> (s reply). A C callback: no exception may cross it.
int on_upper(sd_bus_message* call, void* userdata, sd_bus_error* error) {
    auto* service = static_cast<Service*>(userdata);
    const char* message = nullptr;
    if (int result = sd_bus_message_read(call, "s", &message); result < 0) {
        return result; // sd-bus turns -errno into an error reply
    }
    std::string_view text(message);
    if (text.size() > lab::max_message_bytes) {
        return sd_bus_error_setf(error, dbus_lab::error_too_long,
                                 "message too long (%zu bytes; at most %zu)", text.size(),
                                 lab::max_message_bytes);
    }
    if (text.find('\n') != std::string_view::npos) {
        return sd_bus_error_set_const(error, SD_BUS_ERROR_INVALID_ARGS,
                                      "message contains a newline");
    }
    try {
        lab::log_received(text);
        ++service->messages_served;
        // TASK 5 (step 4): reply, then emit MessageServed
        //   In `on_upper()`, the handler sd-bus calls for Upper: answer the
        //   call with `sd_bus_reply_method_return(call, "s", reply)` where
        //   `reply` is `lab::to_upper(text)`, and keep its result to return.
        //   Then tell whoever listens: `sd_bus_emit_signal(service->bus,
        //   dbus_lab::object_path, dbus_lab::interface_name, "MessageServed",
        //   "s", message)`, and the property's new value:
        //   `sd_bus_emit_properties_changed(service->bus, dbus_lab::object_path,
        //   dbus_lab::interface_name, "MessagesServed", nullptr)`. Return the
        //   reply's result (a negative errno becomes an error reply).
        //   man 3 sd_bus_reply_method_return, man 3 sd_bus_emit_signal
        //   check: `./server`; `./client hi` in another terminal prints `HI`
        std::string reply = lab::to_upper(text);
        int result = sd_bus_reply_method_return(call, "s", reply.c_str());
        // Tell whoever listens: the signal, and the property's new value.
        sd_bus_emit_signal(service->bus, dbus_lab::object_path, dbus_lab::interface_name,
                           "MessageServed", "s", message);
        sd_bus_emit_properties_changed(service->bus, dbus_lab::object_path,
                                       dbus_lab::interface_name, "MessagesServed", nullptr);
        return result;
        // END TASK 5
    } catch (...) {
        // Our log (stdout) is gone, or memory is: the caller gets an error
        // reply, and the main loop ends the server (exit 1) rather than go on
        // answering every call with an error.
        service->failure = std::current_exception();
        return -EIO;
    }
}

int get_messages_served(sd_bus* /*bus*/, const char* /*path*/, const char* /*interface*/,
                        const char* /*property*/, sd_bus_message* reply, void* userdata,
                        sd_bus_error* /*error*/) {
    return sd_bus_message_append(reply, "t", static_cast<Service*>(userdata)->messages_served);
}

// The interface, as sd-bus wants it: it also generates the introspection XML.
// (A plain array: the SD_BUS_* macros expand to designated initialisers.)
const sd_bus_vtable lab_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_NAMES("Upper", "s", SD_BUS_PARAM(message), "s", SD_BUS_PARAM(reply),
                             on_upper, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL_WITH_NAMES("MessageServed", "s", SD_BUS_PARAM(message), 0),
    SD_BUS_PROPERTY("MessagesServed", "t", get_messages_served, 0,
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_VTABLE_END,
};

// Milliseconds until sd-bus's next own deadline (a pending call's timeout), for poll().
int bus_timeout_ms(sd_bus* bus) {
    std::uint64_t until_usec = 0;
    dbus_lab::check(sd_bus_get_timeout(bus, &until_usec), "sd_bus_get_timeout");
    if (until_usec == UINT64_MAX) {
        return -1;
    }
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    std::uint64_t now_usec = static_cast<std::uint64_t>(now.tv_sec) * 1'000'000U +
                             static_cast<std::uint64_t>(now.tv_nsec) / 1000U;
    return until_usec <= now_usec ? 0 : static_cast<int>((until_usec - now_usec + 999) / 1000);
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
