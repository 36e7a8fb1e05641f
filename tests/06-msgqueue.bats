#!/usr/bin/env bats
# 06-msgqueue: System V (server, client) and POSIX (posix-server,
# posix-client) message queues. Most tests run once per variant: `sysv` or
# `posix` picks the pair, then a shared check_* function runs.

load lab

setup() {
    lab_setup
    UID_NUMBER=$(id -u)
    SYSV_QUEUES=() # "key msqid" of every System V server started, for teardown
    VICTIMS=()
}

teardown() {
    local pid
    for pid in "${SERVER_PIDS[@]}"; do
        kill -CONT "$pid" 2>/dev/null || true # a failed test may leave one stopped
    done
    lab_teardown remove_leftovers
}

# SERVER_WAIT: the kernel wait channel (/proc/PID/wchan) of the server
# waiting for a request: msgrcv(), mq_timedreceive().
sysv() {
    SERVER=06-msgqueue/server CLIENT=06-msgqueue/client TOPIC=msgqueue SERVER_WAIT=do_msgrcv
}
posix() {
    SERVER=06-msgqueue/posix-server CLIENT=06-msgqueue/posix-client TOPIC=msgqueue-posix
    SERVER_WAIT=wq_sleep
}

# start_queue_server: start_server for the chosen variant, remembering a
# System V queue so that teardown can remove it if a test killed the server.
start_queue_server() {
    start_server "$SERVER" --name "$NAME"
    if [[ $TOPIC == msgqueue ]]; then
        SYSV_QUEUES+=("${READY[key]} ${READY[msqid]}")
    fi
}

# client ARGS...: the chosen variant's client, `run` with stderr apart.
client() { run_client "$CLIENT" --name "$NAME" "$@"; }

# bg_client OUT ARGS...: a client in the background, stdout/stderr to
# OUT.out/OUT.err, bounded by CLIENT_LIMIT; sets BG_PID (the timeout process).
bg_client() {
    local out=$1
    shift
    lab_exec "$CLIENT" --name "$NAME" "$@" >"$out.out" 2>"$out.err" </dev/null 3>&- &
    BG_PID=$!
}

# direct_client ARGS...: a client in the background whose pid is the client's
# own (no timeout wrapper), so that a test can signal it. Sets BG_PID.
# (<&0: without a redirection of its own, a background job reads /dev/null.)
direct_client() {
    "${LAB_WRAP[@]}" "$(bin "$CLIENT")" --name "$NAME" "$@" <&0 3>&- &
    BG_PID=$!
}

# wait_job PID: waits (bounded) for a background job; sets JOB_STATUS.
wait_job() {
    wait_for_exit "$1" "$CLIENT_LIMIT" || {
        echo "job $1 still running after ${CLIENT_LIMIT}s" >&2
        return 1
    }
    JOB_STATUS=0
    wait "$1" || JOB_STATUS=$?
}

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# ---- System V state, for our own queue only (other suites run too)

# queue_row MSQID: the `ipcs -q` row of that queue (key msqid owner perms
# used-bytes messages), empty when it is gone.
queue_row() { ipcs -q | awk -v id="$1" '$2 == id'; }
queue_messages() { queue_row "$1" | awk '{ print $6 }'; }

# wait_for_messages MSQID COUNT: bounded wait until the queue holds COUNT messages.
wait_for_messages() {
    local deadline=$((SECONDS + READY_LIMIT + 1))
    until [[ $(queue_messages "$1") == "$2" ]]; do
        if ((SECONDS >= deadline)); then
            echo "msqid $1 holds '$(queue_messages "$1")' messages, not $2" >&2
            return 1
        fi
        sleep 0.02
    done
}

# sysv_send MSQID MTYPE [PID] BODY: one message made by perl, as a foreign
# program would send it (no tool of util-linux sends System V messages).
sysv_send() {
    perl -e 'my ($id, $type, @body) = @ARGV;
             my $packed = @body == 2 ? pack("l! l a*", $type, @body) : pack("l! a*", $type, @body);
             msgsnd($id, $packed, 0) or die "msgsnd: $!\n"' "$@"
}

# ---- POSIX queues: /dev/mqueue is not mounted here, so look at them in a
# private mount namespace (in_mq_view, lab.bash).

# mq_names: this test's POSIX queues, as /dev/mqueue would list them.
mq_names() {
    in_mq_view ls -1 "$T/mq" | grep -E "^ipc-lab-$UID_NUMBER-msgqueue-posix-$NAME(-[0-9]+)?\$" || true
}
server_mq() { echo "ipc-lab-$UID_NUMBER-msgqueue-posix-$NAME"; }
# mq_qsize QUEUE: the bytes of all messages waiting in it (QSIZE).
mq_qsize() { in_mq_view cat "$T/mq/$1" | sed -n 's/^QSIZE:\([0-9]*\).*/\1/p'; }
wait_for_qsize() {
    local deadline=$((SECONDS + READY_LIMIT + 1))
    until [[ $(mq_qsize "$1") == "$2" ]]; do
        if ((SECONDS >= deadline)); then
            echo "QSIZE of $1 is '$(mq_qsize "$1")', not $2; queues: $(mq_names)" >&2
            return 1
        fi
        sleep 0.02
    done
}

# wait_until_queue QUEUE: bounded wait until QUEUE exists.
wait_until_queue() {
    local deadline=$((SECONDS + READY_LIMIT + 1))
    until mq_names | grep -qx -- "$1"; do
        if ((SECONDS >= deadline)); then
            echo "no queue $1; queues: $(mq_names)" >&2
            return 1
        fi
        sleep 0.02
    done
}

