#!/usr/bin/env bats
# 10-dbus: a service on a private session bus, driven by the lab's client and
# by independent clients (busctl, dbus-send, dbus-monitor).

load lab

# One private bus for this file: never the machine's own.
setup_file() {
    BUS_DIR=$(mktemp -d /tmp/ipl-bus.XXXXXX)
    dbus-daemon --session --address="unix:path=$BUS_DIR/bus" --nofork --nopidfile \
        --print-address=4 4>"$BUS_DIR/address" 2>"$BUS_DIR/daemon.err" </dev/null 3>&- &
    echo $! >"$BUS_DIR/pid"
    local tries=0
    until [[ -s $BUS_DIR/address ]]; do # printed once it accepts connections
        ((++tries < 250)) || { cat "$BUS_DIR/daemon.err" >&3; return 1; }
        sleep 0.02
    done
    DBUS_SESSION_BUS_ADDRESS=$(head -n 1 "$BUS_DIR/address")
    export BUS_DIR DBUS_SESSION_BUS_ADDRESS
}

teardown_file() {
    kill "$(cat "$BUS_DIR/pid")" 2>/dev/null || true
    rm -rf "$BUS_DIR"
}

setup() {
    lab_setup
    SERVICE=org.ipclab.Lab.$NAME
}
teardown() { lab_teardown; }

# has_owner SERVICE: prints true or false, asking the bus itself.
has_owner() {
    dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner "string:$1" | awk '{ print $2 }'
}

# bats test_tags=exchange,memcheck
@test "exchange: ready line names service and object; replies in order; received lines" {
    start_server 10-dbus/server --name "$NAME"
    assert_equal "$READY_LINE" "ready pid=$SERVER_PID service=$SERVICE object=/org/ipclab/Lab"
    run_client 10-dbus/client --name "$NAME" hello 'big World!' '' 'ünï 123'
    assert_success
    assert_output "$(printf 'HELLO\nBIG WORLD!\n\nüNï 123')"
    stop_server
    assert_equal "$STOP_STATUS" 0
    assert_equal "$(tail -n +2 "$SERVER_LOG")" "$(printf 'received: hello\nreceived: big World!\nreceived: \nreceived: ünï 123')"
}

# bats test_tags=exchange,memcheck
@test "client: reads stdin lines when given no MESSAGE" {
    start_server 10-dbus/server --name "$NAME"
    printf 'one\ntwo' >"$T/in"
    run_client 10-dbus/client --name "$NAME" <"$T/in"
    assert_success
    assert_output "$(printf 'ONE\nTWO')"
}

# bats test_tags=exchange
@test "busctl and dbus-send call Upper; the property counts; introspection lists the interface" {
    start_server 10-dbus/server --name "$NAME"
    run timeout 10 busctl --user call "$SERVICE" /org/ipclab/Lab org.ipclab.Lab Upper s 'via busctl'
    assert_success
    assert_output 's "VIA BUSCTL"'
    run timeout 10 dbus-send --session --print-reply=literal --dest="$SERVICE" /org/ipclab/Lab \
        org.ipclab.Lab.Upper 'string:via dbus-send'
    assert_success
    assert_output --regexp '^ *VIA DBUS-SEND$'
    run timeout 10 busctl --user get-property "$SERVICE" /org/ipclab/Lab org.ipclab.Lab MessagesServed
    assert_success
    assert_output 't 2'
    run timeout 10 busctl --user introspect --xml-interface "$SERVICE" /org/ipclab/Lab
    assert_success
    assert_output --partial '<interface name="org.ipclab.Lab">'
    assert_output --partial '<method name="Upper">'
    assert_output --partial '<signal name="MessageServed">'
    assert_output --partial '<property name="MessagesServed" type="t" access="read">'
    # read-only: setting it is refused
    run timeout 10 busctl --user set-property "$SERVICE" /org/ipclab/Lab org.ipclab.Lab MessagesServed t 7
    assert_failure
}

# bats test_tags=exchange
@test "dbus-monitor sees MessageServed for each message served" {
    start_server 10-dbus/server --name "$NAME"
    dbus-monitor --session "type='signal',sender='$SERVICE',interface='org.ipclab.Lab',member='MessageServed'" \
        >"$T/monitor" 2>&1 </dev/null 3>&- &
    monitor=$!
    # dbus-monitor is ready once it has said it is monitoring (NameLost/NameAcquired)
    wait_for_line "$T/monitor" 'member=Name(Acquired|Lost)'
    run_client 10-dbus/client --name "$NAME" first second
    assert_success
    wait_for_line "$T/monitor" 'string "second"'
    kill "$monitor"
    run grep -c 'member=MessageServed' "$T/monitor"
    assert_output 2
    assert grep -q 'string "first"' "$T/monitor"
}

