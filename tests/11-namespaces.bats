#!/usr/bin/env bats
# 11-namespaces: a server whose requests come on a POSIX queue and whose
# replies go out on a System V queue, both in its IPC namespace; a client
# elsewhere says so. ns-demo: unshare, clone and setns with CLONE_NEWIPC.
# Tests that make namespaces skip where they cannot (not root).

load lab

setup() {
    lab_setup
    UID_NUMBER=$(id -u)
    SYSV_QUEUES=() # "key msqid" of every server started, for teardown
}

# (lab_teardown continues a server a failed test left stopped, then stops it.)
teardown() { lab_teardown remove_leftovers; }

SERVER=11-namespaces/server
CLIENT=11-namespaces/client
DEMO=11-namespaces/ns-demo

# start_ns_server: start_server of this chapter, remembering its
# System V queue so that teardown can remove it if a test killed the server.
start_ns_server() {
    start_server "$SERVER" --name "$NAME"
    SYSV_QUEUES+=("${READY[key]} ${READY[msqid]}")
}

# client ARGS...: the client, `run` with stderr apart.
client() { run_client "$CLIENT" --name "$NAME" "$@"; }

# other_ns_client ARGS...: the client in a new IPC namespace of its own.
other_ns_client() {
    run --separate-stderr timeout -k 2 "$CLIENT_LIMIT" unshare --ipc \
        "${LAB_WRAP[@]}" "$(bin "$CLIENT")" --name "$NAME" "$@"
}

need_ipc_namespace() {
    unshare --ipc true 2>/dev/null || skip "needs a private IPC namespace (root: unshare --ipc)"
}

queue_row() { ipcs -q | awk -v id="$1" '$2 == id'; }
server_mq() { echo "ipc-lab-$UID_NUMBER-namespaces-$NAME"; }


remove_leftovers() {
    local entry
    for entry in "${SYSV_QUEUES[@]}"; do # "key msqid": removed only while both match
        if ipcs -q | grep -q "^${entry% *} \+${entry#* } "; then
            ipcrm -q "${entry#* }" || true
        fi
    done
    if in_mq_view true 2>/dev/null; then
        in_mq_view rm -f "$T/mq/$(server_mq)" || true
    fi
    return 0
}

# ---------------------------------------------------------------- exchange

# bats test_tags=exchange,memcheck
@test "ready line names the key file, key, msqid, POSIX queue and namespace; replies in order" {
    start_ns_server
    assert_regex "$READY_LINE" "^ready pid=$SERVER_PID path=$IPC_LAB_DIR/namespaces/$NAME\\.key key=0x[0-9a-f]{8} msqid=[0-9]+ posix=/$(server_mq) ipc=ipc:\\[[0-9]+\\]\$"
    assert_equal "${READY[ipc]}" "$(readlink "/proc/$SERVER_PID/ns/ipc")"
    run queue_row "${READY[msqid]}"
    assert_regex "$output" "^${READY[key]} +${READY[msqid]} +$(id -un) +600 "
    client hello 'big World!' '' "tab	and \\ backslash"
    assert_success
    assert_equal "$stderr" ''
    assert_equal "$output" "$(printf '%s\n' HELLO 'BIG WORLD!' '' "TAB	AND \\ BACKSLASH")"
    assert_equal "$(tail -n +2 "$SERVER_LOG")" "$(printf 'received: %s\n' hello 'big World!' '' "tab	and \\ backslash")"
    stop_server
    assert_equal "$STOP_STATUS" 0
}

# bats test_tags=exchange,memcheck
@test "without MESSAGE the client sends each line of stdin; a message over 1024 bytes is exit 2" {
    start_ns_server
    printf 'one\n\nthree\nno newline at the end' >"$T/in"
    client <"$T/in"
    assert_success
    assert_equal "$output" "$(printf 'ONE\n\nTHREE\nNO NEWLINE AT THE END')"
    client first "$(head -c 1025 /dev/zero | tr '\0' x)" never
    assert_failure 2
    assert_output FIRST
    assert_regex "$stderr" "^client: message too long"
}