remove_leftovers() {
    local entry key id queue
    for entry in "${SYSV_QUEUES[@]}"; do
        read -r key id <<<"$entry"
        if ipcs -q | awk -v k="$key" -v id="$id" '$1 == k && $2 == id { found = 1 } END { exit !found }'; then
            ipcrm -q "$id" || true
        fi
    done
    if [[ $BATS_TEST_DESCRIPTION == posix* ]] && in_mq_view true 2>/dev/null; then
        for queue in $(mq_names); do
            in_mq_view rm -f "$T/mq/$queue" || true
        done
    fi
    return 0
}

# ---------------------------------------------------------------- exchange

check_exchange() {
    start_queue_server
    client hello 'big World!' '' 'ünïcode 123 ~!@#$%^&*()_+' "tab	and \\ backslash"
    assert_success
    assert_equal "$stderr" ''
    assert_equal "$output" "$(printf '%s\n' HELLO 'BIG WORLD!' '' 'üNïCODE 123 ~!@#$%^&*()_+' "TAB	AND \\ BACKSLASH")"
    # the server logs each message, flushed per line
    assert_equal "$(tail -n +2 "$SERVER_LOG")" "$(printf 'received: %s\n' hello 'big World!' '' \
        'ünïcode 123 ~!@#$%^&*()_+' "tab	and \\ backslash")"
    stop_server
    assert_equal "$STOP_STATUS" 0
}
# bats test_tags=exchange,memcheck
@test "sysv: ready line names the key file, key and msqid; replies in order, bytes kept" {
    sysv
    start_queue_server
    assert_regex "$READY_LINE" "^ready pid=$SERVER_PID path=$IPC_LAB_DIR/msgqueue/$NAME\\.key key=0x[0-9a-f]{8} msqid=[0-9]+\$"
    # the key and msqid are those ipcs shows, 0600, owned by us
    run queue_row "${READY[msqid]}"
    assert_regex "$output" "^${READY[key]} +${READY[msqid]} +$(id -un) +600 "
    stop_server
    check_exchange
}
# bats test_tags=exchange,memcheck
@test "posix: ready line names the queue; replies in order, bytes kept" {
    posix
    start_queue_server
    assert_equal "$READY_LINE" "ready pid=$SERVER_PID posix=/$(server_mq)"
    stop_server
    check_exchange
}

check_stdin() {
    start_queue_server
    printf 'one\n\nthree\nno newline at the end' >"$T/in"
    client <"$T/in"
    assert_success
    assert_equal "$output" "$(printf 'ONE\n\nTHREE\nNO NEWLINE AT THE END')"
}
# bats test_tags=exchange,memcheck
@test "sysv: without MESSAGE the client sends each line of stdin" { sysv; check_stdin; }
# bats test_tags=exchange,memcheck
@test "posix: without MESSAGE the client sends each line of stdin" { posix; check_stdin; }

# bats test_tags=usage
@test "every program: --help, unknown option (2), bad --name (2); posix-client --priority 0-31" {
    check_help_and_unknown_option 06-msgqueue server client posix-server posix-client
    check_bad_names 06-msgqueue server client posix-server posix-client
    run_client 06-msgqueue/posix-client --help
    assert_output --partial '--priority P'
    for bad in 32 -1 x ''; do
        run_client 06-msgqueue/posix-client --name "$NAME" --priority "$bad" hi
        assert_failure 2
        assert_regex "$stderr" "^posix-client: bad value .* for --priority"
    done
}

check_too_long() {
    start_queue_server
    local long
    long=$(head -c 1025 /dev/zero | tr '\0' 'x')
    client first "$long" never
    assert_failure 2
    assert_output FIRST
    assert_regex "$stderr" "^${CLIENT#*/}: message too long"
    run grep -c '^received: ' "$SERVER_LOG"
    assert_output 1
}
# bats test_tags=exchange,memcheck
@test "sysv: a message over 1024 bytes is exit 2 'too long', earlier ones sent" { sysv; check_too_long; }
# bats test_tags=exchange
@test "posix: a message over 1024 bytes is exit 2 'too long', earlier ones sent" { posix; check_too_long; }

# ---------------------------------------------------------------- no server

# "At once" needs no clock here: a client that waited would say "timed out"
# after its --timeout 30, or be killed at CLIENT_LIMIT, and fail either way.
check_not_running() {
    # never started
    client --timeout 30 hello
    assert_failure 1
    assert_regex "$stderr" "^${CLIENT#*/}: server $NAME not running"
    # a killed server's leftovers (lock file, queue) are no server either
    start_queue_server
    kill -KILL "$SERVER_PID"
    wait_for_exit "$SERVER_PID"
    client --timeout 30 hello
    assert_failure 1
    assert_regex "$stderr" "not running"
}
@test "sysv: no server, or only a killed one's leftovers: exit 1 'not running' at once" { sysv; check_not_running; }
# bats test_tags=memcheck
@test "posix: no server, or only a killed one's leftovers: exit 1 'not running' at once" { posix; check_not_running; }

check_timed_out() {
    start_queue_server
    kill -STOP "$SERVER_PID"
    local start elapsed
    start=$(now_ms)
    client --timeout 1 hello
    elapsed=$(($(now_ms) - start))
    kill -CONT "$SERVER_PID"
    assert_failure 1
    assert_equal "$output" ''
    assert_equal "$stderr" "${CLIENT#*/}: timed out after 1 s waiting for server $NAME"
    ((elapsed >= 1000 && elapsed < 1000 + 5000 * LAB_TIME_SCALE))
    # the server, running again, drops the reply nobody waits for and goes on
    wait_for_line "$SERVER_LOG" '^received: hello$'
    client again
    assert_success
    assert_output AGAIN
}
@test "sysv: a stopped server: exit 1 'timed out' after --timeout" { sysv; check_timed_out; }
@test "posix: a stopped server: exit 1 'timed out' after --timeout" { posix; check_timed_out; }

