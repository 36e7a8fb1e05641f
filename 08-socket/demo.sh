#!/usr/bin/env bash
# demo.sh - 08-socket in one go (`make demo`): the same exchange over a Unix
# stream socket, TCP and UDP, then a descriptor passed with SCM_RIGHTS, then
# an ICMP echo on a raw socket (root only).
source ../mk/demo.bash

demo_server ./server
demo_run ./client hello 'big world'
demo_stop

# Each server writes a fresh log: show it from its first line.
DEMO_SHOWN=0
demo_server ./server --tcp 0
port=$(sed -n '1s/.* port=//p' "$DEMO_LOG")
demo_run ./client --tcp "127.0.0.1:$port" 'over TCP'
demo_stop

DEMO_SHOWN=0
demo_server ./server --udp 0
port=$(sed -n '1s/.* port=//p' "$DEMO_LOG")
demo_run ./client --udp "127.0.0.1:$port" 'over UDP'
demo_stop

# The parent opens the file; the child prints it from the descriptor it is sent.
demo_run ./fd-passing-demo Makefile 2>&1

# A raw socket: ICMP echo to this host's loopback. It needs CAP_NET_RAW:
# without it raw-demo says so in one line (exit 1), and the demo still ends.
demo_run ./raw-demo --count 2 127.0.0.1 || true
