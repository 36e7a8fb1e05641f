#!/usr/bin/env bash
# demo.sh - 09-mmap in one go (`make demo`): the server, two clients, what
# the mapped file holds afterwards, and the anonymous mapping across fork().
source ../mk/demo.bash

demo_server ./server
demo_run ./client hello 'big World!'
demo_run ./client 'a request you can read in the file'
map=$(sed -n '1s/.* path=//p' "$DEMO_LOG")
demo_run strings "$map"
demo_stop
demo_run ./anon-demo 'shared with the child'
demo_run ./anon-demo --private 'private to each process'
