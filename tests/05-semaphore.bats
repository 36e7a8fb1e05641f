#!/usr/bin/env bats
# 05-semaphore: System V and POSIX semaphores guarding a shared file.
#
# Most checks are written once, as check_NAME V, and run twice: V is the
# program prefix, "" for System V (server, client) and "posix-" for POSIX
# (posix-server, posix-client).

load lab

setup() { lab_setup; }
teardown() { lab_teardown; }

topic() { if [[ -z $1 ]]; then echo semaphore; else echo semaphore-posix; fi; }
# start_server_v V ARGS...: the variant's server, --name $NAME.
start_server_v() { start_server "05-semaphore/${1}server" --name "$NAME" "${@:2}"; }
# run_client_v V ARGS...: the variant's client, --name $NAME, under `run`.
run_client_v() { run_client "05-semaphore/${1}client" --name "$NAME" "${@:2}"; }

# start_client_v V OUT ARGS...: a client in the background, its own pid in
# CLIENT_PID (no `timeout` in between, so kill -9 hits the client itself);
# stdout to OUT, stderr to OUT.err. Bounded by wait_client.
start_client_v() {
    "${LAB_WRAP[@]}" "$(bin "05-semaphore/${1}client")" --name "$NAME" "${@:3}" \
        >"$2" 2>"$2.err" </dev/null 3>&- &
    CLIENT_PID=$!
}
# Clients that queue up behind many others (crowds, increments) get a long
# --timeout: on 2 busy cores under valgrind, 20 of them take a while. The
# bound still catches a hang.
CROWD_TIMEOUT=$((30 * LAB_TIME_SCALE))

# wait_client PID: waits (bounded) for a background client; its status in CLIENT_STATUS.
wait_client() {
    local limit=$((CROWD_TIMEOUT + CLIENT_LIMIT))
    if ! wait_for_exit "$1" "$limit"; then
        kill -KILL "$1" 2>/dev/null || true
        echo "client $1 still running after ${limit}s" >&2
        return 1
    fi
    CLIENT_STATUS=0
    wait "$1" || CLIENT_STATUS=$?
}

# The server's IPC objects that exist now, one per line: System V the set's
# `ipcs -s` line (by key or by semid), POSIX the /dev/shm files.
server_objects() {
    if [[ -z $1 ]]; then
        ipcs -s | awk -v key="${READY[key]}" -v id="${READY[semid]}" '$1 == key || $2 == id'
    else
        ls -d "/dev/shm/sem.ipc-lab-$(id -u)-semaphore-posix-$NAME-"* 2>/dev/null || true
    fi
}
# The value of semaphore N of the System V set.
sysv_value() { ipcs -s -i "${READY[semid]}" | awk -v n="$1" '$1 == n && NF == 5 { print $2 }'; }

# The kernel wait channel (/proc/PID/wchan) of a process waiting on the
# variant's semaphores: semtimedop() for System V, a futex for POSIX.
semaphore_wait() { if [[ -z $1 ]]; then echo semtimedop; else echo futex; fi; }

