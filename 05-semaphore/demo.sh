#!/usr/bin/env bash
# demo.sh - 05-semaphore in one go (`make demo`): the System V pair, then the
# POSIX pair, each with two messages and a shared counter.
source ../mk/demo.bash

demo_server ./server
demo_run ./client hello 'big World!'
demo_run ./client --increment 3
demo_stop

demo_server ./posix-server
demo_run ./posix-client hello 'big World!'
demo_run ./posix-client --increment 3
demo_stop
