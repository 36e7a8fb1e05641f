// protocol.hpp - what the 10-dbus server and client agree on: the bus names,
// the object, the interface, and small owners for sd-bus objects (they give
// references back; the programs make every sd-bus call that acquires or talks).
//
// The wire protocol itself (marshalling, the bus handshake, name ownership,
// introspection) is sd-bus's job: libsystemd's client library for D-Bus.
#pragma once

#include "lab.hpp"

#include <memory>
#include <string>
#include <systemd/sd-bus.h>

namespace dbus_lab {

inline constexpr const char* object_path = "/org/ipclab/Lab";
inline constexpr const char* interface_name = "org.ipclab.Lab";
inline constexpr const char* error_too_long = "org.ipclab.Lab.Error.TooLong";

// sd-bus counts time in microseconds (sd_bus_wait, sd_bus_call).
inline constexpr double usec_per_second = 1e6;

// "org.ipclab.Lab.N": NAME with every character outside A-Z a-z 0-9 _ turned
// to '_', and '_' put in front when it starts with a digit (a bus name's
// elements may not start with one).
inline std::string service_name(const std::string& name) {
    auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
    std::string service = "org.ipclab.Lab.";
    if (!name.empty() && is_digit(name[0])) {
        service += '_';
    }
    for (char c : name) {
        bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '_';
        service += keep ? c : '_';
    }
    return service;
}

// sd-bus returns -errno; this throws the same way as lab::sys_error.
inline void check(int result, const std::string& what) {
    if (result < 0) {
        throw lab::sys_error(-result, what);
    }
}

// Owners that give the references back (unref) when they go. The bus is
// closed without a flush: sd_bus_flush() would first wait (up to sd-bus's own
// 90 s) for a login the bus never answered. Code that has messages queued
// flushes them itself, bounded, before it lets go.
struct BusCloser {
    void operator()(sd_bus* bus) const { sd_bus_close_unref(bus); }
};
struct SlotReleaser {
    void operator()(sd_bus_slot* slot) const { sd_bus_slot_unref(slot); }
};
struct MessageReleaser {
    void operator()(sd_bus_message* message) const { sd_bus_message_unref(message); }
};
using Bus = std::unique_ptr<sd_bus, BusCloser>;
using Slot = std::unique_ptr<sd_bus_slot, SlotReleaser>;
using Message = std::unique_ptr<sd_bus_message, MessageReleaser>;

// An sd_bus_error that is freed on every way out.
class BusError {
  public:
    BusError() = default;
    BusError(const BusError&) = delete;
    BusError& operator=(const BusError&) = delete;
    ~BusError() { sd_bus_error_free(&error_); }
    sd_bus_error* get() { return &error_; }
    bool has_name(const char* name) const { return sd_bus_error_has_name(&error_, name) != 0; }
    std::string message() const {
        return error_.message != nullptr ? error_.message : (error_.name ? error_.name : "");
    }

  private:
    sd_bus_error error_{}; // all null: SD_BUS_ERROR_NULL, which is a C compound literal
};

} // namespace dbus_lab
