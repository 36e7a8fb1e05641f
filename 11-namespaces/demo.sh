#!/usr/bin/env bash
# demo.sh - 11-namespaces in one go (`make demo`): the pair, a client in
# another IPC namespace (refused) and one in the server's (served), then
# ns-demo. The namespace part needs CAP_SYS_ADMIN (root); without it, only
# the pair runs.
source ../mk/demo.bash

demo_server ./server
demo_run ./client hello 'big World!'
if unshare --ipc true 2>/dev/null; then
    demo_run unshare --ipc ./client hello || true # exit 1: "another IPC namespace"
    demo_run nsenter --ipc="/proc/$DEMO_SERVER_PID/ns/ipc" ./client 'from inside'
    demo_stop
    demo_run ./ns-demo
else
    echo "(no IPC namespace can be made here: the rest needs CAP_SYS_ADMIN, run it as root)"
    demo_stop
fi
