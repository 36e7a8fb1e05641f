#!/usr/bin/env bats
# 07-shm: System V shared memory + semaphore set (server, client) and POSIX
# shared memory with unnamed semaphores and a robust mutex inside it
# (posix-server, posix-client). Each behaviour is one function, run once per
# variant by the two one-line tests that follow it.

load lab

setup() { lab_setup; }
teardown() {
    # A test that failed while its server was stopped (kill -STOP) must not
    # leave it stopped: SIGTERM would not stop it, and the SIGKILL that
    # follows would leave its segment, set or object behind.
    local pid
    for pid in "${SERVER_PIDS[@]}"; do
        kill -CONT "$pid" 2>/dev/null || true
    done
    lab_teardown remove_foreign
}

# The ids another program made in this test (make_foreign), removed even
# when the test failed.
FOREIGN_SHMIDS=() FOREIGN_SEMIDS=()
remove_foreign() {
    local id
    for id in "${FOREIGN_SHMIDS[@]}"; do ipcrm -m "$id" 2>/dev/null || true; done
    for id in "${FOREIGN_SEMIDS[@]}"; do ipcrm -s "$id" 2>/dev/null || true; done
}

# use sysv|posix: the programs and names of one variant.
use() {
    VARIANT=$1
    if [[ $VARIANT == sysv ]]; then
        SERVER=07-shm/server CLIENT=07-shm/client TOPIC=shm
    else
        SERVER=07-shm/posix-server CLIENT=07-shm/posix-client TOPIC=shm-posix
    fi
    SHM_FILE=/dev/shm/ipc-lab-$(id -u)-shm-posix-$NAME
    SERVER_NAME=${SERVER#*/} CLIENT_NAME=${CLIENT#*/}
    WAIT=$((10 * LAB_TIME_SCALE)) # --timeout for clients that must not time out
}

# Our own lines of `ipcs -m` / `ipcs -s`: other suites run at the same time,
# so nothing is ever said about the tables as a whole.
ipcs_key() { ipcs "$1" | awk -v key="$2" '$1 == key'; }
ipcs_id() { ipcs "$1" | awk -v id="$2" '$2 == id'; }

# What the server of the current variant made, from its ready line.
assert_objects_exist() {
    if [[ $VARIANT == sysv ]]; then
        assert_regex "$(ipcs_key -m "${READY[key]}")" "^${READY[key]} +${READY[shmid]} +[a-z]+ +600 "
        assert_regex "$(ipcs_key -s "${READY[key]}")" "^${READY[key]} +${READY[semid]} +[a-z]+ +600 +3 *\$"
        assert [ -f "${READY[path]}" ]
    else
        assert [ -f "$SHM_FILE" ]
        assert_equal "$(stat -c %a "$SHM_FILE")" 600
    fi
}

# Nothing of that server is left: no key, no id, no name, no file.
assert_objects_gone() {
    if [[ $VARIANT == sysv ]]; then
        assert_equal "$(ipcs_key -m "${READY[key]}")" ''
        assert_equal "$(ipcs_key -s "${READY[key]}")" ''
        assert_equal "$(ipcs_id -m "${READY[shmid]}")" ''
        assert_equal "$(ipcs_id -s "${READY[semid]}")" ''
    else
        assert [ ! -e "$SHM_FILE" ]
    fi
    run find "$IPC_LAB_DIR/$TOPIC" -mindepth 1
    assert_output ''
}

# ---------------------------------------------------------------- exchange

check_exchange() {
    start_server "$SERVER" --name "$NAME"
    if [[ $VARIANT == sysv ]]; then
        assert_regex "$READY_LINE" "^ready pid=$SERVER_PID key=0x[0-9a-f]{8} shmid=[0-9]+ semid=[0-9]+ path=$IPC_LAB_DIR/shm/$NAME.key\$"
    else
        assert_equal "$READY_LINE" "ready pid=$SERVER_PID posix=/ipc-lab-$(id -u)-shm-posix-$NAME"
    fi
    assert_objects_exist
    assert_equal "$(stat -c %a "$IPC_LAB_DIR" "$IPC_LAB_DIR/$TOPIC")" $'700\n700'

    run_client "$CLIENT" --name "$NAME" hello 'big World!' '' $'tab\there, Wörld ~{}[] 123'
    assert_success
    assert_equal "$stderr" ''
    # (bats drops empty lines from $lines: compare the whole output)
    assert_equal "$output" $'HELLO\nBIG WORLD!\n\nTAB\tHERE, WöRLD ~{}[] 123'
    assert_equal "$(tail -n +2 "$SERVER_LOG")" \
        $'received: hello\nreceived: big World!\nreceived: \nreceived: tab\there, Wörld ~{}[] 123'
}
# bats test_tags=exchange,memcheck
@test "server/client: ready line, objects 0600, replies in order, empty message, other bytes unchanged" {
    use sysv
    check_exchange
}
# bats test_tags=exchange,memcheck
@test "posix-server/posix-client: ready line, objects 0600, replies in order, empty message, other bytes unchanged" {
    use posix
    check_exchange
}

check_stdin() {
    start_server "$SERVER" --name "$NAME"
    printf 'one\n\nThree 3\nlast without newline' >"$T/in"
    run_client "$CLIENT" --name "$NAME" <"$T/in"
    assert_success
    assert_equal "$output" $'ONE\n\nTHREE 3\nLAST WITHOUT NEWLINE'
}
# bats test_tags=exchange,memcheck
@test "client: without MESSAGE each stdin line is a message" {
    use sysv
    check_stdin
}
# bats test_tags=exchange,memcheck
@test "posix-client: without MESSAGE each stdin line is a message" {
    use posix
    check_stdin
}

check_too_long() {
    start_server "$SERVER" --name "$NAME"
    local max
    max=$(head -c 1024 /dev/zero | tr '\0' 'q')
    run_client "$CLIENT" --name "$NAME" first "$max" "${max}x" never
    assert_failure 2
    assert_equal "$stderr" "$CLIENT_NAME: message too long (1025 bytes; at most 1024)"
    assert_equal "$output" "FIRST"$'\n'"${max^^}"
    assert_equal "$(grep -c '^received: ' "$SERVER_LOG")" 2
    run grep -c never "$SERVER_LOG"
    assert_output 0
}
# bats test_tags=exchange,memcheck
@test "client: 1024 bytes go, 1025 is exit 2 'too long', earlier messages were sent" {
    use sysv
    check_too_long
}
# bats test_tags=exchange,memcheck
@test "posix-client: 1024 bytes go, 1025 is exit 2 'too long', earlier messages were sent" {
    use posix
    check_too_long
}

# bats test_tags=usage
@test "every program: --help exit 0, unknown option exit 2, bad --name exit 2" {
    local program
    check_help_and_unknown_option 07-shm server client posix-server posix-client
    check_bad_names 07-shm server client posix-server posix-client
    for program in server client posix-server posix-client; do
        run_client "07-shm/$program" --help
        assert_line -n 0 "usage: $program [--name NAME]$([[ $program == *client ]] && echo ' [--timeout SECONDS] [MESSAGE...]')"
    done
    run_client 07-shm/client --timeout soon
    assert_failure 2
    run_client 07-shm/server extra
    assert_failure 2
    assert_equal "$stderr" "server: unexpected argument 'extra'"
}

# Called once the server has answered a request whose client is gone: that
# reply is posted for nobody. The next client takes that post first - for
# sure, as the server is stopped meanwhile - and must drop it (its sequence
# number is not the client's) and wait for its own.
assert_next_client_drops_stale_reply() {
    start_waiting_client next "$WAIT"
    kill -CONT "$SERVER_PID"
    local status=0
    wait "$WAITING_PID" || status=$?
    assert_equal "$status" 0
    assert_equal "$(cat "$T/next.out")" NEXT
    run_client "$CLIENT" --name "$NAME" --timeout "$WAIT" first after
    assert_success
    assert_equal "$output" $'FIRST\nAFTER'
}

# ------------------------------------------------------ server not there

check_not_running() {
    # --timeout 60, but lab_exec kills it after CLIENT_LIMIT: only "at once" passes
    run_client "$CLIENT" --name "$NAME" --timeout 60 hello
    assert_failure 1
    assert_regex "$stderr" "^$CLIENT_NAME: server $NAME not running \\(.+\\)\$"
    assert_equal "$output" ''
    # the same when a killed server's objects are still there
    start_server "$SERVER" --name "$NAME"
    kill -KILL "$SERVER_PID"
    wait_for_exit "$SERVER_PID"
    assert_objects_exist
    run_client "$CLIENT" --name "$NAME" --timeout 60 hello
    assert_failure 1
    assert_regex "$stderr" "^$CLIENT_NAME: server $NAME not running \\(.+\\)\$"
    # the leftovers are for the next server to take over
    start_server "$SERVER" --name "$NAME"
    stop_server
}
# bats test_tags=memcheck
@test "client: no server, or a killed one's leftovers: exit 1 'not running' at once" {
    use sysv
    check_not_running
}
# bats test_tags=memcheck
@test "posix-client: no server, or a killed one's leftovers: exit 1 'not running' at once" {
    use posix
    check_not_running
}

check_timed_out() {
    start_server "$SERVER" --name "$NAME"
    kill -STOP "$SERVER_PID"
    local start=$EPOCHREALTIME
    run_client "$CLIENT" --name "$NAME" --timeout 1 late
    local took
    took=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print int((b - a) * 1000) }')
    kill -CONT "$SERVER_PID"
    assert_failure 1
    assert_equal "$stderr" "$CLIENT_NAME: timed out after 1 s waiting for the reply (server stopped or stuck?)"
    assert_equal "$output" ''
    ((took >= 900)) || fail "gave up after ${took} ms, before its --timeout of 1 s"
    wait_for_line "$SERVER_LOG" '^received: late$' # its reply is posted
    # The server, running again, answers the request of the client that gave
    # up; that reply is counted by the reply semaphore, and the next client
    # must drop it (wrong sequence number) and print its own.
    assert_next_client_drops_stale_reply
}
@test "client: a stopped server is exit 1 'timed out' after --timeout; its late reply goes to nobody" {
    use sysv
    check_timed_out
}
@test "posix-client: a stopped server is exit 1 'timed out' after --timeout; its late reply goes to nobody" {
    use posix
    check_timed_out
}