# SIGALRM blocked by whoever started the client (a mask is inherited across
# exec): msgrcv() would then never be interrupted by the tick, and the
# client would wait for ever instead of timing out. lab::Ticker unblocks it.
@test "sysv: a client started with SIGALRM blocked still times out after --timeout" {
    sysv
    start_queue_server
    kill -STOP "$SERVER_PID"
    local -a LAB_WRAP=(perl -MPOSIX -e 'sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGALRM)) or die "sigprocmask: $!\n"; exec @ARGV or die "exec: $!\n"' -- "${LAB_WRAP[@]}")
    client --timeout 1 hello
    kill -CONT "$SERVER_PID"
    assert_failure 1
    assert_equal "$stderr" "client: timed out after 1 s waiting for server $NAME"
}

check_server_dies_mid_wait() {
    local signal=$1
    start_queue_server
    # Stopped inside its wait for a request, so that SIGTERM interrupts that
    # wait (EINTR) and it exits. Stopped anywhere else (still setting up after
    # its ready line, between two ticks), it would take the queued request
    # first and answer it, which is no bug but not what this test is about.
    stop_while_asleep "$SERVER_PID" "$SERVER_WAIT"
    bg_client "$T/waiting" --timeout 60 hello
    local waiting=$BG_PID
    if [[ $TOPIC == msgqueue ]]; then
        wait_for_messages "${READY[msqid]}" 1
    else
        wait_for_qsize "$(server_mq)" $((4 + 5))
    fi
    if [[ $signal == KILL ]]; then
        kill -KILL "$SERVER_PID"
    else
        kill "-$signal" "$SERVER_PID"
        kill -CONT "$SERVER_PID"
    fi
    wait_job "$waiting"
    assert_equal "$JOB_STATUS" 1
    assert_regex "$(cat "$T/waiting.err")" "^${CLIENT#*/}: server $NAME not running \((it went away|its queue was removed)\)\$"
}
@test "sysv: a server killed or stopped while a client waits: 'not running', not a hang" {
    sysv
    check_server_dies_mid_wait KILL
    check_server_dies_mid_wait TERM
}
@test "posix: a server killed or stopped while a client waits: 'not running', not a hang" {
    need_mq_view
    posix
    check_server_dies_mid_wait KILL
    check_server_dies_mid_wait TERM
}

# ---------------------------------------------------------------- servers

check_already_running() {
    start_queue_server
    run_server "$SERVER" --name "$NAME"
    assert_failure 1
    assert_regex "$stderr" "^${SERVER#*/}: $NAME already running \\(pid $SERVER_PID\\)"
    client still
    assert_output STILL
    stop_server
    assert_equal "$STOP_STATUS" 0
}
@test "sysv: a second server of the same NAME: exit 1 'already running'" { sysv; check_already_running; }
@test "posix: a second server of the same NAME: exit 1 'already running'" { posix; check_already_running; }

check_takeover() {
    start_queue_server
    local first_log=$SERVER_LOG first_id=${READY[msqid]-}
    # leave a request in the queue, then kill the server without cleanup
    kill -STOP "$SERVER_PID"
    client --timeout 0.2 stale
    assert_failure 1
    kill -KILL "$SERVER_PID"
    wait_for_exit "$SERVER_PID"
    start_queue_server
    run cat "$SERVER_LOG"
    assert_line -n 1 --partial 'left by a killed server'
    [[ $TOPIC != msgqueue ]] || assert_line -n 1 "took over: removed msqid $first_id left by a killed server"
    client fresh
    assert_success
    assert_output FRESH
    # a new queue: the stale request was never served
    run grep -c '^received: ' "$SERVER_LOG"
    assert_output 1
    run grep -h 'stale' "$SERVER_LOG" "$first_log"
    assert_output ''
    if [[ $TOPIC == msgqueue ]]; then
        assert_equal "$(queue_row "$first_id")" ''
        assert [ "${READY[msqid]}" != "$first_id" ]
    fi
    stop_server
    assert_equal "$STOP_STATUS" 0
}
@test "sysv: after kill -9 of the server, a new one removes its queue and makes a new one" { sysv; check_takeover; }
@test "posix: after kill -9 of the server, a new one removes its queue and makes a new one" { posix; check_takeover; }

check_cleanup() {
    local signal=$1
    start_queue_server
    client one two
    assert_success
    stop_server "$SERVER_PID" "$signal"
    assert_equal "$STOP_STATUS" 0
    run ls -A "$IPC_LAB_DIR/$TOPIC"
    assert_output ''
    if [[ $TOPIC == msgqueue ]]; then
        assert_equal "$(queue_row "${READY[msqid]}")" ''
    else
        assert_equal "$(mq_names)" ''
    fi
}
@test "sysv: SIGTERM and SIGINT remove the queue (ipcs -q), the key and lock files; exit 0" {
    sysv
    check_cleanup TERM
    check_cleanup INT
}
@test "posix: SIGTERM and SIGINT remove the queue (mqueue fs) and the lock file; exit 0" {
    need_mq_view
    posix
    check_cleanup TERM
    check_cleanup INT
}

@test "sysv: objects are owner-only: key file 0600 in a 0700 dir, queue 600, others refused" {
    sysv
    start_queue_server
    assert_equal "$(stat -c %a "$IPC_LAB_DIR/msgqueue")" 700
    assert_equal "$(stat -c %a "$IPC_LAB_DIR/msgqueue/$NAME.key")" 600
    assert_equal "$(queue_row "${READY[msqid]}" | awk '{ print $4 }')" 600
    # another user finds the queue (msgget with no mode bits asks for no
    # access) but may not send to it
    # shellcheck disable=SC2016 # $id, $! and $$ are perl's
    run setpriv --reuid=65534 --regid=65534 --clear-groups perl -MIPC::SysV -e '
        my $id = msgget(hex($ARGV[0]), 0) // die "msgget: $!\n";
        msgsnd($id, pack("l! l a*", 1, $$, "intruder"), IPC::SysV::IPC_NOWAIT()) or die "msgsnd: $!\n"' \
        "${READY[key]}"
    assert_failure
    assert_output 'msgsnd: Permission denied'
}