# wait_for_request_of V PID: waits until client PID has posted its request
# and waits for the reply. NAME.txt naming it is not enough: it writes the
# file before it posts, and a client killed in between leaves a request the
# server never hears of. After writing the file, its only sleep on a
# semaphore is the wait for the reply, which comes after the post.
# ($T/victim*.err: the clients started with start_client_v OUT write there.)
wait_for_request_of() {
    local txt
    txt=$IPC_LAB_DIR/$(topic "$1")/$NAME.txt
    if ! wait_for_line "$txt" "^request $2 " "$CLIENT_LIMIT" ||
        ! wait_until asleep_in "$2" "$(semaphore_wait "$1")"; then
        echo "client $2 did not post its request within ${CLIENT_LIMIT}s" >&2
        describe_process "$2" "$txt" "$T"/*.err
        [[ -n $1 ]] || ipcs -s -i "${READY[semid]}" >&2
        return 1
    fi
}

check_exchange() {
    local V=$1
    start_server_v "$V"
    assert_equal "${READY[path]}" "$IPC_LAB_DIR/$(topic "$V")/$NAME.txt"
    if [[ -z $V ]]; then
        assert_regex "$READY_LINE" "^ready pid=$SERVER_PID path=[^ ]+ key=0x[0-9a-f]{8} semid=[0-9]+\$"
    else
        assert_equal "$READY_LINE" "ready pid=$SERVER_PID path=${READY[path]} posix=/ipc-lab-$(id -u)-semaphore-posix-$NAME"
    fi
    [[ -n $(server_objects "$V") ]]
    run_client_v "$V" hello 'big World!' '' $'tab\there ünï 123 ~!@#'
    assert_success
    assert_equal "$output" "$(printf 'HELLO\nBIG WORLD!\n\nTAB\tHERE üNï 123 ~!@#')"
    assert_equal "$stderr" ''
    assert_equal "$(tail -n +2 "$SERVER_LOG")" "$(printf 'received: hello\nreceived: big World!\nreceived: \nreceived: tab\there ünï 123 ~!@#')"
    # The shared file still holds the last reply, tagged with the client's pid and sequence.
    run cat "${READY[path]}"
    assert_line -n 0 --regexp '^reply [0-9]+ 4$'
    assert_line -n 1 $'TAB\tHERE üNï 123 ~!@#'
}
# bats test_tags=exchange,memcheck
@test "sysv: replies in order, empty message, other bytes unchanged; ready line and log" {
    check_exchange ""
}
# bats test_tags=exchange,memcheck
@test "posix: replies in order, empty message, other bytes unchanged; ready line and log" {
    check_exchange posix-
}

check_stdin() {
    start_server_v "$1"
    printf 'one\n\nthree is Three' >"$T/in"
    run_client_v "$1" <"$T/in"
    assert_success
    assert_equal "$output" "$(printf 'ONE\n\nTHREE IS THREE')"
}
@test "sysv: without MESSAGE each stdin line is a message" { check_stdin ""; }
@test "posix: without MESSAGE each stdin line is a message" { check_stdin posix-; }

check_too_long() {
    start_server_v "$1"
    local max
    max=$(head -c 1024 /dev/zero | tr '\0' 'q')
    run_client_v "$1" first "$max" "${max}x" never
    assert_failure 2
    assert_regex "$stderr" "^${1}client: .*too long"
    assert_equal "$output" "$(printf 'FIRST\n%s' "${max^^}")"
    run grep -c '^received: ' "$SERVER_LOG"
    assert_output 2
    run grep -c never "$SERVER_LOG"
    assert_output 0
}
# bats test_tags=memcheck
@test "sysv: 1024 bytes go, 1025 is exit 2 'too long' after the earlier ones" { check_too_long ""; }
# bats test_tags=memcheck
@test "posix: 1024 bytes go, 1025 is exit 2 'too long' after the earlier ones" { check_too_long posix-; }

check_not_running() {
    local V=$1
    # nothing ever ran
    run_client_v "$V" --timeout 60 hello
    assert_failure 1
    assert_regex "$stderr" "^${V}client: .*not running"
    run_client_v "$V" --timeout 60 --increment 3
    assert_failure 1
    assert_regex "$stderr" "not running"
    # a killed server's leftovers (files, semaphores) are not a server
    start_server_v "$V"
    kill -KILL "$SERVER_PID"
    wait_for_exit "$SERVER_PID"
    [[ -n $(server_objects "$V") ]]
    run_client_v "$V" --timeout 60 hello
    assert_failure 1
    assert_regex "$stderr" "not running"
    assert_equal "$output" ''
    # "at once" needs no clock: a client that waited would have said "timed
    # out" after 60 s, or been killed at CLIENT_LIMIT, long before
    # the leftovers are taken over by the next server
    start_server_v "$V"
    stop_server
    assert_equal "$STOP_STATUS" 0
    assert_equal "$(server_objects "$V")" ''
}
@test "sysv: no server, or only a killed one's leftovers: exit 1 'not running' at once" {
    check_not_running ""
}
# bats test_tags=memcheck
@test "posix: no server, or only a killed one's leftovers: exit 1 'not running' at once" {
    check_not_running posix-
}

check_timed_out() {
    local V=$1
    start_server_v "$V"
    # Stopped inside its wait for a request: continued, it returns from that
    # wait with the late request. (POSIX: stopped just after an idle tick, it
    # would go on to look for a dead holder, find the late client - gone by
    # then - and drop its request instead of answering it.)
    stop_while_asleep "$SERVER_PID" "$(semaphore_wait "$V")"
    local start=$SECONDS
    run_client_v "$V" --timeout 0.5 late
    assert_failure 1
    assert_regex "$stderr" "^${V}client: .*timed out after 0.5 s waiting for the reply"
    assert_equal "$output" ''
    ((SECONDS - start < 4 * LAB_TIME_SCALE))
    # the next client waits for the mutex (System V: for the request in
    # progress), bounded too
    run_client_v "$V" --timeout 0.5 later
    assert_failure 1
    assert_regex "$stderr" "timed out after 0.5 s waiting for the mutex"
    kill -CONT "$SERVER_PID"
    # the late request is served when the server runs again; its reply is
    # nobody's, and the next client gets its own
    run_client_v "$V" --timeout "$CROWD_TIMEOUT" mine
    assert_success
    assert_output MINE
    run grep -c '^received: late$' "$SERVER_LOG"
    assert_output 1
}
@test "sysv: a stopped server is exit 1 'timed out'; the late reply goes to nobody" {
    check_timed_out ""
}
@test "posix: a stopped server is exit 1 'timed out'; the late reply goes to nobody" {
    check_timed_out posix-
}

check_already_running() {
    start_server_v "$1"
    run_server "05-semaphore/${1}server" --name "$NAME"
    assert_failure 1
    assert_regex "$stderr" "^${1}server: .*already running \\(pid $SERVER_PID\\)"
    run_client_v "$1" still-served
    assert_output STILL-SERVED
}
@test "sysv: a second server of the same NAME is exit 1 'already running'" {
    check_already_running ""
}
@test "posix: a second server of the same NAME is exit 1 'already running'" {
    check_already_running posix-
}

check_takeover() {
    local V=$1
    start_server_v "$V"
    local old_objects old_semid=${READY[semid]-}
    run_client_v "$V" before
    kill -KILL "$SERVER_PID"
    wait_for_exit "$SERVER_PID"
    old_objects=$(server_objects "$V")
    [[ -n $old_objects ]]
    start_server_v "$V"
    if [[ -z $V ]]; then
        # the killed server's set was removed, a new one made
        run ipcs -s -i "$old_semid"
        assert_output --partial 'not found'
        refute [ "$old_semid" = "${READY[semid]}" ]
        assert_equal "$(server_objects "$V" | wc -l)" 1
    else
        assert_equal "$(server_objects "$V" | wc -l)" 3
    fi
    run_client_v "$V" after
    assert_success
    assert_output AFTER
    run_client_v "$V" --increment 2
    assert_output 2 # a fresh counter
    stop_server
    assert_equal "$STOP_STATUS" 0
    assert_equal "$(server_objects "$V")" ''
}
@test "sysv: a server killed with SIGKILL is taken over: its set removed, a new one made" {
    check_takeover ""
}
@test "posix: a server killed with SIGKILL is taken over: its semaphores made anew" {
    check_takeover posix-
}

check_cleanup() {
    local V=$1 signal dir
    dir=$IPC_LAB_DIR/$(topic "$V")
    for signal in TERM INT; do
        start_server_v "$V"
        run_client_v "$V" --increment 1
        run_client_v "$V" hello
        [[ -n $(server_objects "$V") ]]
        stop_server "$SERVER_PID" "$signal"
        assert_equal "$STOP_STATUS" 0
        assert_equal "$(server_objects "$V")" ''
        run ls -A "$dir"
        assert_output ''
    done
}
@test "sysv: SIGTERM and SIGINT: exit 0, the set (IPC_RMID) and every file removed" {
    check_cleanup ""
}
@test "posix: SIGTERM and SIGINT: exit 0, the semaphores (sem_unlink) and every file removed" {
    check_cleanup posix-
}

check_permissions() {
    local V=$1 dir file
    dir=$IPC_LAB_DIR/$(topic "$V")
    start_server_v "$V"
    assert_equal "$(stat -c %a "$IPC_LAB_DIR" "$dir")" "$(printf '700\n700')"
    for file in "$dir"/*; do
        assert_equal "$(stat -c '%a %n' "$file")" "600 $file"
    done
    if [[ -z $V ]]; then
        assert_equal "$(ls "$dir")" "$(printf '%s\n' "$NAME".{count,key,lock,txt})"
        run ipcs -s -i "${READY[semid]}"
        assert_line 'mode=0600, access_perms=0600'
        assert_line 'nsems = 3'
    else
        assert_equal "$(ls "$dir")" "$(printf '%s\n' "$NAME".{count,lock,owner,txt})"
        for file in $(server_objects "$V"); do
            assert_equal "$(stat -c '%a %s' "$file")" '600 32'
        done
    fi
}
@test "sysv: files 0600 in a 0700 dir; the set 0600 with 3 semaphores" { check_permissions ""; }
@test "posix: files 0600 in a 0700 dir; the semaphores 0600" { check_permissions posix-; }

check_increments() {
    local V=$1 i
    start_server_v "$V"
    local -a pids
    for i in 1 2 3 4; do
        start_client_v "$V" "$T/inc.$i" --timeout "$CROWD_TIMEOUT" --increment 200
        pids+=("$CLIENT_PID")
    done
    for i in 1 2 3 4; do
        wait_client "${pids[i - 1]}"
        assert_equal "$CLIENT_STATUS" 0
    done
    assert_equal "$(cat "$IPC_LAB_DIR/$(topic "$V")/$NAME.count")" 800
    # each printed the last value it wrote; the last of them wrote 800
    assert_equal "$(cat "$T"/inc.? | sort -n | tail -n 1)" 800
}
# bats test_tags=exchange
@test "sysv: 4 clients x --increment 200 at once leave exactly 800" { check_increments ""; }
# bats test_tags=exchange
@test "posix: 4 clients x --increment 200 at once leave exactly 800" { check_increments posix-; }

check_no_lock() {
    local V=$1
    start_server_v "$V"
    # a client holds the mutex: its request waits for the stopped server
    kill -STOP "$SERVER_PID"
    start_client_v "$V" "$T/holder" --timeout "$CROWD_TIMEOUT" holding
    local holder=$CLIENT_PID
    wait_for_request_of "$V" "$holder"
    run_client_v "$V" --timeout 0.3 --increment 5
    assert_failure 1
    assert_regex "$stderr" "timed out after 0.3 s waiting for the mutex"
    run_client_v "$V" --timeout 0.3 --increment 5 --no-lock
    assert_success
    assert_output 5
    kill -CONT "$SERVER_PID"
    wait_client "$holder"
    assert_equal "$CLIENT_STATUS" 0
    assert_equal "$(cat "$T/holder")" HOLDING
}
@test "sysv: --no-lock skips the mutex (it runs while another client holds it)" { check_no_lock ""; }
@test "posix: --no-lock skips the mutex (it runs while another client holds it)" { check_no_lock posix-; }

check_killed_holder() {
    local V=$1
    start_server_v "$V"
    kill -STOP "$SERVER_PID"
    start_client_v "$V" "$T/victim" --timeout "$CROWD_TIMEOUT" from-victim
    local victim=$CLIENT_PID
    wait_for_request_of "$V" "$victim"
    if [[ -z $V ]]; then
        # killed inside the critical section: mutex taken, request posted
        kill -KILL "$victim"
        wait_client "$victim"
        assert_equal "$(sysv_value 0)" 1 # SEM_UNDO gave the mutex back at once
        assert_equal "$(sysv_value 1)" 1 # the request is still there for the server
        kill -CONT "$SERVER_PID"
    else
        # The POSIX server looks for a dead holder whenever its wait times
        # out, and drops what it left: a victim killed while the server is
        # stopped may have its request answered or dropped, whichever the
        # server, continued, does first. So the victim is stopped in its
        # wait for the reply, and killed (holding the mutex) once the server
        # has answered: its reply goes to nobody.
        kill -STOP "$victim"
        kill -CONT "$SERVER_PID"
        wait_for_line "$SERVER_LOG" '^received: from-victim$'
        kill -KILL "$victim"
        wait_client "$victim"
    fi
    run_client_v "$V" --timeout "$CROWD_TIMEOUT" from-next 'and again'
    assert_success
    assert_output "$(printf 'FROM-NEXT\nAND AGAIN')"
    run grep '^received: from-victim$' "$SERVER_LOG"
    assert_success
    if [[ -n $V ]]; then
        # POSIX: no SEM_UNDO; the server saw the dead owner and posted the mutex
        run grep -c "^repaired: pid=$victim died holding the mutex\$" "$SERVER_LOG"
        assert_output 1
    fi
}
@test "sysv: a client killed holding the mutex blocks nobody (SEM_UNDO); its reply goes to nobody" {
    check_killed_holder ""
}
# bats test_tags=memcheck
@test "posix: a client killed holding the mutex blocks nobody (the server repairs it)" {
    check_killed_holder posix-
}

# The victim's request is replaced by garbage, then by too much, while the
# server is stopped. The victim is killed only once the server has read and
# ignored what replaced it: killed before, it would leave the POSIX server a
# choice (read the request, or drop it as a dead holder's when its wait
# times out first), and the test would see one or the other by chance.
check_garbage() {
    local V=$1 txt
    txt=$IPC_LAB_DIR/$(topic "$V")/$NAME.txt
    start_server_v "$V"
    kill -STOP "$SERVER_PID"
    start_client_v "$V" "$T/victim" --timeout "$CROWD_TIMEOUT" victim
    wait_for_request_of "$V" "$CLIENT_PID"
    printf 'garbage\x01\xff' >"$txt"
    kill -CONT "$SERVER_PID"
    wait_for_line "$SERVER_LOG" '^ignored: no header line$'
    kill -KILL "$CLIENT_PID"
    wait_client "$CLIENT_PID"
    run_client_v "$V" --timeout "$CROWD_TIMEOUT" fine
    assert_output FINE
    kill -STOP "$SERVER_PID"
    start_client_v "$V" "$T/victim2" --timeout "$CROWD_TIMEOUT" victim
    wait_for_request_of "$V" "$CLIENT_PID"
    { echo "request 1 1"; head -c 5000 /dev/zero | tr '\0' a; echo; } >"$txt"
    kill -CONT "$SERVER_PID"
    wait_for_line "$SERVER_LOG" '^ignored: request too long$'
    kill -KILL "$CLIENT_PID"
    wait_client "$CLIENT_PID"
    run_client_v "$V" --timeout "$CROWD_TIMEOUT" still-fine
    assert_output STILL-FINE
    run grep '^ignored: ' "$SERVER_LOG"
    assert_line -n 0 "ignored: no header line"
    assert_line -n 1 "ignored: request too long"
    run grep -c '^received: victim' "$SERVER_LOG"
    assert_output 0
}
@test "sysv: garbage or too much in NAME.txt is ignored; the server serves on" { check_garbage ""; }
@test "posix: garbage or too much in NAME.txt is ignored; the server serves on" { check_garbage posix-; }

# Another program of the same uid raises the request count: System V with
# semctl(SETVAL) (up to SEMVMX, 32767), POSIX by writing the count into the
# named semaphore's file (2^31-1). None of those posts has a request behind
# it: the server takes them all out at once, logs them in one line, and
# serves on (before the fix: one line and one loop per post, a CPU spinning
# for minutes).
@test "sysv: a request count set with semctl SETVAL is drained and logged once; clients served" {
    start_server_v ""
    run_client_v "" before
    assert_output BEFORE
    perl -MIPC::SysV=SETVAL -e 'semctl($ARGV[0], 1, SETVAL, 32767) or die "semctl: $!\n"' "${READY[semid]}"
    wait_for_line "$SERVER_LOG" '^ignored: .*stale' || fail "no stale posts logged"
    run_client_v "" --timeout "$CROWD_TIMEOUT" after
    assert_success
    assert_output AFTER
    assert_equal "$(sysv_value 1)" 0
    # the first post found no request, the rest went at once: two lines
    run grep '^ignored: ' "$SERVER_LOG"
    assert_equal "${#lines[@]}" 2
    assert_line -n 0 "ignored: 'reply' record where a request should be"
    assert_line -n 1 "ignored: 32766 more stale posts taken out"
}
@test "posix: a request count written into the semaphore's file is drained and logged once; clients served" {
    start_server_v posix-
    run_client_v posix- before
    assert_output BEFORE
    local sem_file
    sem_file=/dev/shm/sem.ipc-lab-$(id -u)-semaphore-posix-$NAME-request
    set_sem_count "$sem_file" 0 0x7fffffff
    wait_for_line "$SERVER_LOG" '^ignored: .*stale' || fail "no stale posts logged"
    run_client_v posix- --timeout "$CROWD_TIMEOUT" after
    assert_success
    assert_output AFTER
    assert_equal "$(sem_count "$sem_file" 0)" 0
    # the first post found no request, the rest went at once: two lines
    run grep '^ignored: ' "$SERVER_LOG"
    assert_equal "${#lines[@]}" 2
    assert_line -n 0 "ignored: 'reply' record where a request should be"
    assert_line -n 1 "ignored: 2147483646 more stale posts taken out"
}

# CLIENTS clients at once, each sending MESSAGES messages of its own; those
# listed in KILL are killed with SIGKILL at a random moment of their run
# (once the exchanges have begun, 0-19 ms after the one before; 12 clients
# x 200 messages take ~130 ms here, far longer under valgrind). The others must
# get exactly their own replies, in order. Sets KILLED_MIDWAY: how many
# victims died before their last reply.
run_crowd() {
    local V=$1 clients=$2 messages=$3 kill_list=$4 i
    local -a pids numbered
    # built before any client starts (a bash loop under bats is slow)
    mapfile -t numbered < <(seq -f 'm%g' "$messages")
    for ((i = 1; i <= clients; i++)); do
        start_client_v "$V" "$T/crowd.$i" --timeout "$CROWD_TIMEOUT" "${numbered[@]/#/c$i-}"
        pids[i]=$CLIENT_PID
    done
    [[ -z $kill_list ]] || wait_for_line "$SERVER_LOG" '^received: c' "$CLIENT_LIMIT"
    for i in $kill_list; do
        sleep "0.0$((RANDOM % 2))$((RANDOM % 10))" # spreads the kills; it syncs nothing
        kill -KILL "${pids[i]}" 2>/dev/null || true
    done
    KILLED_MIDWAY=0
    local -a expected
    for ((i = 1; i <= clients; i++)); do
        expected[i]=$(seq -f "C$i-M%g" "$messages")
        wait_client "${pids[i]}"
        if [[ " $kill_list " == *" $i "* ]]; then
            # what a victim printed before it died is its own, in order
            run grep -v "^C$i-M[0-9]*\$" "$T/crowd.$i"
            assert_output ''
            assert_equal "$(cat "$T/crowd.$i")" "$(head -n "$(wc -l <"$T/crowd.$i")" <<<"${expected[i]}")"
            if ((CLIENT_STATUS == 137)); then KILLED_MIDWAY=$((KILLED_MIDWAY + 1)); fi
        else
            assert_equal "$CLIENT_STATUS" 0
            assert_equal "$(cat "$T/crowd.$i")" "${expected[i]}"
            assert_equal "$(cat "$T/crowd.$i.err")" ''
        fi
    done
}

check_crowd() {
    start_server_v "$1"
    run_crowd "$1" 20 5 ""
    run grep -c '^received: ' "$SERVER_LOG"
    assert_output 100
}
# bats test_tags=exchange
@test "sysv: 20 clients at once, 5 messages each: each gets exactly its own replies" {
    check_crowd ""
}
# bats test_tags=exchange
@test "posix: 20 clients at once, 5 messages each: each gets exactly its own replies" {
    check_crowd posix-
}

# bats test_tags=hidden
@test "sysv: clients killed with SIGKILL at random moments: the others get their own replies" {
    start_server_v ""
    local round rounds=3 messages=200 killed=0
    if ((LAB_TIME_SCALE > 1)); then rounds=1 messages=50; fi # valgrind: each client is slow anyway
    for ((round = 1; round <= rounds; round++)); do
        run_crowd "" 12 "$messages" "2 4 6 8 10 12"
        killed=$((killed + KILLED_MIDWAY))
    done
    ((killed > 0)) # the kills did land inside the clients' runs
    run_client_v "" --timeout "$CROWD_TIMEOUT" after
    assert_output AFTER
    assert_equal "$(sysv_value 0)" 1 # the mutex is free again
}

@test "posix: clients killed while waiting or holding the mutex: the others get their own replies" {
    # Killing at random moments would sometimes hit the few instructions
    # between sem_wait() and writing NAME.owner, which no server can repair
    # (README). So here every victim is killed at a known point: holding the
    # mutex with its request pending, or waiting for the mutex.
    start_server_v posix-
    kill -STOP "$SERVER_PID"
    start_client_v posix- "$T/holder" held
    local holder=$CLIENT_PID
    wait_for_request_of posix- "$holder"
    local -a waiters survivors
    local i
    for i in 1 2 3 4; do
        start_client_v posix- "$T/waiter.$i" --timeout "$CROWD_TIMEOUT" "waiter-$i"
        if ((i % 2)); then waiters+=("$CLIENT_PID"); else survivors+=("$CLIENT_PID"); fi
    done
    kill -KILL "$holder" "${waiters[@]}"
    kill -CONT "$SERVER_PID"
    for i in 2 4; do
        wait_client "${survivors[i / 2 - 1]}"
        assert_equal "$CLIENT_STATUS" 0
        assert_equal "$(cat "$T/waiter.$i")" "WAITER-$i"
    done
    run_client_v posix- --timeout "$CROWD_TIMEOUT" after
    assert_output AFTER
}

check_server_goes() {
    local V=$1
    start_server_v "$V"
    kill -STOP "$SERVER_PID"
    # `first` holds the mutex with a request pending; the server may still
    # answer it on its way out. `second` waits for the mutex: it must end.
    local timeout=2
    if [[ -z $V ]]; then timeout=$CROWD_TIMEOUT; fi # System V: both end at IPC_RMID
    start_client_v "$V" "$T/first" --timeout "$timeout" first
    wait_for_request_of "$V" "$CLIENT_PID"
    local first=$CLIENT_PID
    if [[ -z $V ]]; then
        start_client_v "$V" "$T/second" --timeout "$CROWD_TIMEOUT" second
        wait_until is_waiting_to_enter
    else
        start_client_v "$V" "$T/second" --timeout 2 second
        # NAME.txt is the last thing it opens before its wait for the mutex
        wait_until has_open "$CLIENT_PID" "$IPC_LAB_DIR/semaphore-posix/$NAME.txt"
    fi
    local second=$CLIENT_PID start=$SECONDS
    kill -TERM "$SERVER_PID"
    kill -CONT "$SERVER_PID"
    wait_for_exit "$SERVER_PID"
    wait_client "$second"
    assert_equal "$CLIENT_STATUS" 1
    # System V: IPC_RMID wakes the waiting client at once (EIDRM), long
    # before its --timeout. A POSIX semaphore lives on after sem_unlink for
    # whoever has it open, so the client waits out its timeout.
    if [[ -z $V ]]; then
        assert_equal "$(cat "$T/second.err")" "client: server $NAME not running (its semaphore set was removed)"
        ((SECONDS - start < CROWD_TIMEOUT / 2))
    else
        assert_regex "$(cat "$T/second.err")" "^posix-client: timed out after 2 s waiting for the (mutex|reply)"
    fi
    wait_client "$first"
    assert_equal "$(server_objects "$V")" ''
}
# has_open PID PATH: true when process PID has PATH open.
has_open() { find "/proc/$1/fd" -lname "$2" 2>/dev/null | grep -q .; }
# True while a client waits in its first semop on the System V set: for the
# mutex (ncount of semaphore 0) or for request to be 0 (zcount of 1).
is_waiting_to_enter() {
    ipcs -s -i "${READY[semid]}" |
        awk '$1 == 0 && NF == 5 { n = $3 } $1 == 1 && NF == 5 { z = $4 } END { exit !(n + z > 0) }'
}
@test "sysv: the server stopping while a client waits for the mutex: exit 1 at once" {
    check_server_goes ""
}
@test "posix: the server stopping while a client waits for the mutex: exit 1 'timed out'" {
    check_server_goes posix-
}

@test "sysv and posix servers of the same NAME and two NAMEs live side by side" {
    start_server_v ""
    start_server_v posix-
    start_server 05-semaphore/server --name "${NAME}b"
    run_client_v "" sysv
    assert_output SYSV
    run_client_v posix- posix
    assert_output POSIX
    run_client 05-semaphore/client --name "${NAME}b" other
    assert_output OTHER
}

@test "sysv: takeover removes only the set named in NAME.key, and only under its own key" {
    # A set of someone else's (made here with ipcmk), named in a leftover
    # NAME.key, must survive the next server's takeover.
    run ipcmk -S 1 -p 0600
    assert_success
    local foreign=${output##* }
    PLANTED_IPC+=("-s $foreign") # removed in teardown even when the test fails
    plant_key_file semaphore "semid=$foreign"
    start_server_v ""
    run grep -c 'took over' "$SERVER_LOG"
    assert_output 0
    run ipcs -s -i "$foreign"
    ipcrm -s "$foreign"
    assert_line 'nsems = 1'
    refute [ "${READY[semid]}" = "$foreign" ]
}

@test "sysv: takeover leaves a set named in NAME.key, under its key, but made by another user" {
    plant_others_object semaphore S semid
    start_server_v ""
    run grep -c 'took over' "$SERVER_LOG"
    assert_output 0
    assert [ -n "$(ipcs -s | awk -v id="$OTHERS_ID" '$2 == id')" ]
    run_client_v "" ok
    assert_output OK
    stop_server
    assert_equal "$STOP_STATUS" 0
    assert [ -n "$(ipcs -s | awk -v id="$OTHERS_ID" '$2 == id')" ]
}

@test "sysv: after kill -9, the next server removes the set named in NAME.key and says so" {
    start_server_v ""
    local old_semid=${READY[semid]} old_key=${READY[key]}
    kill -KILL "$SERVER_PID"
    wait_for_exit "$SERVER_PID"
    assert [ -n "$(ipcs -s | awk -v id="$old_semid" '$2 == id')" ]
    start_server_v ""
    assert_equal "$(sed -n 2p "$SERVER_LOG")" "took over: removed semid $old_semid left by a killed server"
    assert_equal "$(ipcs -s | awk -v id="$old_semid" -v key="$old_key" '$2 == id && $1 == key')" ''
    run_client_v "" after
    assert_output AFTER
    stop_server
    assert_equal "$STOP_STATUS" 0
    assert_equal "$(server_objects "")" ''
}

# bats test_tags=usage
@test "options: --help, unknown option, bad --name, bad --increment, stray arguments" {
    local program
    check_help_and_unknown_option 05-semaphore server client posix-server posix-client
    check_bad_names 05-semaphore server client posix-server posix-client
    for program in client posix-client; do
        run_client_v "${program%client}" --increment 0
        assert_failure 2
        run_client_v "${program%client}" --increment abc
        assert_failure 2
        run_client_v "${program%client}" --no-lock
        assert_failure 2
        assert_equal "$stderr" "$program: --no-lock goes with --increment COUNT"
        run_client_v "${program%client}" --increment 3 hello
        assert_failure 2
    done
    run_client 05-semaphore/server stray
    assert_failure 2
}

# ---- hostile conditions: a full runtime dir (tests/on-full-dir: a 16 KiB
# tmpfs in private mount and IPC namespaces, so `left` lists only what this
# server made, and a leak dies with the namespace instead of staying here).

# full_dir_server FREE_PAGES PROGRAM: runs the server there; sets FULL to
# the path prefix of its .status, .err and .left files.
full_dir_server() {
    "$BATS_TEST_DIRNAME/on-full-dir" --check || skip "needs private mount and IPC namespaces (unshare, root)"
    FULL=$T/full$1
    READY_LIMIT=$READY_LIMIT STOP_LIMIT=$STOP_LIMIT timeout -k 2 "$((READY_LIMIT + STOP_LIMIT + 5))" \
        "$BATS_TEST_DIRNAME/on-full-dir" "$1" "$FULL" "${LAB_WRAP[@]}" "$(bin "05-semaphore/$2")" --name "$NAME"
}

# bats test_tags=usage
@test "sysv: no room for NAME.key: exit 1, one line, and no semaphore set left in ipcs" {
    # Two pages free: NAME.lock and NAME.count take them, NAME.key finds none.
    full_dir_server 2 server
    assert_equal "$(cat "$FULL.status")" 1
    assert_equal "$(wc -l <"$FULL.err")" 1
    assert_regex "$(cat "$FULL.err")" "^server: write .*/semaphore/$NAME\\.key: No space left on device\$"
    assert_equal "$(cat "$FULL.left")" '' # no set (sem KEY ID), no file
}