# ------------------------------------------------------ servers' lifetime

check_already_running() {
    start_server "$SERVER" --name "$NAME"
    run_server "$SERVER" --name "$NAME"
    assert_failure 1
    assert_equal "$stderr" "$SERVER_NAME: $NAME already running (pid $SERVER_PID)"
    assert_objects_exist # untouched by the refused one
    run_client "$CLIENT" --name "$NAME" still
    assert_output STILL
}
@test "server: a second one of the same NAME is exit 1 'already running'" {
    use sysv
    check_already_running
}
@test "posix-server: a second one of the same NAME is exit 1 'already running'" {
    use posix
    check_already_running
}

check_takeover() {
    start_server "$SERVER" --name "$NAME"
    run_client "$CLIENT" --name "$NAME" before
    kill -KILL "$SERVER_PID"
    wait_for_exit "$SERVER_PID"
    assert_objects_exist # a killed server removes nothing
    local -A old=()
    local k
    for k in "${!READY[@]}"; do old[$k]=${READY[$k]}; done
    local old_inode=
    [[ $VARIANT == posix ]] && old_inode=$(stat -c %i "$SHM_FILE")

    start_server "$SERVER" --name "$NAME"
    assert_objects_exist
    if [[ $VARIANT == sysv ]]; then
        # the objects the killed server recorded in NAME.key were removed,
        # and said so; under the new key (a new NAME.key, maybe a new key)
        # there are exactly the new ones
        assert_equal "$(sed -n 2,3p "$SERVER_LOG")" \
            "took over: removed shmid ${old[shmid]} left by a killed server
took over: removed semid ${old[semid]} left by a killed server"
        assert_equal "$(ipcs_id -m "${old[shmid]}")" ''
        assert_equal "$(ipcs_id -s "${old[semid]}")" ''
        assert_equal "$(ipcs_key -m "${old[key]}" | grep -cv " ${READY[shmid]} ")" 0
        assert_equal "$(ipcs_key -s "${old[key]}" | grep -cv " ${READY[semid]} ")" 0
        assert_equal "$(ipcs_key -m "${READY[key]}" | wc -l)" 1
        assert_equal "$(ipcs_key -s "${READY[key]}" | wc -l)" 1
    else
        assert [ "$(stat -c %i "$SHM_FILE")" != "$old_inode" ]
    fi
    run_client "$CLIENT" --name "$NAME" after 'kill -9'
    assert_success
    assert_equal "$output" $'AFTER\nKILL -9'
    stop_server
    assert_equal "$STOP_STATUS" 0
    assert_objects_gone
}
@test "server: takes over what a server killed with SIGKILL left" {
    use sysv
    check_takeover
}
@test "posix-server: takes over what a server killed with SIGKILL left" {
    use posix
    check_takeover
}