@test "posix: queues are owner-only: the server's and a client's reply queue 600" {
    need_mq_view
    posix
    start_queue_server
    kill -STOP "$SERVER_PID"
    direct_client --timeout 60 hello >/dev/null
    local waiting=$BG_PID
    wait_for_qsize "$(server_mq)" $((4 + 5))
    assert_equal "$(in_mq_view stat -c %a "$T/mq/$(server_mq)")" 600
    assert_equal "$(in_mq_view stat -c %a "$T/mq/$(server_mq)-$waiting")" 600
    kill -CONT "$SERVER_PID"
    wait_job "$waiting"
    assert_equal "$JOB_STATUS" 0
}

# ---------------------------------------------------------------- many clients

check_fifty_clients() {
    start_queue_server
    local i pids=() big
    big=$(head -c 1000 /dev/zero | tr '\0' 'b')
    for i in $(seq 50); do
        # 1 KiB messages: 50 at once overflow a System V queue (16384 bytes)
        timeout -k 2 $((30 * LAB_TIME_SCALE)) "${LAB_WRAP[@]}" "$(bin "$CLIENT")" --name "$NAME" \
            --timeout $((20 * LAB_TIME_SCALE)) "client $i one" "$i $big" "client $i three" \
            >"$T/c$i.out" 2>"$T/c$i.err" </dev/null 3>&- &
        pids+=($!)
    done
    for i in $(seq 50); do
        wait "${pids[i - 1]}" || fail "client $i: exit $? ($(cat "$T/c$i.err"))"
        assert_equal "$(cat "$T/c$i.out")" "$(printf 'CLIENT %s ONE\n%s %s\nCLIENT %s THREE' "$i" "$i" "${big^^}" "$i")"
    done
    run grep -c '^received: ' "$SERVER_LOG"
    assert_output 150
    run grep -v -e '^received: ' -e '^ready ' "$SERVER_LOG"
    assert_output ''
}
@test "sysv: 50 clients at once each get exactly their own replies" { sysv; check_fifty_clients; }
@test "posix: 50 clients at once each get exactly their own replies" { posix; check_fifty_clients; }

check_killed_clients() {
    start_queue_server
    local i victim survivors=()
    for i in $(seq 8); do
        seq 1 200 | sed "s/^/survivor $i line /" >"$T/s$i.in"
        timeout -k 2 $((30 * LAB_TIME_SCALE)) "${LAB_WRAP[@]}" "$(bin "$CLIENT")" --name "$NAME" \
            --timeout $((20 * LAB_TIME_SCALE)) <"$T/s$i.in" >"$T/s$i.out" 2>"$T/s$i.err" 3>&- &
        survivors+=($!)
    done
    # Meanwhile, victims: each SIGKILLed at a random moment of its exchange,
    # after a random number of replies, wherever it is then (sending,
    # waiting, reading).
    seq 1 20000 | sed 's/^/victim line /' >"$T/victim.in"
    for i in $(seq 8); do
        direct_client --timeout $((20 * LAB_TIME_SCALE)) <"$T/victim.in" >"$T/v$i.out" 2>/dev/null
        victim=$BG_PID
        VICTIMS+=("$victim")
        wait_for_line "$T/v$i.out" "^VICTIM LINE $((1 + RANDOM % 50))\$" "$CLIENT_LIMIT"
        kill -KILL "$victim"
        wait "$victim" || true
    done
    for i in $(seq 8); do
        wait "${survivors[i - 1]}" || fail "survivor $i: exit $? ($(cat "$T/s$i.err"))"
        assert_equal "$(cat "$T/s$i.out")" "$(tr a-z A-Z <"$T/s$i.in")"
    done
    # the server is still up and serves the next one
    client after
    assert_success
    assert_output AFTER
    if [[ $TOPIC == msgqueue ]]; then
        # replies the victims never read are purged, so they cannot pile up
        wait_for_messages "${READY[msqid]}" 0
    else
        # no reply queue of a client that ran to its end is left; a victim's
        # may be (killed before its request reached the server)
        local queue
        for queue in $(mq_names); do
            [[ $queue == "$(server_mq)" ]] && continue
            [[ " ${VICTIMS[*]} " == *" ${queue##*-} "* ]] || fail "left over: $queue"
        done
    fi
    stop_server
    assert_equal "$STOP_STATUS" 0
}
@test "sysv: clients SIGKILLed mid-exchange: others get their own replies, no orphans stay" { sysv; check_killed_clients; }
@test "posix: clients SIGKILLed mid-exchange: others get their own replies, server stays up" {
    need_mq_view
    posix
    check_killed_clients
}

# ---------------------------------------------------------------- System V only

@test "sysv: a reply left for a client that died is purged from the queue" {
    sysv
    start_queue_server
    local msqid=${READY[msqid]}
    # a client that sends its request and never reads the reply
    perl -e 'msgsnd($ARGV[0], pack("l! l a*", 1, $$, "orphan"), 0) or die "msgsnd: $!\n"; sleep 60' \
        "$msqid" 3>&- &
    local fake=$!
    wait_for_line "$SERVER_LOG" '^received: orphan$'
    wait_for_messages "$msqid" 1 # its reply, waiting for it
    kill -KILL "$fake"
    wait "$fake" || true
    wait_for_line "$SERVER_LOG" "^dropped: 1 unread reply to pid $fake: client gone\$"
    assert_equal "$(queue_messages "$msqid")" 0
}