# bats test_tags=memcheck
@test "a message over 1024 bytes: the client refuses it (exit 2); the server answers TooLong" {
    start_server 10-dbus/server --name "$NAME"
    long=$(head -c 1025 /dev/zero | tr '\0' x)
    run_client 10-dbus/client --name "$NAME" ok "$long" never
    assert_failure 2
    assert_output OK
    assert_regex "$stderr" '^client: message too long'
    run timeout 10 busctl --user call "$SERVICE" /org/ipclab/Lab org.ipclab.Lab Upper s "$long"
    assert_failure
    assert_output --partial 'message too long (1025 bytes; at most 1024)'
    run timeout 10 dbus-send --session --print-reply --dest="$SERVICE" /org/ipclab/Lab \
        org.ipclab.Lab.Upper "string:$long"
    assert_failure
    assert_output --partial 'org.ipclab.Lab.Error.TooLong'
    run_client 10-dbus/client --name "$NAME" 'still serving'
    assert_output 'STILL SERVING'
}

# bats test_tags=memcheck
@test "not running: no owner is exit 1 at once; a missing bus too" {
    run_client 10-dbus/client --name "$NAME" --timeout 60 hello
    assert_failure 1
    assert_equal "$stderr" "client: server $NAME not running ($SERVICE has no owner)"
    DBUS_SESSION_BUS_ADDRESS=unix:path=$T/no-bus run_client 10-dbus/client --name "$NAME" hello
    assert_failure 1
    assert_regex "$stderr" '^client: session bus not running'
}

@test "timed out: a stopped server makes the call fail after --timeout, exit 1" {
    start_server 10-dbus/server --name "$NAME"
    kill -STOP "$SERVER_PID"
    run_client 10-dbus/client --name "$NAME" --timeout 0.5 hello
    kill -CONT "$SERVER_PID"
    assert_failure 1
    assert_equal "$stderr" "client: timed out after 0.5 s waiting for the reply from $SERVICE"
    run_client 10-dbus/client --name "$NAME" again
    assert_output AGAIN
}

@test "already running: a second server of the NAME is refused; the first keeps serving" {
    check_second_server_refused 10-dbus "^server: $NAME already running \\(${SERVICE//./\\.} has an owner\\)\$"
}

# bats test_tags=memcheck
@test "SIGTERM and SIGINT: the name is released and the server exits 0" {
    for signal in TERM INT; do
        start_server 10-dbus/server --name "$NAME"
        assert_equal "$(has_owner "$SERVICE")" true
        stop_server "$SERVER_PID" "$signal"
        assert_equal "$STOP_STATUS" 0
        assert_equal "$(has_owner "$SERVICE")" false
    done
}

@test "takeover: after kill -9 the bus frees the name and a new server starts" {
    start_server 10-dbus/server --name "$NAME"
    kill -KILL "$SERVER_PID"
    wait_for_exit "$SERVER_PID"
    start_server 10-dbus/server --name "$NAME"
    run_client 10-dbus/client --name "$NAME" back
    assert_output BACK
}

@test "names: NAME maps to a bus name (others to _, a leading digit gets _)" {
    start_server 10-dbus/server --name "9a.b-c$$"
    assert_equal "${READY[service]}" "org.ipclab.Lab._9a_b_c$$"
    run_client 10-dbus/client --name "9a.b-c$$" ok
    assert_output OK
    for bad in '' .x 'a b' "$(printf 'n%.0s' {1..41})"; do
        run_client 10-dbus/client --name "$bad" x
        assert_failure 2
        run_server 10-dbus/server --name "$bad"
        assert_failure 2
    done
}

@test "a message that is not UTF-8 is refused by the client, exit 2" {
    start_server 10-dbus/server --name "$NAME"
    run_client 10-dbus/client --name "$NAME" "$(printf 'bad \xff byte')"
    assert_failure 2
    assert_equal "$stderr" 'client: message is not valid UTF-8 (D-Bus strings must be)'
}

@test "20 clients at once each get their own replies" {
    start_server 10-dbus/server --name "$NAME"
    pids=()
    for i in $(seq 1 20); do
        lab_exec 10-dbus/client --name "$NAME" "client $i a" "client $i b" >"$T/out.$i" 2>&1 &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
    for i in $(seq 1 20); do
        assert_equal "$(cat "$T/out.$i")" "$(printf 'CLIENT %s A\nCLIENT %s B' "$i" "$i")"
    done
    run timeout 10 busctl --user get-property "$SERVICE" /org/ipclab/Lab org.ipclab.Lab MessagesServed
    assert_output 't 40'
}

@test "a server whose log reader goes away ends with exit 1 and releases its name" {
    mkfifo "$T/log"
    "${LAB_WRAP[@]}" "$(bin 10-dbus/server)" --name "$NAME" >"$T/log" 2>"$T/err" </dev/null 3>&- &
    pid=$!
    SERVER_PIDS+=("$pid")
    timeout "$READY_LIMIT" head -n 1 <"$T/log" >/dev/null # the ready line, then close
    run_client 10-dbus/client --name "$NAME" hello
    assert_failure 1
    wait_for_exit "$pid"
    status=0
    wait "$pid" || status=$?
    assert_equal "$status" 1
    assert_regex "$(cat "$T/err")" '^server: write stdout: Broken pipe'
    assert_equal "$(has_owner "$SERVICE")" false
}