# A client of the killed server is still waiting when the new one takes
# over: the takeover must not take that client for a live owner, and the
# client must not wait for ever.
check_takeover_under_a_waiting_client() {
    start_server "$SERVER" --name "$NAME"
    # System V: the orphan ends when the new server removes its set, however
    # long that takes to start (valgrind, a busy machine), so its --timeout
    # is only a bound; with 3 s it could time out first. POSIX: nothing will
    # ever answer it, so it must time out, and 3 s is enough.
    local orphan_timeout=3
    [[ $VARIANT != sysv ]] || orphan_timeout=$WAIT
    start_waiting_client orphan "$orphan_timeout"
    kill -KILL "$SERVER_PID"
    wait_for_exit "$SERVER_PID"
    start_server "$SERVER" --name "$NAME"
    run_client "$CLIENT" --name "$NAME" --timeout "$WAIT" 'new server'
    assert_success
    assert_output 'NEW SERVER'
    local status=0
    wait "$WAITING_PID" || status=$?
    assert_equal "$status" 1
    assert_equal "$(cat "$T/orphan.out")" ''
    if [[ $VARIANT == sysv ]]; then
        # its semaphore set was removed under it
        assert_regex "$(cat "$T/orphan.err")" "^client: server $NAME not running \(its semaphore set [0-9]+ was removed\)\$"
    else
        # it still maps the old, unlinked memory, where nobody answers
        assert_equal "$(cat "$T/orphan.err")" "posix-client: timed out after $orphan_timeout s waiting for the reply (server stopped or stuck?)"
    fi
    stop_server
    assert_equal "$STOP_STATUS" 0
    assert_objects_gone
}
@test "server: takes over while a client of the killed server still waits; that client exits 1" {
    use sysv
    check_takeover_under_a_waiting_client
}
@test "posix-server: takes over while a client of the killed server still waits; that client exits 1" {
    use posix
    check_takeover_under_a_waiting_client
}

