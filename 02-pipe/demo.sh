#!/usr/bin/env bash
# demo.sh - 02-pipe in one go (`make demo`). The server starts the client
# itself, so one terminal is enough.
source ../mk/demo.bash

demo_show_command ./server hello 'big World!'
./server hello 'big World!'
printf '%s\n' "\$ printf 'one\\ntwo\\n' | ./server"
printf 'one\ntwo\n' | ./server
demo_show_command ./popen-demo 'via popen(3)'
./popen-demo 'via popen(3)'
