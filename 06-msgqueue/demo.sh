#!/usr/bin/env bash
# demo.sh - 06-msgqueue in one go (`make demo`): the System V pair and what
# ipcs shows of its queue, then the POSIX pair, a priority included.
source ../mk/demo.bash

demo_server ./server
demo_run ./client hello 'big World!'
msqid=$(sed -n '1s/.* msqid=//p' "$DEMO_LOG")
demo_run ipcs -q -i "$msqid"
demo_stop

DEMO_SHOWN=0 # the next server's log starts afresh in the same file
demo_server ./posix-server
demo_run ./posix-client hello 'big World!'
demo_run ./posix-client --priority 31 'urgent, for what it is worth'
demo_stop