# bats test_tags=usage
@test "every program: --help, unknown option (2), bad --name (2)" {
    check_help_and_unknown_option 11-namespaces server client ns-demo
    check_bad_names 11-namespaces server client ns-demo
    run_client "$DEMO" --name "$NAME" extra
    assert_failure 2
    assert_regex "$stderr" "^ns-demo: unexpected argument 'extra'"
}

# ---------------------------------------------------------------- another namespace

# bats test_tags=exchange,memcheck
@test "a client in another IPC namespace: exit 1 'not running (server is in another IPC namespace...)' at once" {
    need_ipc_namespace
    start_ns_server
    other_ns_client --timeout 30 hello
    assert_failure 1
    assert_output ''
    assert_regex "$stderr" "^client: server $NAME not running \\(server is in another IPC namespace: pid $SERVER_PID in ipc:\\[[0-9]+\\], this client in ipc:\\[[0-9]+\\]\\)\$"
    [[ $stderr == *"in ${READY[ipc]}, "* ]]
    # the same client in the server's namespace is served
    run --separate-stderr timeout -k 2 "$CLIENT_LIMIT" nsenter --ipc="/proc/$SERVER_PID/ns/ipc" \
        "${LAB_WRAP[@]}" "$(bin "$CLIENT")" --name "$NAME" again
    assert_success
    assert_output AGAIN
    assert_equal "$(tail -n +2 "$SERVER_LOG")" 'received: again'
}

# bats test_tags=exchange,memcheck
@test "a server in a private IPC namespace: clients outside say so; inside (nsenter) they are served" {
    need_ipc_namespace
    # unshare execs the server: SERVER_PID is the server's
    local -a LAB_WRAP=(unshare --ipc "${LAB_WRAP[@]}")
    start_ns_server
    assert_equal "${READY[ipc]}" "$(readlink "/proc/$SERVER_PID/ns/ipc")"
    [[ ${READY[ipc]} != "$(readlink /proc/self/ns/ipc)" ]]
    # its objects are not in our listings
    assert_equal "$(queue_row "${READY[msqid]}" | awk -v k="${READY[key]}" '$1 == k')" ''
    run grep -c "^ *$((READY[key])) " /proc/sysvipc/msg
    assert_output 0
    local -a LAB_WRAP=("${LAB_WRAP[@]:2}")
    client --timeout 30 hello
    assert_failure 1
    [[ $stderr == "client: server $NAME not running (server is in another IPC namespace: pid $SERVER_PID in ${READY[ipc]}, this client in $(readlink /proc/self/ns/ipc))" ]] ||
        fail "stderr: $stderr"
    run --separate-stderr timeout -k 2 "$CLIENT_LIMIT" nsenter --ipc="/proc/$SERVER_PID/ns/ipc" \
        "$(bin "$CLIENT")" --name "$NAME" inside
    assert_success
    assert_output INSIDE
    # ipcs in its namespace lists the queue
    run nsenter --ipc="/proc/$SERVER_PID/ns/ipc" ipcs -q
    assert_output --regexp "${READY[key]} +${READY[msqid]} +$(id -un) +600 "
    stop_server
    assert_equal "$STOP_STATUS" 0
}

# ---------------------------------------------------------------- no server

# bats test_tags=memcheck
@test "no server, or only a killed one's leftovers: exit 1 'not running' at once" {
    client --timeout 30 hello
    assert_failure 1
    assert_equal "$stderr" "client: server $NAME not running"
    start_ns_server
    kill -KILL "$SERVER_PID"
    wait_for_exit "$SERVER_PID"
    client --timeout 30 hello
    assert_failure 1
    assert_equal "$stderr" "client: server $NAME not running"
}

@test "a stopped server: exit 1 'timed out' after --timeout; it then goes on serving" {
    start_ns_server
    kill -STOP "$SERVER_PID"
    local before=${EPOCHREALTIME/./} waited_ms
    client --timeout 1 hello
    waited_ms=$(((${EPOCHREALTIME/./} - before) / 1000))
    kill -CONT "$SERVER_PID"
    assert_failure 1
    assert_equal "$stderr" "client: timed out after 1 s waiting for server $NAME"
    assert [ "$waited_ms" -ge 1000 ]
    assert [ "$waited_ms" -lt $((1000 + 5000 * LAB_TIME_SCALE)) ]
    wait_for_line "$SERVER_LOG" '^received: hello$'
    client again
    assert_success
    assert_output AGAIN
}