@test "sysv: a client killed but not yet reaped (a zombie) is gone: its reply is purged" {
    sysv
    start_queue_server
    local msqid=${READY[msqid]}
    # The fake client's parent sleeps and never waits for it: once killed,
    # it stays a zombie, which kill(pid, 0) still finds.
    perl -e '$| = 1; my $child = fork // die "fork: $!\n";
        if ($child == 0) { msgsnd($ARGV[0], pack("l! l a*", 1, $$, "orphan"), 0) or die "msgsnd: $!\n"; sleep 60; exit 0 }
        print "$child\n"; sleep 60' "$msqid" >"$T/fake" 3>&- &
    HELPER_PIDS+=($!)
    local fake
    wait_for_line "$T/fake" '^[0-9]+$'
    fake=$(cat "$T/fake")
    wait_for_line "$SERVER_LOG" '^received: orphan$'
    wait_for_messages "$msqid" 1 # its reply, waiting for it
    kill -KILL "$fake"
    wait_until is_zombie "$fake"
    wait_for_line "$SERVER_LOG" "^dropped: 1 unread reply to pid $fake: client gone\$"
    assert_equal "$(queue_messages "$msqid")" 0
    is_zombie "$fake" # still a zombie when the server saw it gone
}

@test "sysv: a client never takes a reply left for an earlier process with its pid" {
    sysv
    start_queue_server
    # perl puts a reply addressed to its own pid in the queue, then becomes the client
    run --separate-stderr timeout -k 2 "$CLIENT_LIMIT" perl -e '
        msgsnd(shift, pack("l! a*", $$, "STALE REPLY"), 0) or die "msgsnd: $!\n";
        exec @ARGV or die "exec: $!\n"' "${READY[msqid]}" \
        "${LAB_WRAP[@]}" "$(bin 06-msgqueue/client)" --name "$NAME" fresh
    assert_success
    assert_output FRESH
    assert_equal "$(queue_messages "${READY[msqid]}")" 0
}

@test "sysv: garbage requests are logged and ignored; the server goes on" {
    sysv
    start_queue_server
    local msqid=${READY[msqid]} long
    long=$(head -c 1100 /dev/zero | tr '\0' 'L')
    sysv_send "$msqid" 1 'xy'                    # too short to hold a pid
    sysv_send "$msqid" 1 0 'pid zero'            # no client has pid 0
    sysv_send "$msqid" 1 $$ "$long"              # over 1024 bytes
    sysv_send "$msqid" 1 $$ "$(printf 'two\nlines')"
    wait_for_line "$SERVER_LOG" 'newline'
    run grep -c '^ignored: ' "$SERVER_LOG"
    assert_output 4
    run grep -c '^received: ' "$SERVER_LOG"
    assert_output 0
    run cat "$SERVER_LOG"
    assert_line 'ignored: request of 2 bytes: too short to hold a pid'
    assert_line 'ignored: request with pid 0'
    assert_line "ignored: pid $$: message too long (1025 bytes; at most 1024)"
    client fine
    assert_output FINE
    assert_equal "$(queue_messages "$msqid")" 0
}

# bats test_tags=hidden
@test "sysv: a live client flooding the queue does not stop the server; its replies go when it dies" {
    sysv
    start_queue_server
    local msqid=${READY[msqid]}
    # 40 requests of 1000 bytes, never a reply read: the queue fills up with
    # them (those that find it full are not sent; it says how many were)
    perl -MIPC::SysV -e '$| = 1; my $id = shift; my $body = "f" x 1000; my $sent = 0;
             for (1 .. 40) { $sent++ if msgsnd($id, pack("l! l a*", 1, $$, $body), IPC::SysV::IPC_NOWAIT()) }
             print "sent $sent\n"; sleep 60' "$msqid" >"$T/flood.out" 3>&- &
    local flood=$! sent
    wait_for_line "$T/flood.out" '^sent [0-9]+$'
    sent=$(cut -d' ' -f2 "$T/flood.out")
    # all of them answered (their replies in the queue, or waiting for room)
    # before the flooder dies: killed earlier, it leaves a number of unread
    # replies that depends on how far the server got
    wait_for_lines "$SERVER_LOG" '^received: f+$' "$sent"
    kill -0 "$SERVER_PID"
    kill -KILL "$flood"
    wait "$flood" || true
    wait_for_line "$SERVER_LOG" "^dropped: [0-9]+ unread repl(y|ies) to pid $flood: client gone\$"
    wait_for_messages "$msqid" 0
    client after
    assert_success
    assert_output AFTER
}

@test "sysv: a queue removed under the server (ipcrm) stops it: exit 1, files removed" {
    sysv
    start_queue_server
    ipcrm -q "${READY[msqid]}"
    wait_job "$SERVER_PID"
    assert_equal "$JOB_STATUS" 1
    assert_equal "$(cat "$SERVER_ERR")" "server: queue msqid ${READY[msqid]} was removed under us (ipcrm?)"
    run ls -A "$IPC_LAB_DIR/msgqueue"
    assert_output ''
}

@test "sysv: a leftover key file naming a queue that is not ours: that queue is left alone" {
    sysv
    # someone else's queue (ipcmk picks a random key), named in a leftover key file
    local other
    other=$(ipcmk -Q | awk '{ print $NF }')
    PLANTED_IPC+=("-q $other") # removed in teardown even when the test fails
    plant_key_file msgqueue "msqid=$other"
    start_queue_server
    run grep -c 'took over' "$SERVER_LOG"
    assert_output 0
    assert [ -n "$(queue_row "$other")" ]
    client ok
    assert_output OK
    stop_server
    assert [ -n "$(queue_row "$other")" ]
    ipcrm -q "$other"
}

@test "sysv: a leftover key file naming a queue under its key but made by another user: left alone" {
    sysv
    plant_others_object msgqueue M msqid
    start_queue_server
    run grep -c 'took over' "$SERVER_LOG"
    assert_output 0
    assert [ -n "$(queue_row "$OTHERS_ID")" ]
    client ok
    assert_output OK
    stop_server
    assert_equal "$STOP_STATUS" 0
    assert [ -n "$(queue_row "$OTHERS_ID")" ]
}

