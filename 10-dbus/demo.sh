#!/usr/bin/env bash
# demo.sh - 10-dbus in one go (`make demo`), on a private session bus so the
# demo never touches the machine's own (dbus-run-session starts one and sets
# DBUS_SESSION_BUS_ADDRESS for the command it runs).
if [[ -z ${IPC_LAB_DEMO_BUS-} ]]; then
    IPC_LAB_DEMO_BUS=1 dbus-run-session -- "$0" "$@" 2>&1 |
        grep -v 'Failed to set fd limit' # the private bus's harmless warning
    exit "${PIPESTATUS[0]}"
fi
source ../mk/demo.bash

demo_server ./server
demo_run ./client hello 'big World!'
demo_run busctl --user call org.ipclab.Lab.demo /org/ipclab/Lab org.ipclab.Lab Upper s 'via busctl'
demo_run busctl --user get-property org.ipclab.Lab.demo /org/ipclab/Lab org.ipclab.Lab MessagesServed
demo_stop