@test "a server killed while a client waits for its reply: 'not running', not a hang" {
    start_ns_server
    kill -STOP "$SERVER_PID"
    lab_exec "$CLIENT" --name "$NAME" --timeout 60 hello >"$T/c.out" 2>"$T/c.err" </dev/null 3>&- &
    local waiting=$! client_pid
    wait_until pgrep -P "$waiting" >/dev/null
    client_pid=$(pgrep -P "$waiting")
    # its request sent, it waits for the reply
    wait_until asleep_in "$client_pid" do_msgrcv || describe_process "$client_pid" "$T/c.err"
    kill -KILL "$SERVER_PID"
    wait_for_exit "$waiting" "$CLIENT_LIMIT"
    local status=0
    wait "$waiting" || status=$?
    assert_equal "$status" 1
    assert_regex "$(cat "$T/c.err")" "^client: server $NAME not running \\((it went away|its queue was removed)\\)\$"
}

# ---------------------------------------------------------------- servers

@test "a second server of the same NAME: exit 1 'already running'; the first still serves" {
    check_second_server_refused 11-namespaces "^server: $NAME already running \\(pid @PID@\\)\$"
}

@test "after kill -9 of the server, a new one takes over both queues" {
    start_ns_server
    local first_id=${READY[msqid]}
    kill -KILL "$SERVER_PID"
    wait_for_exit "$SERVER_PID"
    start_ns_server
    run cat "$SERVER_LOG"
    assert_line -n 1 "took over: removed msqid $first_id left by a killed server"
    assert_line -n 2 "took over: removed /$(server_mq) left by a killed server"
    assert_equal "$(queue_row "$first_id")" ''
    client fresh
    assert_success
    assert_output FRESH
}

@test "SIGTERM and SIGINT remove both queues (ipcs -q, mqueue fs) and the files; exit 0" {
    need_mq_view
    local signal
    for signal in TERM INT; do
        start_ns_server
        client one
        assert_success
        assert_equal "$(in_mq_view stat -c %a "$T/mq/$(server_mq)")" 600
        stop_server "$SERVER_PID" "$signal"
        assert_equal "$STOP_STATUS" 0
        run ls -A "$IPC_LAB_DIR/namespaces"
        assert_output ''
        assert_equal "$(queue_row "${READY[msqid]}")" ''
        assert_equal "$(in_mq_view ls -A "$T/mq" | grep -cx "$(server_mq)")" 0
    done
}

# Replies to clients killed before they took them fill the System V queue
# (msgmnb, 16384 bytes); the server drops those and serves the living.
# bats test_tags=hidden
@test "replies nobody will take (dead clients' pids) are purged; live clients are served" {
    start_ns_server
    local dead
    sleep 0 &
    dead=$!
    wait "$dead"
    # shellcheck disable=SC2016 # perl code
    perl -MIPC::SysV=IPC_NOWAIT -e 'my ($id, $pid) = @ARGV; my $body = "r" x 1024;
        for (1 .. 64) { msgsnd($id, pack("l! a*", $pid, $body), IPC_NOWAIT) or last }' \
        "${READY[msqid]}" "$dead"
    client --timeout 3 after
    assert_success
    assert_output AFTER
    run grep '^dropped: ' "$SERVER_LOG"
    assert_output --regexp '^dropped: 1[0-9] replies to clients that are gone$'
}

# ---------------------------------------------------------------- ns-demo

