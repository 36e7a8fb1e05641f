// lab.hpp - the plumbing every chapter shares and none of them is about.
// Each header below is small and says what it is for; the IPC itself lives
// in the chapters.
#pragma once

#include "contract.hpp" // owner_only, seconds_text, key_text, not_running, timed_out
#include "deadline.hpp" // lab::Deadline: --timeout in the forms the calls take
#include "errors.hpp"   // lab::guarded_main, sys_error, UsageError, Failure
#include "fd.hpp"       // lab::Fd: an owned descriptor
#include "instance.hpp" // lab::InstanceLock: one live server per name
#include "io.hpp"       // lab::write_all, read_some, read_full
#include "mapping.hpp"  // lab::Mapping: a mapping we made, munmap()ed when it goes
#include "messages.hpp" // message limits, to_upper, client input, ready/received lines
#include "options.hpp"  // lab::Options, parse_server_options, client_options, parse_client_options
#include "owned_name.hpp"  // lab::OwnedName: a POSIX IPC name we made, unlinked when it goes
#include "owned_path.hpp"  // lab::OwnedPath: a file we made, unlinked when it goes
#include "process.hpp"     // lab::ProcessIdentity: a pid, told apart from its reuse
#include "runtime_dir.hpp" // runtime dir, object paths, POSIX IPC names
#include "sigbus.hpp"      // lab::SigbusGuard: a shared mapping truncated under us
#include "signals.hpp"     // lab::StopSignals, ignore_sigpipe
#include "stale_posts.hpp" // lab::drain_stale_posts: a request count raised by no client
#include "sysv_key.hpp"    // lab::SysvKeyFile, OwnedSysvId: NAME.key and the takeover
#include "ticker.hpp"      // lab::Ticker: SIGALRM bounds a call that has no timeout
