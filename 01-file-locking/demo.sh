#!/usr/bin/env bash
# demo.sh - 01-file-locking in one go (`make demo`): a reader that has to
# wait for the writer's lock, the counter, and the two other kinds of lock.
source ../mk/demo.bash

demo_server ./server --hold 2 'first line' 'second line'
echo '# the server holds its write lock for 2 s: the client waits, then reads both lines'
demo_run ./client
demo_run ./client --increment 1000
demo_run ./client --increment 1000
demo_stop

scratch=$(mktemp -d)
demo_run ./ofd-demo "$scratch/file"
demo_run ./flock-demo --hold 0 "$scratch/file"
rm -rf "$scratch"