check_cleanup() {
    local signal
    for signal in TERM INT; do
        start_server "$SERVER" --name "$NAME"
        run_client "$CLIENT" --name "$NAME" hello
        assert_objects_exist
        stop_server "$SERVER_PID" "$signal"
        assert_equal "$STOP_STATUS" 0
        assert_objects_gone
        assert_equal "$(cat "$SERVER_ERR")" ''
    done
}
@test "server: SIGTERM and SIGINT exit 0 and remove segment, set and key file" {
    use sysv
    check_cleanup
}
@test "posix-server: SIGTERM and SIGINT exit 0 and shm_unlink the object" {
    use posix
    check_cleanup
}

# make_foreign FILE...: for each FILE, another program's segment and
# semaphore set, made (by python3, through libc) under the key ftok(FILE,
# 'M') gives - the key a server's NAME.key gets if it is handed FILE's
# inode. Adds to FOREIGN_KEYS, FOREIGN_SHMIDS, FOREIGN_SEMIDS.
FOREIGN_KEYS=()
make_foreign() {
    local made key shmid semid
    # shellcheck disable=SC2016 # python code
    made=$(python3 -c 'import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
flags = 0o1000 | 0o2000 | 0o600  # IPC_CREAT | IPC_EXCL | 0600
for path in sys.argv[1:]:
    key = libc.ftok(path.encode(), ord("M"))
    shmid = libc.shmget(key, 4096, flags)
    semid = libc.semget(key, 3, flags)
    print("0x%08x" % (key & 0xFFFFFFFF), shmid, semid)' "$@")
    while read -r key shmid semid; do
        ((shmid < 0)) || FOREIGN_SHMIDS+=("$shmid")
        ((semid < 0)) || FOREIGN_SEMIDS+=("$semid")
        ((shmid >= 0 && semid >= 0)) || fail "could not make the foreign objects: $made"
        FOREIGN_KEYS+=("$key")
    done <<<"$made"
}

@test "server: another program's segment and set under its key are left alone; it takes a new key (ftok collision)" {
    use sysv
    # A collision, made: three files' inodes give keys K1 K2 K3; another
    # program makes a segment and a set under each; the files are removed.
    # ext4 hands a free inode straight back (the lowest first), so the
    # server's NAME.key gets one of them (after a valgrind log, if any):
    # its key is taken. NAME.lock and the server's log files are made
    # first, so that they do not take those inodes. The server must leave
    # the other program's objects alone and make NAME.key again (a new
    # inode, a new key) until its objects can be made.
    mkdir -m 700 "$IPC_LAB_DIR" "$IPC_LAB_DIR/shm"
    : >"$IPC_LAB_DIR/shm/$NAME.lock"
    chmod 600 "$IPC_LAB_DIR/shm/$NAME.lock"
    : >"$T/server.0.out"
    : >"$T/server.0.err"
    local scratch=("$IPC_LAB_DIR/shm/scratch1" "$IPC_LAB_DIR/shm/scratch2" "$IPC_LAB_DIR/shm/scratch3")
    touch "${scratch[@]}"
    make_foreign "${scratch[@]}"
    rm "${scratch[@]}"
    local before i
    before=$(foreign_rows)
    assert_equal "$(wc -l <<<"$before")" 6
    for i in 0 1 2; do
        assert_regex "$(ipcs_id -m "${FOREIGN_SHMIDS[i]}")" "^${FOREIGN_KEYS[i]} "
        assert_regex "$(ipcs_id -s "${FOREIGN_SEMIDS[i]}")" "^${FOREIGN_KEYS[i]} "
    done

    start_server "$SERVER" --name "$NAME"
    for i in 0 1 2; do
        assert [ "${READY[key]}" != "${FOREIGN_KEYS[i]}" ]
    done
    assert_objects_exist
    run grep -c 'took over' "$SERVER_LOG"
    assert_output 0
    run_client "$CLIENT" --name "$NAME" mine
    assert_success
    assert_output MINE
    # the other program's objects: untouched (same ids, keys, modes, sizes)
    assert_equal "$(foreign_rows)" "$before"
    stop_server
    assert_equal "$STOP_STATUS" 0
    assert_objects_gone # its own: gone
    assert_equal "$(foreign_rows)" "$before"
}
# The rows of ipcs -m and ipcs -s of the foreign ids, without their
# attach counts and times (the id, key, owner, mode and size).
foreign_rows() {
    local id
    for id in "${FOREIGN_SHMIDS[@]}"; do ipcs_id -m "$id" | awk '{ print $1, $2, $3, $4, $5 }'; done
    for id in "${FOREIGN_SEMIDS[@]}"; do ipcs_id -s "$id"; done
}

# ------------------------------------------------------------ many clients

check_twenty_clients() {
    start_server "$SERVER" --name "$NAME"
    local i j pids=()
    for i in $(seq 1 20); do
        for j in $(seq 1 10); do echo "client $i message $j"; done >"$T/in.$i"
        lab_exec "$CLIENT" --name "$NAME" --timeout "$WAIT" <"$T/in.$i" >"$T/out.$i" 2>"$T/err.$i" 3>&- &
        pids+=($!)
    done
    for i in $(seq 1 20); do
        wait "${pids[i - 1]}" || fail "client $i exited $?: $(cat "$T/err.$i")"
        assert_equal "$(cat "$T/out.$i")" "$(tr a-z A-Z <"$T/in.$i")"
    done
    assert_equal "$(grep -c '^received: client ' "$SERVER_LOG")" 200
}
@test "client: 20 clients at once each get exactly their own replies" {
    use sysv
    check_twenty_clients
}
@test "posix-client: 20 clients at once each get exactly their own replies" {
    use posix
    check_twenty_clients
}

# wait_until_request_posted MESSAGE PID: waits until client PID holds the
# mutex, has posted its request (the server being stopped, nobody takes it)
# and waits for the reply, having taken any reply that was posted already.
wait_until_request_posted() {
    local message=$1 pid=$2 tries=$((250 * LAB_TIME_SCALE))
    if [[ $VARIANT == sysv ]]; then
        # semnum 0 (mutex) taken, 1 (request) posted, 2 (reply) taken if it was
        until ipcs -s -i "${READY[semid]}" |
            awk '$1 == "0" { m = $2 } $1 == "1" { r = $2 } $1 == "2" { p = $2 }
                 END { exit !(m == 0 && r == 1 && p == 0) }'; do
            ((--tries > 0)) || fail "no request posted"
            sleep 0.02
        done
    else
        # The message is in the object and the client sleeps on a futex:
        # nothing but the wait for the reply puts it to sleep there (the
        # mutex is free, so taking it is no system call; a reply already
        # posted is taken without sleeping).
        until grep -aq "$message" "$SHM_FILE" && grep -q futex "/proc/$pid/wchan"; do
            ((--tries > 0)) || fail "no request posted"
            sleep 0.02
        done
    fi
}

# start_waiting_client MESSAGE TIMEOUT: stops the server, starts a client
# sending MESSAGE and waits until it has posted it and waits for the reply.
# Sets WAITING_PID; its output goes to $T/MESSAGE.out and .err.
start_waiting_client() {
    kill -STOP "$SERVER_PID"
    FEEDS=()
    spawn /dev/null "$T/$1.out" "$T/$1.err" "$(bin "$CLIENT")" --name "$NAME" --timeout "$2" "$1"
    WAITING_PID=$!
    wait_until_request_posted "$1" "$WAITING_PID"
}

check_holder_killed() {
    start_server "$SERVER" --name "$NAME"
    start_waiting_client held-by-the-victim 60
    # It holds the mutex: another client cannot get its turn.
    run_client "$CLIENT" --name "$NAME" --timeout 0.5 blocked
    assert_failure 1
    assert_equal "$stderr" "$CLIENT_NAME: timed out after 0.5 s waiting for the mutex (held by another client?)"
    # Killed inside its critical section, holding the mutex, its request posted.
    kill -KILL "$WAITING_PID"
    wait "$WAITING_PID" || true
    kill -CONT "$SERVER_PID"
    wait_for_line "$SERVER_LOG" '^received: held-by-the-victim$' # its reply is posted
    # SEM_UNDO gives the mutex back (robust mutex: EOWNERDEAD); the reply to
    # the dead client's request is dropped by the next one.
    assert_next_client_drops_stale_reply
}
@test "client: killed holding the mutex (SEM_UNDO), its request posted: the next clients go on, own replies" {
    use sysv
    check_holder_killed
}
@test "posix-client: killed holding the robust mutex: the next clients go on, own replies" {
    use posix
    check_holder_killed
}

# spawn IN OUT ERR PROGRAM ARGS...: runs a lab program in the background
# with those files as stdin, stdout and stderr, and without the test's FIFO
# write ends (FEEDS), so a steady client sees the end of its input when the
# test closes them. $! is the program itself (the subshell execs it). The
# files are opened in the subshell: a FIFO's open waits for the other end.
spawn() {
    local input=$1 output=$2 errors=$3
    shift 3
    (
        for fd in "${FEEDS[@]}"; do exec {fd}>&-; done
        exec "${LAB_WRAP[@]}" "$@" <"$input" >"$output" 2>"$errors" 3>&-
    ) &
}

# Clients killed with SIGKILL at random moments of their exchanges while
# steady clients, fed a few lines per round through FIFOs, exchange too.
check_kill_storm() {
    start_server "$SERVER" --name "$NAME"
    # fewer rounds under valgrind, where each victim takes a second to start
    local steady=4 rounds=$((LAB_TIME_SCALE > 1 ? 6 : 12)) i round fd victim printed
    local -a pids=()
    FEEDS=()
    for i in $(seq 1 "$steady"); do
        mkfifo "$T/feed.$i"
        spawn "$T/feed.$i" "$T/out.$i" "$T/err.$i" "$(bin "$CLIENT")" --name "$NAME" \
            --timeout "$WAIT"
        pids+=($!)
        exec {fd}>"$T/feed.$i"
        FEEDS+=("$fd")
    done
    for round in $(seq 1 "$rounds"); do
        # endless input: the victim is always in the middle of an exchange
        spawn <(seq -f "victim $round %g" 1 inf) "$T/victim.$round" "$T/victim.$round.err" \
            "$(bin "$CLIENT")" --name "$NAME" --timeout "$WAIT"
        victim=$!
        wait_for_line "$T/victim.$round" '^VICTIM ' || fail "victim $round got no reply"
        for i in $(seq 1 "$steady"); do
            printf 'steady %s round %s line %s\n' "$i" "$round" 1 "$i" "$round" 2 >&"${FEEDS[i - 1]}"
        done
        sleep "0.0$((RANDOM % 10))" # a random moment to strike, not a synchronisation
        kill -KILL "$victim" || fail "victim $round ended by itself: $(cat "$T/victim.$round.err")"
        wait "$victim" || true
        # what it printed before it died were its own replies, in order
        printed=$(wc -l <"$T/victim.$round")
        assert_equal "$(head -n "$printed" "$T/victim.$round")" "$(seq -f "VICTIM $round %g" 1 "$printed")"
    done
    for fd in "${FEEDS[@]}"; do exec {fd}>&-; done
    for i in $(seq 1 "$steady"); do
        wait_for_exit "${pids[i - 1]}" "$((WAIT * 2))" || fail "steady client $i hangs"
        wait "${pids[i - 1]}" || fail "steady client $i exited $?: $(cat "$T/err.$i")"
        assert_equal "$(cat "$T/out.$i")" \
            "$(for round in $(seq 1 "$rounds"); do printf 'STEADY %s ROUND %s LINE %s\n' "$i" "$round" 1 "$i" "$round" 2; done)"
    done
    kill -0 "$SERVER_PID"
    run_client "$CLIENT" --name "$NAME" --timeout "$WAIT" 'still served'
    assert_success
    assert_output 'STILL SERVED'
    stop_server
    assert_equal "$STOP_STATUS" 0
    assert_objects_gone
}
# bats test_tags=hidden
@test "client: SIGKILL at random moments while others run: no hang, no wrong reply" {
    use sysv
    check_kill_storm
}
@test "posix-client: SIGKILL at random moments while others run: no hang, no wrong reply" {
    use posix
    check_kill_storm
}

# ------------------------------------------------------ hostile conditions

# PosixSegment's `request` sem_t is at offset 8 (after the 4-byte
# `initialised`, aligned to 8): for set_sem_count / sem_count (lab.bash).
posix_request_offset=8

# The object truncated under the server (anyone of its uid may): its pages
# are gone, and touching them is SIGBUS. The server must say so and clean up.
# bats test_tags=memcheck
@test "posix-server: its object truncated to 0 while it waits: exit 1, one line, object and lock removed" {
    use posix
    start_server "$SERVER" --name "$NAME"
    run_client "$CLIENT" --name "$NAME" before
    assert_output BEFORE
    truncate -s 0 "$SHM_FILE"
    wait_for_exit "$SERVER_PID"
    local status=0
    wait "$SERVER_PID" || status=$?
    assert_equal "$status" 1
    assert_equal "$(cat "$SERVER_ERR")" \
        "posix-server: /ipc-lab-$(id -u)-shm-posix-$NAME: truncated while mapped; giving up"
    assert_objects_gone
}

@test "posix-client: the object truncated to 0 while it waits for the reply: exit 1 at once, one line" {
    use posix
    start_server "$SERVER" --name "$NAME"
    start_waiting_client waiting 30 # stops the server
    truncate -s 0 "$SHM_FILE"
    # within a tick or two, long before its --timeout of 30 s
    if ! wait_for_exit "$WAITING_PID"; then
        kill -KILL "$WAITING_PID"
        fail "the client did not notice the truncation"
    fi
    local status=0
    wait "$WAITING_PID" || status=$?
    assert_equal "$status" 1
    assert_equal "$(cat "$T/waiting.err")" \
        "posix-client: /ipc-lab-$(id -u)-shm-posix-$NAME: truncated while mapped"
    assert_equal "$(cat "$T/waiting.out")" ''
    kill -CONT "$SERVER_PID"
    wait_for_exit "$SERVER_PID"
    status=0
    wait "$SERVER_PID" || status=$?
    assert_equal "$status" 1
    assert_objects_gone
}

# /dev/shm full: ftruncate() only sets a size; the first store into a page
# that cannot be had is SIGBUS. posix_fallocate() asks for the pages up front.
@test "posix-server: a full /dev/shm is one line 'No space left on device' at start; nothing left" {
    can_unshare_mount || skip "needs a private mount namespace (unshare -m: root or CAP_SYS_ADMIN)"
    use posix
    # A private mount namespace with a 2-page tmpfs on /dev/shm, filled up;
    # the server runs there and the test lists what it left.
    # shellcheck disable=SC2016 # expanded by the inner sh, in the namespace
    run --separate-stderr env LEFT="$T/left" timeout -k 2 "$READY_LIMIT" unshare -m sh -c '
        mount -t tmpfs -o size=8k,mode=1777 ipc-lab-test /dev/shm || exit 99
        head -c 8192 /dev/zero >/dev/shm/filler 2>/dev/null
        status=0
        "$@" 3>&- || status=$?
        ls -A /dev/shm >"$LEFT"
        exit "$status"' sh "${LAB_WRAP[@]}" "$(bin "$SERVER")" --name "$NAME"
    assert_failure 1
    assert_equal "$output" ''
    assert_equal "$stderr" \
        "posix-server: posix_fallocate /ipc-lab-$(id -u)-shm-posix-$NAME: No space left on device"
    assert_equal "$(cat "$T/left")" filler
    run find "$IPC_LAB_DIR/$TOPIC" -mindepth 1
    assert_output ''
}

# Another program of the same uid sets the request semaphore's count to
# 2^31-1: each of those "posts" is stale. The server takes them out at once,
# logs them once, and goes on serving.
@test "posix-server: a scribbled request count is drained and logged once; no spin, clients served" {
    use posix
    start_server "$SERVER" --name "$NAME"
    run_client "$CLIENT" --name "$NAME" before
    assert_output BEFORE
    set_sem_count "$SHM_FILE" "$posix_request_offset" 0x7fffffff
    wait_for_line "$SERVER_LOG" '^ignored: .*stale' || fail "no stale posts logged"
    run_client "$CLIENT" --name "$NAME" --timeout "$WAIT" after
    assert_success
    assert_output AFTER
    assert_equal "$(sem_count "$SHM_FILE" "$posix_request_offset")" 0
    # one line for the whole lot, not one per post
    run grep -c '^ignored: ' "$SERVER_LOG"
    assert_output 1
    assert_regex "$(grep '^ignored: ' "$SERVER_LOG")" ' 2147483646 more stale posts taken out$'
    stop_server
    assert_equal "$STOP_STATUS" 0
    assert_objects_gone
}

# The System V set's count can be set with semctl(SETVAL) by anyone of our
# uid (up to SEMVMX, 32767): the same drain, one line for them all.
@test "server: a request count set with semctl SETVAL is drained and logged once; clients served" {
    use sysv
    start_server "$SERVER" --name "$NAME"
    run_client "$CLIENT" --name "$NAME" before
    assert_output BEFORE
    perl -MIPC::SysV=SETVAL -e 'semctl($ARGV[0], 1, SETVAL, 32767) or die "semctl: $!\n"' "${READY[semid]}"
    wait_for_line "$SERVER_LOG" '^ignored: .*stale' || fail "no stale posts logged"
    run_client "$CLIENT" --name "$NAME" --timeout "$WAIT" after
    assert_success
    assert_output AFTER
    # the request semaphore (semnum 1) is back to 0
    assert_equal "$(ipcs -s -i "${READY[semid]}" | awk '$1 == "1" { print $2 }')" 0
    run grep -c '^ignored: ' "$SERVER_LOG"
    assert_output 1
    assert_regex "$(grep '^ignored: ' "$SERVER_LOG")" ' 32766 more stale posts taken out$'
    stop_server
    assert_equal "$STOP_STATUS" 0
    assert_objects_gone
}

# Pid reuse: the segment names its creator's pid (shm_cpid), and here that
# pid is alive again, in a new process. The takeover must not go by it: it
# goes by the instance lock and NAME.key's records (lab::SysvKeyFile), so
# the leftovers are still the killed server's and are removed.
@test "server: takes over a killed server's leftovers even when its pid was reused" {
    require_pid_namespace
    # shellcheck disable=SC2016 # expanded by the namespace's shell
    run --separate-stderr in_pid_namespace '
        server=$(bin 07-shm/server) client=$(bin 07-shm/client)
        "$server" --name "$NAME" >"$T/ns.first.out" 2>&1 &
        first=$!
        wait_for_line "$T/ns.first.out" "^ready "
        made=$(date +%s%N) # after shmget(): the segment'"'"'s ctime is this second or earlier
        shmid=$(sed -n "1s/.* shmid=\([0-9]*\).*/\1/p" "$T/ns.first.out")
        semid=$(sed -n "1s/.* semid=\([0-9]*\).*/\1/p" "$T/ns.first.out")
        kill -KILL "$first"
        wait "$first" || true
        # IPC times have whole seconds: start the new process past the next one
        later_than() { (($(date +%s%N) > $1)); }
        wait_until later_than $(((made / 1000000000 + 1) * 1000000000 + 100000000))
        next_pid_is "$first"
        sleep 60 & # the new process with the killed server'"'"'s pid
        reused=$!
        "$server" --name "$NAME" >"$T/ns.second.out" 2>&1 &
        second=$!
        ready_or_gone() { grep -q "^ready " "$T/ns.second.out" || ! kill -0 "$second" 2>/dev/null; }
        wait_until ready_or_gone
        status=0
        if grep -q "^ready " "$T/ns.second.out"; then
            "$client" --name "$NAME" --timeout 3 mine >"$T/ns.client.out" 2>&1 || status=$?
            kill -TERM "$second"
        else
            status=refused
            ipcrm -m "$shmid" -s "$semid" # the killed server'"'"'s, left by the refusal
        fi
        wait "$second" || true
        kill "$reused"
        echo "first=$first reused=$reused status=$status"
        cat "$T/ns.client.out" 2>/dev/null || cat "$T/ns.second.out"
    '
    assert_success
    first=${lines[0]#first=}
    first=${first%% *}
    assert_equal "$output" "$(printf 'first=%s reused=%s status=0\nMINE' "$first" "$first")"
}

# bats test_tags=exchange,mechanism
@test "mechanism: System V: both sides attach the segment and take turns by semop; the message is in no system call" {
    trace_exchange --calls shmget,shmat,shmdt,shmctl,semget,semop,semtimedop,semctl \
        --server "07-shm/server --name $NAME" -- 07-shm/client --name "$NAME" hello
    local op='(semop|semtimedop)\(semid, \['
    carried server 'shmget\(0x…, [0-9]+, IPC_CREAT\|IPC_EXCL\|0600\) = shmid' "the server makes the segment with shmget(IPC_CREAT|IPC_EXCL)"
    carried server 'semget\(0x…, 3, IPC_CREAT\|IPC_EXCL\|0600\) = semid' "the server makes a set of three semaphores with semget"
    carried server 'shmat\(shmid, NULL, 0\) = 0x' "the server attaches the segment with shmat"
    carried client 'shmget\(0x…, [0-9]+, 0+\) = shmid' "the client finds the server's segment with shmget(key, size, 0)"
    carried client 'semget\(0x…, 3, 0+\) = semid' "the client finds the server's set with semget(key, 3, 0)"
    carried_in_order client "the client attaches the segment (shmat), takes the mutex (semaphore 0, -1, SEM_UNDO), posts request (1, +1), waits for reply (2, -1), gives the mutex back (0, +1)" \
        'shmat\(shmid, NULL, 0\) = 0x' \
        "$op"'[^]]*\{sem_num=0, sem_op=-1, sem_flg=SEM_UNDO\}[^]]*\], .*\) = 0$' \
        "$op"'[^]]*\{sem_num=1, sem_op=1, sem_flg=0\}[^]]*\], .*\) = 0$' \
        "$op"'[^]]*\{sem_num=2, sem_op=-1, sem_flg=0\}[^]]*\], .*\) = 0$' \
        "$op"'[^]]*\{sem_num=0, sem_op=1, sem_flg=SEM_UNDO\}[^]]*\], .*\) = 0$'
    carried_in_order server "the server waits for request (semaphore 1, -1), then posts reply (2, +1)" \
        "$op"'[^]]*\{sem_num=1, sem_op=-1, sem_flg=0\}[^]]*\], .*\) = 0$' \
        "$op"'[^]]*\{sem_num=2, sem_op=1, sem_flg=0\}[^]]*\], .*\) = 0$'
    carried_only_by hello '(server|client) +write\(1<stdout>, "(received: hello|HELLO)\\n"'
}

# The POSIX pair's semaphores and mutex are words in the mapping: sem_post,
# sem_timedwait and the mutex enter the kernel (futex) only when somebody
# has to sleep or be woken, which timing decides. So the trace proves the
# object made and mapped MAP_SHARED by both sides, and the text in no call.
# bats test_tags=exchange,mechanism
@test "mechanism: POSIX: both sides map the shm_open object MAP_SHARED; the message is in no system call" {
    trace_exchange --calls openat,mmap,munmap \
        --server "07-shm/posix-server --name $NAME" -- 07-shm/posix-client --name "$NAME" hello
    local object role
    object="/dev/shm/ipc-lab-$(id -u)-shm-posix-$NAME"
    carried posix-server "openat\([^,]*, \"$object\", O_RDWR\|O_CREAT\|O_EXCL[^)]*\) = [0-9]+<$object>" "the server makes the object with shm_open(O_CREAT|O_EXCL)"
    carried posix-client "openat\([^,]*, \"$object\", O_RDWR[^)]*\) = [0-9]+<$object>" "the client opens the server's object with shm_open(O_RDWR)"
    for role in posix-server posix-client; do
        carried "$role" "mmap\(NULL, [0-9]+, PROT_READ\|PROT_WRITE, MAP_SHARED, [0-9]+<$object>, 0\) = 0x" "$role maps the object with mmap(PROT_READ|PROT_WRITE, MAP_SHARED)"
    done
    carried_only_by hello '(posix-server|posix-client) +write\(1<stdout>, "(received: hello|HELLO)\\n"'
}

# bats test_tags=exchange
@test "README: every transcript shows what the programs print" {
    check_transcripts 07-shm
}