# bats test_tags=exchange,memcheck
@test "ns-demo: queues of one namespace are not in another; pipe and socket cross; limits are per namespace" {
    need_ipc_namespace
    run_client "$DEMO" --name "$NAME"
    assert_success
    assert_equal "$stderr" ''
    local key=${output#*msgget(}
    key=${key%%,*}
    assert_line -n 0 "1. pipe2() and socketpair(AF_UNIX) made in $(readlink /proc/self/ns/ipc)"
    assert_line -n 1 --regexp '^2\. unshare\(CLONE_NEWIPC\): now in ipc:\[[0-9]+\] \(A, new and empty\)$'
    assert_line --regexp "^   \\[child [0-9]+\\] msgget\\($key, 0\\): No such file or directory\$"
    assert_line --regexp "^   \\[child [0-9]+\\] mq_open\\(/ipc-lab-$UID_NUMBER-namespaces-demo-$NAME\\): No such file or directory\$"
    assert_line --regexp '^   \[child [0-9]+\] /proc/sysvipc/msg: none$'
    assert_line '   limits set in A: msgmax 8192 -> 4096, mqueue msg_max 10 -> 5'
    assert_line --regexp '^   \[child [0-9]+\] limits: msgmax 8192, mqueue msg_max 10$'
    assert_line --regexp '^   \[child [0-9]+\] read from the pipe: "sent through a pipe made before the namespaces"$'
    assert_line --regexp '^   via the socket pair: the child says hello from ipc:\[[0-9]+\]$'
    assert_line --regexp '^   msgget\(0x[0-9a-f]+, 0\): msqid [0-9]+, holding "left in B by pid [0-9]+"$'
    assert_line --regexp '^   setns\(A\): back in ipc:\[[0-9]+\]: msgrcv "left in A", mq_receive "left in A", msgmax 4096$'
    # three namespaces: ours, A and B
    run grep -o 'ipc:\[[0-9]*\]' <<<"$output"
    assert_equal "$(sort -u <<<"$output" | wc -l)" 3
    # nothing of it in our namespace, nothing left in the runtime dir
    run grep -c "^ *$((key)) " /proc/sysvipc/msg
    assert_output 0
    run ls -A "$IPC_LAB_DIR/namespaces-demo"
    assert_output ''
}

# bats test_tags=exchange
@test "ns-demo: without CAP_SYS_ADMIN, one line and exit 1" {
    command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
    setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null ||
        skip "cannot run a program as another user (needs CAP_SETUID)"
    mkdir -m 700 "$T/nobody"
    chmod 755 "$T"
    chown 65534:65534 "$T/nobody"
    run --separate-stderr env IPC_LAB_DIR="$T/nobody/run" timeout -k 2 "$CLIENT_LIMIT" \
        setpriv --reuid=65534 --regid=65534 --clear-groups "$(bin "$DEMO")"
    assert_failure 1
    assert_output ''
    assert_equal "$stderr" 'ns-demo: unshare(CLONE_NEWIPC): Operation not permitted (an IPC namespace needs CAP_SYS_ADMIN: run it as root)'
}

# bats test_tags=exchange,mechanism
@test "mechanism: the request goes through the server's POSIX queue, the reply through the System V queue, nothing else" {
    trace_exchange --server "11-namespaces/server --name $NAME" -- 11-namespaces/client --name "$NAME" hello
    local queue
    queue="ipc-lab-$(id -u)-namespaces-$NAME"
    carried client "mq_timedsend\([0-9]+</$queue>, \"<client>hello\"" "the request (the client's pid, then hello) sent with mq_timedsend into the server's queue /$queue"
    carried server "mq_timedreceive\([0-9]+</$queue>, \"<client>hello\"" "the server takes the request from /$queue with mq_timedreceive"
    carried server 'msgsnd\(msqid, \{mtype=<client>, mtext="HELLO"' "the reply sent on the System V queue with msgsnd, typed with the client's pid"
    carried client 'msgrcv\(msqid, \{mtype=<client>, mtext="HELLO' "the reply taken from the System V queue with msgrcv of the client's own type"
    carried_only_by hello "client +mq_timedsend\([0-9]+</$queue>, " "server +mq_timedreceive\([0-9]+</$queue>, " \
        'server +msgsnd\(msqid, ' 'client +msgrcv\(msqid, ' '(server|client) +write\(1<stdout>, "(received: hello|HELLO)\\n"'
}

# bats test_tags=exchange
@test "README: every transcript shows what the programs print" {
    check_transcripts 11-namespaces
}