# bats test_tags=usage
@test "sysv and posix: no room for NAME.lock or NAME.count: exit 1, no half-made file left" {
    local v free
    for v in "" posix-; do
        for free in 0 1; do
            full_dir_server "$free" "${v}server"
            assert_equal "$(cat "$FULL.status")" 1
            assert_regex "$(cat "$FULL.err")" "^${v}server: write .*/$NAME\\.(lock|count): No space left on device\$"
            assert_equal "$(cat "$FULL.left")" ''
        done
    done
}

# Pid reuse: NAME.owner names a client killed holding the mutex, and a new
# process has got its pid by the time the server looks. The pid alone says
# "alive"; the server must see that this is not the process that wrote it.
@test "posix: a client killed holding the mutex is repaired even when its pid was reused" {
    require_pid_namespace
    # shellcheck disable=SC2016 # expanded by the namespace's shell
    run --separate-stderr in_pid_namespace '
        server=$(bin 05-semaphore/posix-server) client=$(bin 05-semaphore/posix-client)
        "$server" --name "$NAME" >"$T/ns.server.out" 2>&1 &
        server_pid=$!
        wait_for_line "$T/ns.server.out" "^ready "
        kill -STOP "$server_pid"
        "$client" --name "$NAME" --timeout 30 from-the-dead >/dev/null 2>&1 &
        holder=$!
        wait_for_line "$IPC_LAB_DIR/semaphore-posix/$NAME.txt" "^request $holder "
        kill -KILL "$holder"
        wait "$holder" || true
        next_pid_is "$holder"
        sleep 60 & # the new process with the dead holder'"'"'s pid
        reused=$!
        kill -CONT "$server_pid"
        status=0
        "$client" --name "$NAME" --timeout "$((2 * READY_LIMIT))" mine >"$T/ns.client.out" 2>&1 || status=$?
        kill "$reused"
        kill -TERM "$server_pid"
        wait "$server_pid" || true
        echo "holder=$holder reused=$reused status=$status"
        cat "$T/ns.client.out"
        grep "^repaired: " "$T/ns.server.out" || true
    '
    assert_success
    holder=${lines[0]#holder=}
    holder=${holder%% *}
    assert_equal "$output" "$(printf 'holder=%s reused=%s status=0\nMINE\nrepaired: pid=%s died holding the mutex' \
        "$holder" "$holder" "$holder")"
}

# bats test_tags=exchange,mechanism
@test "mechanism: System V: the message goes through NAME.txt, between semops on the set, nothing else" {
    trace_exchange --calls semget,semop,semtimedop,semctl \
        --server "05-semaphore/server --name $NAME" -- 05-semaphore/client --name "$NAME" hello
    local file="[0-9]+<\\\$IPC_LAB_DIR/semaphore/$NAME\\.txt>" op='(semop|semtimedop)\(semid, \['
    carried server 'semget\(0x…, 3, IPC_CREAT\|IPC_EXCL\|0600\) = semid' "the server makes a set of three semaphores with semget"
    carried client 'semget\(0x…, 3, 0+\) = semid' "the client finds the server's set with semget(key, 3, 0)"
    carried_in_order client "the client takes the mutex (semaphore 0, -1, SEM_UNDO), writes the request into NAME.txt, posts request (1, +1), waits for reply (2, -1), reads the reply from NAME.txt, gives the mutex back (0, +1)" \
        "$op"'[^]]*\{sem_num=0, sem_op=-1, sem_flg=SEM_UNDO\}[^]]*\], .*\) = 0$' \
        "pwrite64\($file, \"request <client> [0-9]+\\\\nhello\\\\n\"" \
        "$op"'[^]]*\{sem_num=1, sem_op=1, sem_flg=0\}[^]]*\], .*\) = 0$' \
        "$op"'[^]]*\{sem_num=2, sem_op=-1, sem_flg=0\}[^]]*\], .*\) = 0$' \
        "pread64\($file, \"reply <client> [0-9]+\\\\nHELLO\\\\n\"" \
        "$op"'[^]]*\{sem_num=0, sem_op=1, sem_flg=SEM_UNDO\}[^]]*\], .*\) = 0$'
    carried_in_order server "the server waits for request (semaphore 1), reads the request from NAME.txt, writes the reply there, posts reply (2, +1)" \
        "$op"'[^]]*\{sem_num=1, sem_op=-1, sem_flg=0\}[^]]*\], .*\) = 0$' \
        "pread64\($file, \"request <client> [0-9]+\\\\nhello\\\\n\"" \
        "pwrite64\($file, \"reply <client> [0-9]+\\\\nHELLO\\\\n\"" \
        "$op"'[^]]*\{sem_num=2, sem_op=1, sem_flg=0\}[^]]*\], .*\) = 0$'
    carried_only_by hello "(server|client) +p(read|write)64\($file, " \
        '(server|client) +write\(1<stdout>, "(received: hello|HELLO)\\n"'
}

# POSIX semaphores are futex words in the pages both sides map: sem_post
# and sem_timedwait enter the kernel only when somebody has to sleep or be
# woken, which timing decides, so the trace proves the named semaphores
# made and mapped by both sides, and the file between them; not each post.
# bats test_tags=exchange,mechanism
@test "mechanism: POSIX: both sides map the named semaphores; the message goes through NAME.txt, nothing else" {
    trace_exchange --calls link,openat,mmap \
        --server "05-semaphore/posix-server --name $NAME" -- 05-semaphore/posix-client --name "$NAME" hello
    local file="[0-9]+<\\\$IPC_LAB_DIR/semaphore-posix/$NAME\\.txt>" sem which
    sem="/dev/shm/sem\\.ipc-lab-$(id -u)-semaphore-posix-$NAME"
    for which in mutex request reply; do
        carried posix-server "link\(\"/dev/shm/sem\.[^\"]+\", \"$sem-$which\"\) = 0" "the server makes the named semaphore $which with sem_open(O_CREAT|O_EXCL) (a file in /dev/shm)"
        carried posix-client "mmap\(NULL, [0-9]+, PROT_READ\|PROT_WRITE, MAP_SHARED, [0-9]+<$sem-$which>, 0\)" "the client opens the named semaphore $which with sem_open (mapped MAP_SHARED)"
    done
    carried_in_order posix-client "the client writes the request into NAME.txt, then reads the reply from it" \
        "pwrite64\($file, \"request <posix-client> [0-9]+\\\\nhello\\\\n\"" \
        "pread64\($file, \"reply <posix-client> [0-9]+\\\\nHELLO\\\\n\""
    carried_in_order posix-server "the server reads the request from NAME.txt, then writes the reply there" \
        "pread64\($file, \"request <posix-client> [0-9]+\\\\nhello\\\\n\"" \
        "pwrite64\($file, \"reply <posix-client> [0-9]+\\\\nHELLO\\\\n\""
    carried_only_by hello "(posix-server|posix-client) +p(read|write)64\($file, " \
        '(posix-server|posix-client) +write\(1<stdout>, "(received: hello|HELLO)\\n"'
}

# bats test_tags=exchange
@test "README: every transcript shows what the programs print" {
    check_transcripts 05-semaphore
}
