#!/usr/bin/env bash
# demo.sh - 07-shm in one go (`make demo`): the System V pair and what ipcs
# shows of its segment and semaphore set, then the POSIX pair and its object
# in /dev/shm.
source ../mk/demo.bash

demo_server ./server
demo_run ./client hello 'big World!'
shmid=$(sed -n '1s/.* shmid=\([0-9]*\).*/\1/p' "$DEMO_LOG")
semid=$(sed -n '1s/.* semid=\([0-9]*\).*/\1/p' "$DEMO_LOG")
demo_run ipcs -m -i "$shmid"
demo_run ipcs -s -i "$semid"
demo_stop

DEMO_SHOWN=0 # the next server's log starts afresh in the same file
demo_server ./posix-server
demo_run ./posix-client hello 'big World!'
demo_run ls -l "/dev/shm/ipc-lab-$(id -u)-shm-posix-demo"
demo_stop
