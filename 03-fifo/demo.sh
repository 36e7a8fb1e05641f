#!/usr/bin/env bash
# demo.sh - 03-fifo in one go (`make demo`): the server, the client, the
# FIFOs in the runtime dir, and a plain shell speaking the same protocol.
source ../mk/demo.bash

demo_server ./server
demo_run ./client hello 'big World!'
fifo=$(sed -n '1s/.* path=//p' "$DEMO_LOG")
cd "${fifo%/*}"
demo_run ls -l
# The wire format is text: mkfifo, echo and cat make a client.
# shellcheck disable=SC2016 # shown as typed; $$ is the inner shell's pid
shell_client='mkfifo -m 600 demo.$$.fifo; echo "$$ from a shell" > demo.fifo; cat demo.$$.fifo; rm demo.$$.fifo'
echo "\$ $shell_client"
bash -c "$shell_client"
demo_server_lines
demo_stop
demo_run ls -A