# bats test_tags=hidden
@test "a server killed while it owes a reply: 'not running', not 'timed out'" {
    start_server 10-dbus/server --name "$NAME"
    dbus-monitor --session "type='method_call',member='Upper',path='/org/ipclab/Lab'" \
        >"$T/monitor" 2>&1 </dev/null 3>&- &
    monitor=$!
    wait_for_line "$T/monitor" 'member=Name(Acquired|Lost)'
    kill -STOP "$SERVER_PID"
    lab_exec 10-dbus/client --name "$NAME" --timeout 60 hello >"$T/out" 2>"$T/err" &
    client=$!
    # the bus has routed the call to the (stopped) server: it owes a reply
    wait_for_line "$T/monitor" 'member=Upper'
    kill "$monitor"
    kill -KILL "$SERVER_PID"
    status=0
    wait "$client" || status=$?
    assert_equal "$status" 1
    assert_equal "$(cat "$T/err")" "client: server $NAME not running ($SERVICE went away before replying)"
}

@test "a stopped bus: the client's --timeout bounds connecting too" {
    kill -STOP "$(cat "$BUS_DIR/pid")"
    run_client 10-dbus/client --name "$NAME" --timeout 0.5 hello
    kill -CONT "$(cat "$BUS_DIR/pid")"
    assert_failure 1
    assert_equal "$stderr" 'client: timed out after 0.5 s waiting for the session bus to answer our Hello'
}

# bats test_tags=exchange,mechanism
@test "mechanism: the call and its reply go through the bus socket of each side; no direct path between them" {
    trace_exchange --server "10-dbus/server --name $NAME" --calls socket,connect --size 256 \
        -- 10-dbus/client --name "$NAME" hello
    local on_bus="\\{sa_family=AF_UNIX, sun_path=@?\"<session bus>\"\\}" client server
    client=$(sed -nE "s/^client +connect\\([0-9]+<UNIX-STREAM:\\[([0-9]+)(->[0-9]+)?\\]>, $on_bus.*/\\1/p" "$T/trace" | head -n 1)
    server=$(sed -nE "s/^server +connect\\([0-9]+<UNIX-STREAM:\\[([0-9]+)(->[0-9]+)?\\]>, $on_bus.*/\\1/p" "$T/trace" | head -n 1)
    [[ -n $client ]] || carried client "connect\\(.*$on_bus" "the client connects to the session bus's socket (sd_bus_open_user)"
    [[ -n $server ]] || carried server "connect\\(.*$on_bus" "the server connects to the session bus's socket (sd_bus_open_user)"
    carried client "sendmsg\\([0-9]+<UNIX-STREAM:\\[$client->[0-9]+\\]>, .*Upper.*\\{iov_base=\"\\\\5\\\\0\\\\0\\\\0hello\\\\0\"" \
        "the client's call of Upper(\"hello\") written to its bus socket"
    carried server "recvmsg\\([0-9]+<UNIX-STREAM:\\[$server->[0-9]+\\]>, .*Upper.*\\\\5\\\\0\\\\0\\\\0hello\\\\0\"" \
        "the call of Upper(\"hello\") read by the server from its own bus socket"
    carried server "sendmsg\\([0-9]+<UNIX-STREAM:\\[$server->[0-9]+\\]>, .*iov_base=\"l\\\\2.*\\{iov_base=\"\\\\5\\\\0\\\\0\\\\0HELLO\\\\0\"" \
        "the method return (l\\2) with HELLO written by the server to its bus socket"
    carried client "recvmsg\\([0-9]+<UNIX-STREAM:\\[$client->[0-9]+\\]>, .*\\\\5\\\\0\\\\0\\\\0HELLO\\\\0\"" \
        "the reply HELLO read by the client from its own bus socket"
    local peer # the other end of the client's socket: the bus daemon's, never one of the server's
    peer=$(sed -nE "s/^client +[a-z]+\\([0-9]+<UNIX-STREAM:\\[$client->([0-9]+)\\]>.*/\\1/p" "$T/trace" | head -n 1)
    if [[ -n $peer ]] && grep -Eq "^server +.*UNIX-STREAM:\\[${peer}[],-]" "$T/trace"; then
        fail "the client's socket is connected to one of the server's (UNIX-STREAM:[$peer]), not to the bus"
    fi
    # The bus's own messages (Hello, and the name org.ipclab.Lab.NAME...) go the same way.
    carried_only_by hello "client +(sendmsg|recvmsg|sendto|recvfrom|write|writev|read|readv)\\([0-9]+<UNIX-STREAM:\\[$client->" \
        "server +(sendmsg|recvmsg|sendto|recvfrom|write|writev|read|readv)\\([0-9]+<UNIX-STREAM:\\[$server->" \
        '(server|client) +write\(1<stdout>, "(received: hello|HELLO)\\n"'
}

# bats test_tags=exchange
@test "README: every transcript shows what the programs print" {
    check_transcripts 10-dbus --session-bus
}

# bats test_tags=usage
@test "options: --help on stdout, exit 0; an unknown option is exit 2 with one line" {
    check_help_and_unknown_option 10-dbus server client
}
