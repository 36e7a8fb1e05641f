#!/usr/bin/env bash
# demo.sh - 05-semaphore in one go (`make demo`): the System V pair, then the
# POSIX pair, each with two messages and a shared counter.
source ../mk/demo.bash

demo_server ./server
demo_run ./client hello 'big World!'
demo_run ./client --increment 3
demo_stop

DEMO_SHOWN=0 # demo.bash counts the log lines already shown; the new server's log starts afresh
demo_server ./posix-server
demo_run ./posix-client hello 'big World!'
demo_run ./posix-client --increment 3
demo_stop