# ---------------------------------------------------------------- POSIX only

@test "posix: the server takes the highest priority first, FIFO within one priority" {
    need_mq_view
    posix
    start_queue_server
    kill -STOP "$SERVER_PID"
    local queued=0 spec message pids=() i=0
    # queue them one by one while the server is stopped: the order they went
    # in is known, so the order they come out shows the priorities at work
    for spec in '0 low' '31 high' '10 mid' '31 high-second' '0 low-second'; do
        bg_client "$T/p$i" --timeout $((20 * LAB_TIME_SCALE)) --priority "${spec% *}" "${spec#* }"
        pids+=("$BG_PID")
        message=${spec#* }
        queued=$((queued + 4 + ${#message}))
        wait_for_qsize "$(server_mq)" "$queued"
        i=$((i + 1))
    done
    kill -CONT "$SERVER_PID"
    for i in 0 1 2 3 4; do
        wait_job "${pids[i]}"
    assert_equal "$JOB_STATUS" 0
    done
    assert_equal "$(cat "$T/p1.out")" HIGH
    assert_equal "$(tail -n +2 "$SERVER_LOG")" "$(printf 'received: %s\n' high high-second mid low low-second)"
}

check_reply_queue_removed() { # EXPECTED-STATUS STDERR-PART CLIENT-ARGS...
    local expected=$1 part=$2
    shift 2
    direct_client "$@" >"$T/out" 2>"$T/err"
    local pid=$BG_PID
    wait_job "$pid"
    assert_equal "$JOB_STATUS" "$expected"
    if [[ -n $part ]]; then
        assert_regex "$(cat "$T/err")" "$part"
    else
        assert_equal "$(cat "$T/err")" ''
    fi
    run mq_names
    refute_output --partial "-$pid"
}
# bats test_tags=memcheck
@test "posix: the client removes its reply queue on every way out" {
    need_mq_view
    posix
    start_queue_server
    check_reply_queue_removed 0 '' ok
    check_reply_queue_removed 2 'too long' ok "$(head -c 1025 /dev/zero | tr '\0' x)"
    kill -STOP "$SERVER_PID"
    check_reply_queue_removed 1 'timed out' --timeout 0.3 late
    # SIGTERM and SIGINT while it waits for a reply
    local signal pid queued=$((4 + 4))
    for signal in TERM INT; do
        direct_client --timeout 60 late >/dev/null 2>"$T/err"
        pid=$BG_PID
        queued=$((queued + 4 + 4))
        wait_for_qsize "$(server_mq)" "$queued"
        run mq_names
        assert_line "$(server_mq)-$pid"
        kill "-$signal" "$pid"
        wait_job "$pid"
    assert_equal "$JOB_STATUS" 1
        assert_regex "$(cat "$T/err")" '^posix-client: interrupted by '
        run mq_names
        refute_output --partial "-$pid"
    done
    # SIGINT while it waits for a line of stdin (a FIFO nobody writes to)
    mkfifo "$T/in.fifo"
    exec 5<>"$T/in.fifo" # a writer, so the client's open does not wait
    direct_client --timeout 60 <"$T/in.fifo" >/dev/null 2>"$T/err"
    local reader=$BG_PID
    wait_until_queue "$(server_mq)-$reader"
    kill -INT "$reader"
    wait_job "$reader"
    exec 5>&-
    assert_equal "$JOB_STATUS" 1
    assert_equal "$(cat "$T/err")" 'posix-client: interrupted by Interrupt'
    run mq_names
    refute_output --partial "-$reader"
    kill -CONT "$SERVER_PID"
    # the server drops the replies to the clients that went away
    wait_for_line "$SERVER_LOG" "^dropped: reply to pid $pid: "
    assert_equal "$(mq_names)" "$(server_mq)"
}

@test "posix: the server removes the reply queue of a client killed with SIGKILL" {
    need_mq_view
    posix
    start_queue_server
    kill -STOP "$SERVER_PID"
    direct_client --timeout 60 doomed >/dev/null 2>&1
    local victim=$BG_PID
    wait_for_qsize "$(server_mq)" $((4 + 6))
    kill -KILL "$victim"
    wait "$victim" || true
    run mq_names
    assert_line "$(server_mq)-$victim" # SIGKILL: it could not remove it
    kill -CONT "$SERVER_PID"
    wait_for_line "$SERVER_LOG" "^removed: /$(server_mq)-$victim left by pid $victim\$"
    assert_equal "$(mq_names)" "$(server_mq)"
}

# python3 -c "$REPLY_SHAPED_THEN" PREFIX COMMAND...: makes the queue
# PREFIX-PID, PID its own, shaped like a reply queue (mq_maxmsg 1, mq_msgsize
# 1024), then becomes COMMAND (exec keeps the pid): the leftover of a
# SIGKILLed client whose pid COMMAND now has.
REPLY_SHAPED_THEN='
import ctypes, os, sys
class MqAttr(ctypes.Structure):
    _fields_ = [("mq_flags", ctypes.c_long), ("mq_maxmsg", ctypes.c_long),
                ("mq_msgsize", ctypes.c_long), ("mq_curmsgs", ctypes.c_long),
                ("reserved", ctypes.c_long * 4)]
rt = ctypes.CDLL("librt.so.1", use_errno=True)
name = "%s-%d" % (sys.argv[1], os.getpid())
queue = rt.mq_open(name.encode(), os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o600,
                   ctypes.byref(MqAttr(0, 1, 1024, 0)))
if queue < 0:
    sys.exit("mq_open %s: %s" % (name, os.strerror(ctypes.get_errno())))
rt.mq_close(queue)
os.execvp(sys.argv[2], sys.argv[2:])'
@test "posix: a reply queue left by an earlier process with the client's pid is replaced" {
    need_mq_view
    posix
    start_queue_server
    run --separate-stderr timeout -k 2 "$CLIENT_LIMIT" python3 -c "$REPLY_SHAPED_THEN" "/$(server_mq)" \
        "${LAB_WRAP[@]}" "$(bin 06-msgqueue/posix-client)" --name "$NAME" fresh
    assert_success
    assert_output FRESH
    assert_equal "$(mq_names)" "$(server_mq)"
}

@test "posix: a queue of another shape where the client's reply queue goes is left alone: exit 1" {
    need_mq_view
    posix
    start_queue_server
    # sh makes a queue named for its own pid (touch: the default shape, not a
    # reply queue's), then becomes the client (same pid)
    # shellcheck disable=SC2016 # $1, $2, $$ and $@ are the inner shell's; exec keeps its pid
    run --separate-stderr timeout -k 2 "$CLIENT_LIMIT" unshare --mount sh -c '
        mount -t mqueue mqueue "$1" && touch "$1/$2-$$" && shift 2 && exec "$@"' \
        _ "$T/mq" "$(server_mq)" "${LAB_WRAP[@]}" "$(bin 06-msgqueue/posix-client)" --name "$NAME" fresh
    assert_failure 1
    assert_output ''
    assert_regex "$stderr" "^posix-client: mq_open /$(server_mq)-[0-9]+: name clash: it is a foreign queue \\(mq_maxmsg [0-9]+, mq_msgsize [0-9]+\\), not a reply queue; left alone\$"
    local pid=${stderr#*"$(server_mq)-"}
    pid=${pid%%:*}
    run mq_names
    assert_line "$(server_mq)-$pid"
    assert_equal "$(tail -n +2 "$SERVER_LOG")" ''
}

# A reply queue /...-NAME-PID has the name of the server queue of a server
# named NAME-PID. The two kinds differ in shape (mq_maxmsg, mq_msgsize): no
# program removes, or sends into, a queue of the other kind.

@test "posix: a client whose reply queue name is a live server's queue leaves it alone: exit 1" {
    posix
    start_queue_server
    local first_pid=$SERVER_PID first_log=$SERVER_LOG
    # a client whose pid is known before it runs: sh waits for a line, then
    # becomes the client (exec keeps the pid)
    mkfifo "$T/go"
    exec 5<>"$T/go"
    # shellcheck disable=SC2016 # $@ is the inner shell's
    sh -c 'read -r _ && exec "$@" </dev/null' _ "${LAB_WRAP[@]}" "$(bin "$CLIENT")" \
        --name "$NAME" hello <"$T/go" >"$T/c.out" 2>"$T/c.err" 3>&- 5>&- &
    local client=$!
    start_server "$SERVER" --name "$NAME-$client" # its queue: that client's reply queue name
    echo go >&5
    exec 5>&-
    wait_job "$client"
    assert_equal "$JOB_STATUS" 1
    assert_equal "$(cat "$T/c.err")" "posix-client: mq_open /$(server_mq)-$client: name clash: it is a server queue (mq_maxmsg 10, mq_msgsize 1028), not a reply queue; left alone"
    assert_equal "$(cat "$T/c.out")" ''
    # both servers are whole and serve; the first never got `hello`
    run_client "$CLIENT" --name "$NAME-$client" other
    assert_success
    assert_output OTHER
    client same
    assert_success
    assert_output SAME
    assert_equal "$(tail -n +2 "$first_log")" 'received: same'
    stop_server
    assert_equal "$STOP_STATUS" 0
    stop_server "$first_pid"
    assert_equal "$STOP_STATUS" 0
}

@test "posix: a server whose queue name is a live client's reply queue leaves it alone: exit 1" {
    posix
    start_queue_server
    mkfifo "$T/in.fifo"
    exec 5<>"$T/in.fifo" # a writer, so the client's open does not wait
    direct_client --timeout $((20 * LAB_TIME_SCALE)) <"$T/in.fifo" >"$T/c.out" 2>"$T/c.err" 5>&-
    local waiting=$BG_PID
    echo first >&5
    wait_for_line "$T/c.out" '^FIRST$' # its reply queue exists; it waits for the next line
    run_server "$SERVER" --name "$NAME-$waiting"
    assert_failure 1
    assert_equal "$stderr" "posix-server: mq_open /$(server_mq)-$waiting: name clash: it is a reply queue (mq_maxmsg 1, mq_msgsize 1024), not a server queue; left alone"
    assert_equal "$output" ''
    run ls -A "$IPC_LAB_DIR/msgqueue-posix" # its lock file is gone again
    assert_output "$NAME.lock"
    # the client's reply queue still works
    echo second >&5
    exec 5>&-
    wait_job "$waiting"
    assert_equal "$JOB_STATUS" 0
    assert_equal "$(cat "$T/c.out")" "$(printf 'FIRST\nSECOND')"
    assert_equal "$(cat "$T/c.err")" ''
    stop_server
    assert_equal "$STOP_STATUS" 0
}

@test "posix: the server neither replies into nor removes a server queue named like a client's" {
    need_mq_view
    posix
    start_queue_server
    local first_pid=$SERVER_PID first_log=$SERVER_LOG
    # a client's request waits in the stopped server's queue; the client is SIGKILLed
    kill -STOP "$first_pid"
    direct_client --timeout 60 hello >/dev/null 2>&1
    local gone=$BG_PID
    wait_for_qsize "$(server_mq)" $((4 + 5))
    kill -KILL "$gone"
    wait "$gone" || true
    # its reply queue removed by hand, a server takes that name
    in_mq_view rm "$T/mq/$(server_mq)-$gone"
    start_server "$SERVER" --name "$NAME-$gone"
    kill -CONT "$first_pid"
    local clash="it is a server queue (mq_maxmsg 10, mq_msgsize 1028), not a reply queue"
    wait_for_line "$first_log" "^ignored: /$(server_mq)-$gone left by pid $gone: "
    run cat "$first_log"
    assert_line -n 1 'received: hello'
    assert_line -n 2 "ignored: reply to pid $gone: /$(server_mq)-$gone: $clash"
    assert_line -n 3 "ignored: /$(server_mq)-$gone left by pid $gone: $clash; left alone"
    # the other server got nothing from it and still serves
    run_client "$CLIENT" --name "$NAME-$gone" still
    assert_success
    assert_output STILL
    assert_equal "$(tail -n +2 "$SERVER_LOG")" 'received: still'
    stop_server
    assert_equal "$STOP_STATUS" 0
    stop_server "$first_pid"
    assert_equal "$STOP_STATUS" 0
}

# ---------------------------------------------------------------- hostile conditions

# bats test_tags=usage
@test "sysv: no room for NAME.key: exit 1, one line, and no queue left in ipcs" {
    "$BATS_TEST_DIRNAME/on-full-dir" --check || skip "needs private mount and IPC namespaces (unshare, root)"
    # One page free: NAME.lock takes it, NAME.key finds none. on-full-dir runs
    # the server in private mount and IPC namespaces: $T/full.left lists only
    # what it left (msg KEY ID, file PATH), and a leak dies with them.
    READY_LIMIT=$READY_LIMIT STOP_LIMIT=$STOP_LIMIT timeout -k 2 "$((READY_LIMIT + STOP_LIMIT + 5))" \
        "$BATS_TEST_DIRNAME/on-full-dir" 1 "$T/full" "${LAB_WRAP[@]}" "$(bin 06-msgqueue/server)" --name "$NAME"
    assert_equal "$(cat "$T/full.status")" 1
    assert_equal "$(wc -l <"$T/full.err")" 1
    assert_regex "$(cat "$T/full.err")" "^server: write .*/msgqueue/$NAME\\.key: No space left on device\$"
    assert_equal "$(cat "$T/full.left")" ''
}

@test "sysv: a queue filled with messages nobody takes is cleared; clients are served again" {
    sysv
    start_queue_server
    local msqid=${READY[msqid]}
    # two 8 KiB messages of an mtype no one reads fill msgmnb (16384 bytes):
    # without a cleanup every client's msgsnd blocks until it times out
    perl -MIPC::SysV -e 'my $id = shift; my $body = "j" x 8192;
             for (1 .. 2) { msgsnd($id, pack("l! a*", 424242, $body), IPC::SysV::IPC_NOWAIT()) or die "msgsnd: $!\n" }' \
        "$msqid"
    client --timeout 3 after
    assert_success
    assert_output AFTER
    wait_for_messages "$msqid" 0
    # said once, with the count
    run grep -c '^dropped: ' "$SERVER_LOG"
    assert_output 1
    assert_equal "$(grep '^dropped: ' "$SERVER_LOG")" 'dropped: 2 messages nobody takes (not a request, nor a recent reply to a live client)'
}

# bats test_tags=exchange,mechanism
@test "mechanism: System V: the request and the reply go through the queue (msgsnd/msgrcv), nothing else" {
    trace_exchange --server "06-msgqueue/server --name $NAME" -- 06-msgqueue/client --name "$NAME" hello
    carried client 'msgget\(0x…, 000\) = msqid' "the client finds the server's queue with msgget(key, 0)"
    carried client 'msgsnd\(msqid, \{mtype=1, mtext="<client>hello"' "the request (type 1: the client's pid, then hello) sent with msgsnd"
    carried server 'msgrcv\(msqid, \{mtype=1, mtext="<client>hello' "the server takes the request with msgrcv, type 1"
    carried server 'msgsnd\(msqid, \{mtype=<client>, mtext="HELLO"' "the reply sent with msgsnd, typed with the client's pid"
    carried client 'msgrcv\(msqid, \{mtype=<client>, mtext="HELLO' "the reply reaches the client by msgrcv of its own type"
    carried_only_by hello 'client +msgsnd\(msqid, ' 'server +msgrcv\(msqid, ' 'server +msgsnd\(msqid, ' \
        'client +msgrcv\(msqid, ' '(server|client) +write\(1<stdout>, "(received: hello|HELLO)\\n"'
}

# bats test_tags=exchange,mechanism
@test "mechanism: POSIX: the request goes through the server's queue, the reply through the client's own" {
    trace_exchange --server "06-msgqueue/posix-server --name $NAME" -- 06-msgqueue/posix-client --name "$NAME" hello
    local queue
    queue="ipc-lab-$(id -u)-msgqueue-posix-$NAME"
    carried posix-client "mq_timedsend\([0-9]+</$queue>, \"<posix-client>hello\"" "the request sent with mq_timedsend into the server's queue /$queue"
    carried posix-server "mq_timedreceive\([0-9]+</$queue>, \"<posix-client>hello\"" "the server takes the request from its queue with mq_timedreceive"
    carried posix-server "mq_timedsend\([0-9]+</$queue-<posix-client>>, \"HELLO\"" "the reply sent into the client's own queue /$queue-PID"
    carried posix-client "mq_timedreceive\([0-9]+</$queue-<posix-client>>, \"HELLO\"" "the reply taken from the client's own queue with mq_timedreceive"
    carried_only_by hello "posix-client +mq_timedsend\([0-9]+</$queue>, " "posix-server +mq_timedreceive\([0-9]+</$queue>, " \
        "posix-server +mq_timedsend\([0-9]+</$queue-<posix-client>>, " "posix-client +mq_timedreceive\([0-9]+</$queue-<posix-client>>, " \
        '(posix-server|posix-client) +write\(1<stdout>, "(received: hello|HELLO)\\n"'
}

# bats test_tags=exchange
@test "README: every transcript shows what the programs print" {
    check_transcripts 06-msgqueue
}
