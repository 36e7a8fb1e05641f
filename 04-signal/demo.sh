#!/usr/bin/env bash
# demo.sh - 04-signal in one go (`make demo`): messages carried by SIGRTMIN,
# then plain signals, which do not queue: 1000 sent to a stopped server
# arrive as one.
source ../mk/demo.bash

demo_server ./server
demo_run ./client hello 'big World!'
demo_run kill -USR1 "$DEMO_SERVER_PID"
demo_run kill -STOP "$DEMO_SERVER_PID"
demo_run ./client --signal USR2 --count 1000
demo_run kill -CONT "$DEMO_SERVER_PID"
demo_stop
