// runtime_dir.hpp - where a chapter's named objects live, and what they are called.
//
//   runtime dir   $IPC_LAB_DIR, default ${XDG_RUNTIME_DIR:-/tmp}/ipc-lab-UID
//   files         RUNTIME/TOPIC/NAME.EXT        (FIFOs, sockets, keys, maps)
//   POSIX IPC     /ipc-lab-UID-TOPIC-NAME[-SUFFIX]
//
// Both directories are made 0700 when missing. An existing one is refused
// (lab::Failure, exit 1) unless it is a real directory owned by this user
// and not writable by group or others: in a shared /tmp anyone could
// otherwise plant a symlink or a FIFO where the server will create its own.
#pragma once

#include <string>
#include <string_view>

namespace lab {

// The runtime dir, checked (and made if missing; its parent must exist).
std::string runtime_dir();

// RUNTIME/TOPIC, checked (and made if missing).
std::string topic_dir(std::string_view topic);

// RUNTIME/TOPIC/NAME.EXT (makes and checks the directories, not the file).
std::string object_path(std::string_view topic, std::string_view name, std::string_view ext);

// "/ipc-lab-UID-TOPIC-NAME" or, with a suffix, "/ipc-lab-UID-TOPIC-NAME-SUFFIX".
std::string posix_ipc_name(std::string_view topic, std::string_view name,
                           std::string_view suffix = {});

} // namespace lab
