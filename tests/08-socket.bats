#!/usr/bin/env bats
# 08-socket: Unix, TCP and UDP sockets; one poll() loop serving many clients;
# peer credentials; a descriptor passed with SCM_RIGHTS (fd-passing-demo);
# the TCP and UDP exchanges between two hosts (network namespaces joined by a
# veth pair); ICMP echo by hand on a raw socket (raw-demo).
#
# Ordinary tools are the other side wherever they can be: socat and
# netcat-openbsd (nc -N: shut down the socket's write side after stdin's end
# of file, so the server sees end of file and closes).

load lab

setup() {
    lab_setup
    HELPER_PIDS=() # stand-ins for hostile peers this test started: killed by pid
}
teardown() {
    local pid
    for pid in "${HELPER_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    lab_teardown
}

# long_message N: N bytes of 'x'.
long_message() { head -c "$1" /dev/zero | tr '\0' x; }

start_unix() {
    start_server 08-socket/server --name "$NAME"
    SOCK=${READY[path]}
}
start_tcp() {
    start_server 08-socket/server --tcp 0
    PORT=${READY[port]}
}
start_udp() {
    start_server 08-socket/server --udp 0
    PORT=${READY[port]}
}

# The peer's address for socat, the arguments for nc and for our client,
# for TRANSPORT unix or tcp (after start_unix/start_tcp).
socat_address() { if [[ $1 == unix ]]; then echo "UNIX-CONNECT:$SOCK"; else echo "TCP:127.0.0.1:$PORT"; fi; }
nc_args() { if [[ $1 == unix ]]; then echo "-U $SOCK"; else echo "127.0.0.1 $PORT"; fi; }
client_args() { if [[ $1 == unix ]]; then echo "--name $NAME"; else echo "--tcp 127.0.0.1:$PORT"; fi; }

# socat waits this long after its stdin's end of file for a UDP reply.
UDP_WAIT=$(awk "BEGIN { print 0.5 * $LAB_TIME_SCALE }")

# count_lines FILE REGEX: how many lines match (0 when none).
count_lines() { grep -Ec -- "$2" "$1" || true; }

# wait_for_count FILE REGEX N: waits, bounded, for N matching lines.
wait_for_count() {
    local file=$1 regex=$2 want=$3 deadline=$((SECONDS + READY_LIMIT * 2 + 1))
    until (($(count_lines "$file" "$regex") >= want)); do
        ((SECONDS < deadline)) || return 1
        sleep 0.02
    done
}

# wait_for_quiet FILE REGEX: waits, bounded, until the number of matching
# lines has stopped growing (the same over a whole pause).
wait_for_quiet() {
    local before=-1 now pause deadline=$((SECONDS + READY_LIMIT * 4 + 1))
    pause=$(awk "BEGIN { print 0.5 * $LAB_TIME_SCALE }")
    while now=$(count_lines "$1" "$2") && ((now != before)); do
        ((SECONDS < deadline)) || return 1
        before=$now
        sleep "$pause"
    done
}

# wait_for_all_exit PID...: waits, bounded, until none of them runs.
wait_for_all_exit() {
    local list deadline=$((SECONDS + STOP_LIMIT * 2 + 1))
    list=$(IFS=,; echo "$*")
    while ps -p "$list" >/dev/null; do
        ((SECONDS < deadline)) || return 1
        sleep 0.05
    done
}

# wait_until_polling PID: waits, bounded, until PID sleeps in poll() (its
# kernel wait channel says so): a client that has sent and waits for a reply.
wait_until_polling() {
    local deadline=$((SECONDS + READY_LIMIT + 1))
    until [[ $(cat "/proc/$1/wchan" 2>/dev/null) == *poll* ]]; do
        ((SECONDS < deadline)) || return 1
        sleep 0.02
    done
}

# ---------------------------------------------------------------- Unix stream

# bats test_tags=exchange,memcheck
@test "unix: ready line names NAME.sock, 0600 in 0700 dirs; replies in order, empty and non a-z unchanged" {
    start_unix
    assert_equal "$READY_LINE" "ready pid=$SERVER_PID path=$IPC_LAB_DIR/socket/$NAME.sock"
    assert [ -S "$SOCK" ]
    assert_equal "$(stat -c %a "$SOCK")" 600
    assert_equal "$(stat -c %a "$IPC_LAB_DIR/socket")" 700
    assert_equal "$(stat -c %a "$IPC_LAB_DIR")" 700
    run_client 08-socket/client --name "$NAME" hello 'big World!' '' 'ünïcode 123 ~{}|' last
    assert_success
    assert_equal "$output" "$(printf 'HELLO\nBIG WORLD!\n\nüNïCODE 123 ~{}|\nLAST')"
    assert_equal "$stderr" ''
    uid=$(id -u)
    assert_equal "$(sed -n '2,6p' "$SERVER_LOG" | sed -E 's/ \(pid=[0-9]+ uid=[0-9]+\)$/ C/')" \
        "$(printf 'received: hello C\nreceived: big World! C\nreceived:  C\nreceived: ünïcode 123 ~{}| C\nreceived: last C')"
    run count_lines "$SERVER_LOG" " \\(pid=[0-9]+ uid=$uid\\)\$"
    assert_output 5
    assert_equal "$(cat "$SERVER_ERR")" ''
}

# bats test_tags=exchange,memcheck
@test "unix: without MESSAGE the client sends each stdin line, the last one without newline too" {
    start_unix
    printf 'one\n\nthree' >"$T/in"
    run_client 08-socket/client --name "$NAME" <"$T/in"
    assert_success
    assert_equal "$output" "$(printf 'ONE\n\nTHREE')"
}

@test "unix: the log names the peer's pid and uid (SO_PEERCRED)" {
    start_unix
    # sh writes its pid, then becomes socat: that pid is the connecting process
    echo hello | sh -c 'echo $$ >"$1"; exec socat -t 10 - "UNIX-CONNECT:$2"' sh "$T/pid" "$SOCK" >"$T/out"
    assert_equal "$(cat "$T/out")" HELLO
    run grep -Fx "received: hello (pid=$(cat "$T/pid") uid=$(id -u))" "$SERVER_LOG"
    assert_success
}

@test "unix: socat and nc are clients too; a line without newline at the end is answered" {
    start_unix
    run sh -c 'printf "from socat\nsecond" | socat -t 10 - "UNIX-CONNECT:$1"' sh "$SOCK"
    assert_success
    assert_output "$(printf 'FROM SOCAT\nSECOND')"
    run sh -c 'printf "from nc\n" | nc -N -U "$1"' sh "$SOCK"
    assert_success
    assert_output 'FROM NC'
}

@test "unix: every byte value but newline goes through, only a-z changes" {
    start_unix
    # shellcheck disable=SC2059 # the format string is made of \NNN escapes on purpose
    printf "$(printf '\\%03o' $(seq 0 9) $(seq 11 255))\n" >"$T/bytes"
    assert_equal "$(stat -c %s "$T/bytes")" 256
    socat -t 10 - "UNIX-CONNECT:$SOCK" <"$T/bytes" >"$T/out"
    LC_ALL=C tr a-z A-Z <"$T/bytes" >"$T/expected"
    cmp "$T/expected" "$T/out"
}

@test "unix: another user cannot connect: the socket file is 0600" {
    command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
    start_unix
    # let uid 65534 reach the file: then only the file's own mode refuses it
    chmod 711 "$IPC_LAB_DIR" "$IPC_LAB_DIR/socket"
    run setpriv --reuid=65534 --regid=65534 --clear-groups socat - "UNIX-CONNECT:$SOCK" <<<hello
    assert_failure
    assert_output --partial 'Permission denied'
    run_client 08-socket/client --name "$NAME" still
    assert_success
    assert_output STILL
}

# send_held_open TEXT: nc sends TEXT over the Unix socket and keeps its stdin
# open, so only the server closing the connection can end it. Waits (bounded)
# for that; nc's output is then in $T/out.
send_held_open() {
    local nc status=0
    mkfifo "$T/held"
    nc -U "$SOCK" <"$T/held" >"$T/out" &
    nc=$!
    exec 5>"$T/held"
    printf '%s' "$1" >&5
    wait_for_exit "$nc" || status=$?
    exec 5>&-
    return "$status"
}

@test "unix: a line over 1024 bytes gets 'error: message too long' and that connection is closed" {
    start_unix
    send_held_open $'before\n'"$(long_message 1025)"$'\n'
    assert_equal "$(cat "$T/out")" "$(printf 'BEFORE\nerror: message too long')"
    wait_for_line "$SERVER_LOG" '^rejected: message too long \(pid='
    # 1024 bytes is not too long; and the server serves on
    run_client 08-socket/client --name "$NAME" "$(long_message 1024)"
    assert_success
    assert_output "$(long_message 1024 | tr x X)"
}

@test "unix: 1025 bytes with no newline yet is already too long" {
    start_unix
    send_held_open "$(long_message 1025)"
    assert_equal "$(cat "$T/out")" 'error: message too long'
}

# bats test_tags=memcheck
@test "client: a message over 1024 bytes is exit 2 'too long'; the earlier ones were sent" {
    start_unix
    run_client 08-socket/client --name "$NAME" first "$(long_message 1025)" never
    assert_failure 2
    assert_output FIRST
    assert_regex "$stderr" '^client: .*too long'
    run count_lines "$SERVER_LOG" '^received: '
    assert_output 1
    run count_lines "$SERVER_LOG" 'never|rejected'
    assert_output 0
}

# bats test_tags=memcheck
@test "client: no server is exit 1 'not running', at once" {
    run_client 08-socket/client --name "$NAME" --timeout 60 hello
    assert_failure 1
    assert_equal "$stderr" "client: server $NAME not running (connect $IPC_LAB_DIR/socket/$NAME.sock: No such file or directory)"
    assert_output ''
}

@test "client: a stopped server is exit 1 'timed out' after --timeout" {
    start_unix
    kill -STOP "$SERVER_PID"
    start=$SECONDS
    run_client 08-socket/client --name "$NAME" --timeout 1 hello
    kill -CONT "$SERVER_PID"
    assert_failure 1
    assert_regex "$stderr" "^client: timed out after 1 s waiting for the reply from .*/$NAME.sock\$"
    ((SECONDS - start <= 1 + 5 * LAB_TIME_SCALE))
}

@test "server: a second server of the same NAME is 'already running'; another NAME runs beside it" {
    start_unix
    first=$SERVER_PID
    run_server 08-socket/server --name "$NAME"
    assert_failure 1
    assert_regex "$stderr" "^server: $NAME already running \\(pid $first\\)"
    start_server 08-socket/server --name "${NAME}b"
    run_client 08-socket/client --name "${NAME}b" other
    assert_output OTHER
    run_client 08-socket/client --name "$NAME" first
    assert_output FIRST
}

@test "server: after kill -9 the stale socket says 'not running' at once, and a new server takes over" {
    start_unix
    kill -KILL "$SERVER_PID"
    wait_for_exit "$SERVER_PID"
    assert [ -S "$SOCK" ] # left behind
    run_client 08-socket/client --name "$NAME" --timeout 60 hello
    assert_failure 1
    assert_equal "$stderr" "client: server $NAME not running (connect $SOCK: Connection refused)"
    start_unix
    run_client 08-socket/client --name "$NAME" again
    assert_success
    assert_output AGAIN
    stop_server
    assert_equal "$STOP_STATUS" 0
    assert [ ! -e "$SOCK" ]
}

# bats test_tags=usage
@test "server: something not a socket at NAME.sock is not removed: exit 1" {
    mkdir -m 700 "$IPC_LAB_DIR" "$IPC_LAB_DIR/socket"
    echo precious >"$IPC_LAB_DIR/socket/$NAME.sock"
    run_server 08-socket/server --name "$NAME"
    assert_failure 1
    assert_regex "$stderr" "^server: .*/$NAME.sock exists and is not a socket"
    assert_equal "$(cat "$IPC_LAB_DIR/socket/$NAME.sock")" precious
    assert [ ! -e "$IPC_LAB_DIR/socket/$NAME.lock" ]
}

# bats test_tags=memcheck
@test "server: SIGTERM and SIGINT with clients connected: exit 0, socket and lock removed, clients see the end" {
    for signal in TERM INT; do
        start_unix
        mkfifo "$T/in.$signal"
        nc -U "$SOCK" <"$T/in.$signal" >"$T/out.$signal" &
        nc=$!
        exec 5>"$T/in.$signal"
        echo "connected $signal" >&5
        wait_for_line "$SERVER_LOG" "^received: connected $signal "
        stop_server "$SERVER_PID" "$signal"
        assert_equal "$STOP_STATUS" 0
        assert [ ! -e "$SOCK" ]
        assert [ ! -e "$IPC_LAB_DIR/socket/$NAME.lock" ]
        wait_for_exit "$nc" # the server's end closed: nc ends although its stdin is open
        exec 5>&-
        assert_equal "$(cat "$T/out.$signal")" "CONNECTED $signal"
    done
}

@test "server: a socket path that does not fit sun_path is exit 1 'too long'; 107 bytes fit" {
    # $IPC_LAB_DIR/socket/$NAME.sock is 107 bytes: the most sun_path holds
    pad=$((107 - ${#T} - 1 - 8 - ${#NAME} - 5))
    IPC_LAB_DIR=$T/$(printf 'd%.0s' $(seq "$pad"))
    export IPC_LAB_DIR
    start_unix
    assert_equal "${#SOCK}" 107
    run_client 08-socket/client --name "$NAME" fits
    assert_output FITS
    stop_server
    # one byte more
    export IPC_LAB_DIR=${IPC_LAB_DIR}e
    run_server 08-socket/server --name "$NAME"
    assert_failure 1
    assert_regex "$stderr" "^server: socket path $IPC_LAB_DIR/socket/$NAME.sock is too long \\(108 bytes"
    run ls -A "$IPC_LAB_DIR/socket"
    assert_output "" # no socket, no lock (the directories are made), nothing truncated
    run_client 08-socket/client --name "$NAME" hello
    assert_failure 1
    assert_regex "$stderr" '^client: socket path .* is too long'
}

# many_nc_clients COUNT TRANSPORT: COUNT nc clients connected at the same
# time. Each sends "cI first"; once the server has logged all COUNT of them
# (so all are connected at once) each sends "cI second" and ends its input.
# Each must get exactly its own two replies. Sets NC_PIDS.
# (Few commands per client: bats makes every shell command slow.)
many_nc_clients() {
    local count=$1 transport=$2 i fd
    local -a fds=()
    NC_PIDS=()
    mkdir "$T/many"
    # shellcheck disable=SC2046
    mkfifo $(seq -f "$T/many/in%g" 0 $((count - 1)))
    # every nc first (each waits to open its FIFO), then the write ends: an
    # nc started later would inherit them and hold the others' input open
    for ((i = 0; i < count; i++)); do
        # shellcheck disable=SC2046
        nc -N $(nc_args "$transport") <"$T/many/in$i" >"$T/many/out$i" 2>&1 &
        NC_PIDS+=($!)
    done
    for ((i = 0; i < count; i++)); do
        exec {fd}>"$T/many/in$i"
        fds+=("$fd")
        echo "c$i first" >&"$fd"
    done
    wait_for_count "$SERVER_LOG" '^received: c[0-9]+ first' "$count"
    for ((i = 0; i < count; i++)); do
        fd=${fds[i]}
        echo "c$i second" >&"$fd"
        exec {fd}>&-
    done
    wait_for_all_exit "${NC_PIDS[@]}"
    # every client's output, each line prefixed with the client's number
    # shellcheck disable=SC2046
    awk '{ n = FILENAME; sub(/.*out/, "", n); print n ": " $0 }' $(seq -f "$T/many/out%g" 0 $((count - 1))) >"$T/many/actual"
    awk -v n="$count" 'BEGIN { for (i = 0; i < n; i++) printf "%d: C%d FIRST\n%d: C%d SECOND\n", i, i, i, i }' >"$T/many/expected"
    diff "$T/many/expected" "$T/many/actual"
}

@test "unix: 100 nc clients connected at once, each gets its own replies, each logged with its own pid" {
    start_unix
    many_nc_clients 100 unix
    for i in 0 37 99; do
        run grep -Fx "received: c$i second (pid=${NC_PIDS[i]} uid=$(id -u))" "$SERVER_LOG"
        assert_success
    done
    run count_lines "$SERVER_LOG" '^received: '
    assert_output 200
}

# many_of_our_clients MESSAGES CLIENT_ARGS...: 30 of our clients at once (10
# under memcheck, where each is a heavy process), MESSAGES distinct messages
# each from stdin; every client must print exactly its own replies, in order.
many_of_our_clients() {
    local messages=$1 count=$((LAB_TIME_SCALE > 1 ? 10 : 30)) i pid
    local -a pids=()
    shift
    for i in $(seq "$count"); do
        seq -f "client $i message %g" "$messages" >"$T/in$i"
        lab_exec 08-socket/client "$@" <"$T/in$i" >"$T/out$i" 2>"$T/err$i" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid"; done # each bounded by lab_exec
    # shellcheck disable=SC2046,SC2002 # many files, one tr
    cat $(seq -f "$T/in%g" "$count") | tr a-z A-Z >"$T/expected"
    # shellcheck disable=SC2046
    cat $(seq -f "$T/out%g" "$count") >"$T/actual"
    diff "$T/expected" "$T/actual"
    # shellcheck disable=SC2046
    assert_equal "$(cat $(seq -f "$T/err%g" "$count"))" ''
}

@test "unix: 30 of our clients at once (10 under valgrind), 20 messages each, every reply its own" {
    start_unix
    many_of_our_clients 20 --name "$NAME"
}

# silent_client TRANSPORT: a client connected that sent half a line and then
# nothing must not stall anyone else.
silent_client() {
    mkfifo "$T/in"
    # shellcheck disable=SC2046
    nc $(nc_args "$1") <"$T/in" >"$T/silent" &
    silent=$!
    exec 5>"$T/in"
    echo 'I speak once' >&5
    wait_for_line "$SERVER_LOG" '^received: I speak once'
    printf 'half a li' >&5
    # shellcheck disable=SC2046
    run_client 08-socket/client $(client_args "$1") --timeout 5 hello
    assert_success
    assert_output HELLO
    kill -0 "$silent" # still connected
    exec 5>&-
    kill "$silent"
}

@test "unix: a silent client holding half a line does not stall the others" {
    start_unix
    silent_client unix
}

@test "unix: a client that never reads its replies does not stall the others" {
    start_unix
    # 4 MB of 1000-byte lines: far more replies than the kernel's buffers
    # and the server's per-connection output cap hold
    awk 'BEGIN { s = sprintf("%990s", ""); gsub(/ /, "x", s);
                 for (i = 0; i < 4000; i++) printf "slow %04d %s\n", i, s }' >"$T/big"
    socat -u "FILE:$T/big" "UNIX-CONNECT:$SOCK" & # -u: sends, never reads
    slow=$!
    wait_for_count "$SERVER_LOG" '^received: slow ' 100
    wait_for_quiet "$SERVER_LOG" '^received: slow '
    # the server stopped reading that client (its buffers are full) ...
    kill -0 "$slow"
    (($(count_lines "$SERVER_LOG" '^received: slow ') < 4000))
    # ... but not serving the others
    run_client 08-socket/client --name "$NAME" --timeout 5 hello
    assert_success
    assert_output HELLO
    kill "$slow"
    wait_for_exit "$slow"
    run_client 08-socket/client --name "$NAME" after
    assert_output AFTER
    assert_equal "$(cat "$SERVER_ERR")" ''
}

# bats test_tags=hidden
@test "unix: garbage, clients killed mid-line and mid-exchange (SIGKILL): the others get exactly their own replies" {
    start_unix
    # junk with and without newlines, some lines far over 1024 bytes
    head -c 200000 /dev/urandom | socat -t 10 - "UNIX-CONNECT:$SOCK" >/dev/null || true
    socat /dev/null "UNIX-CONNECT:$SOCK" # connects, says nothing, goes
    # ten of our clients and an nc, each reading its messages from a FIFO
    # (all started before any write end is opened, so none inherits another's)
    for i in $(seq 0 9); do
        mkfifo "$T/in$i"
        "${LAB_WRAP[@]}" "$(bin 08-socket/client)" --name "$NAME" <"$T/in$i" >"$T/out$i" 2>"$T/err$i" 3>&- &
        pids[i]=$!
    done
    mkfifo "$T/nc.in"
    nc -U "$SOCK" <"$T/nc.in" >/dev/null &
    nc=$!
    for i in $(seq 0 9); do
        exec {fd}>"$T/in$i"
        fds[i]=$fd
        echo "k$i a" >&"$fd"
    done
    exec 5>"$T/nc.in"
    printf 'half' >&5
    wait_for_count "$SERVER_LOG" '^received: k[0-9] a ' 10
    # the even clients die connected, between two messages
    for i in 0 2 4 6 8; do kill -KILL "${pids[i]}"; done
    kill -KILL "$nc"
    exec 5>&-
    # one dies waiting for a reply: the server is stopped when it sends
    kill -STOP "$SERVER_PID"
    echo "k1 b" >&"${fds[1]}"
    wait_until_polling "${pids[1]}"
    kill -KILL "${pids[1]}"
    kill -CONT "$SERVER_PID"
    for i in 3 5 7 9; do
        echo "k$i b" >&"${fds[i]}"
        fd=${fds[i]}
        exec {fd}>&-
        wait_for_exit "${pids[i]}"
        assert_equal "$(cat "$T/out$i")" "$(printf 'K%d A\nK%d B' "$i" "$i")"
        assert_equal "$(cat "$T/err$i")" ''
    done
    for i in 0 1 2 4 6 8; do
        fd=${fds[i]}
        exec {fd}>&-
    done
    run_client 08-socket/client --name "$NAME" still here
    assert_success
    assert_output "$(printf 'STILL\nHERE')"
    stop_server
    assert_equal "$STOP_STATUS" 0
}

# ------------------------------------------------------------------------ TCP

# bats test_tags=exchange,memcheck
@test "tcp: port 0 picks a free port shown in the ready line; our client and nc exchange" {
    start_tcp
    assert_regex "$READY_LINE" "^ready pid=$SERVER_PID port=[0-9]+\$"
    ((PORT > 0))
    run_client 08-socket/client --tcp "127.0.0.1:$PORT" hello '' 'Mixed 1!'
    assert_success
    assert_equal "$output" "$(printf 'HELLO\n\nMIXED 1!')"
    run sh -c 'printf "from nc\n" | nc -N 127.0.0.1 "$1"' sh "$PORT"
    assert_output 'FROM NC'
    # no credentials over TCP: the log line is the message alone
    run grep -Fx 'received: from nc' "$SERVER_LOG"
    assert_success
    stop_server
    assert_equal "$STOP_STATUS" 0
}

@test "tcp: HOST defaults to 127.0.0.1; an IPv6 HOST in brackets works" {
    start_server 08-socket/server --tcp 0
    run_client 08-socket/client --tcp "${READY[port]}" four
    assert_output FOUR
    # bound to 127.0.0.1 only: another loopback address finds nobody
    run_client 08-socket/client --tcp "127.0.0.2:${READY[port]}" four
    assert_failure 1
    assert_regex "$stderr" 'not running'
    if ip -6 addr show dev lo 2>/dev/null | grep -q '::1'; then
        start_server 08-socket/server --tcp '[::1]:0'
        run_client 08-socket/client --tcp "[::1]:${READY[port]}" six
        assert_output SIX
    fi
}

@test "tcp: a port in use is exit 1 'in use'" {
    start_tcp
    run_server 08-socket/server --tcp "$PORT"
    assert_failure 1
    assert_equal "$stderr" "server: bind 127.0.0.1:$PORT: Address already in use"
}

@test "tcp: no server is 'not running' at once; a stopped one is 'timed out'" {
    start_tcp
    kill -STOP "$SERVER_PID"
    run_client 08-socket/client --tcp "127.0.0.1:$PORT" --timeout 0.5 hello
    kill -CONT "$SERVER_PID"
    assert_failure 1
    assert_equal "$stderr" "client: timed out after 0.5 s waiting for the reply from 127.0.0.1:$PORT"
    stop_server
    run_client 08-socket/client --tcp "127.0.0.1:$PORT" --timeout 60 hello
    assert_failure 1
    assert_equal "$stderr" "client: server 127.0.0.1:$PORT not running (connect: Connection refused)"
}

@test "tcp: a line over 1024 bytes gets the error, later lines are not answered, the server serves on" {
    start_tcp
    { echo ok; long_message 5000; echo; echo after; } >"$T/in"
    run sh -c 'nc -N 127.0.0.1 "$1" <"$2"' sh "$PORT" "$T/in"
    assert_output "$(printf 'OK\nerror: message too long')"
    run grep -c after "$SERVER_LOG"
    assert_output 0
    run_client 08-socket/client --tcp "127.0.0.1:$PORT" fine
    assert_output FINE
}

@test "tcp: 100 nc clients connected at once, each gets its own replies" {
    start_tcp
    many_nc_clients 100 tcp
}

@test "tcp: a silent client holding half a line does not stall the others" {
    start_tcp
    silent_client tcp
}

@test "tcp: a client that resets its connection (RST) does not disturb the server" {
    start_tcp
    # so-linger 0: close() sends a reset instead of the usual end of file
    echo reset | socat -t 10 - "TCP:127.0.0.1:$PORT,so-linger=0" >/dev/null || true
    head -c 100000 /dev/urandom | socat -t 10 - "TCP:127.0.0.1:$PORT,so-linger=0" >/dev/null || true
    run_client 08-socket/client --tcp "127.0.0.1:$PORT" alive
    assert_output ALIVE
    stop_server
    assert_equal "$STOP_STATUS" 0
}

# ------------------------------------------------------------------------ UDP

# bats test_tags=exchange,memcheck
@test "udp: port 0 shown; each datagram gets its reply datagram; socat works; empty message" {
    start_udp
    assert_regex "$READY_LINE" "^ready pid=$SERVER_PID port=[0-9]+\$"
    run_client 08-socket/client --udp "127.0.0.1:$PORT" hello '' 'UdP 42'
    assert_success
    assert_equal "$output" "$(printf 'HELLO\n\nUDP 42')"
    run sh -c 'echo "from socat" | socat -t "$2" - "UDP:127.0.0.1:$1"' sh "$PORT" "$UDP_WAIT"
    assert_output 'FROM SOCAT'
    # several lines in one datagram: one reply line each, in one datagram
    run sh -c 'printf "a1\nb2\n" | socat -t "$2" - "UDP:127.0.0.1:$1"' sh "$PORT" "$UDP_WAIT"
    assert_output "$(printf 'A1\nB2')"
    run grep -Fx 'received: from socat' "$SERVER_LOG"
    assert_success
}

@test "udp: a datagram over 1024 bytes gets 'error: message too long'; the server serves on" {
    start_udp
    long_message 1025 >"$T/long"
    run sh -c 'socat -t "$2" - "UDP:127.0.0.1:$1" <"$3"' sh "$PORT" "$UDP_WAIT" "$T/long"
    assert_output 'error: message too long'
    run_client 08-socket/client --udp "127.0.0.1:$PORT" "$(long_message 1024)"
    assert_output "$(long_message 1024 | tr x X)"
}

@test "udp: no server is 'not running' at once (ECONNREFUSED); a stopped one is 'timed out'" {
    start_udp
    kill -STOP "$SERVER_PID"
    run_client 08-socket/client --udp "127.0.0.1:$PORT" --timeout 0.5 hello
    kill -CONT "$SERVER_PID"
    assert_failure 1
    assert_equal "$stderr" "client: timed out after 0.5 s waiting for the reply from 127.0.0.1:$PORT"
    stop_server
    assert_equal "$STOP_STATUS" 0
    run_client 08-socket/client --udp "127.0.0.1:$PORT" --timeout 60 hello
    assert_failure 1
    assert_equal "$stderr" "client: server 127.0.0.1:$PORT not running (recv: Connection refused)"
}

@test "udp: a port in use is exit 1 'in use'" {
    start_udp
    run_server 08-socket/server --udp "$PORT"
    assert_failure 1
    assert_regex "$stderr" "^server: bind 127.0.0.1:$PORT: .*in use"
}

# A server bound to a wildcard address receives datagrams sent to any local
# address; its reply must come from the address the request went to, or the
# connected UDP sockets of our client and of socat drop it. The whole of
# 127.0.0.0/8 is loopback on Linux, so 127.0.0.2 is a second local address.
@test "udp: a server on 0.0.0.0 answers from the address each request was sent to (127.0.0.2)" {
    start_server 08-socket/server --udp 0.0.0.0:0
    PORT=${READY[port]}
    run_client 08-socket/client --udp "127.0.0.2:$PORT" hello 'Two'
    assert_success
    assert_equal "$output" "$(printf 'HELLO\nTWO')"
    run sh -c 'echo "from socat" | socat -t "$2" - "UDP:127.0.0.2:$1"' sh "$PORT" "$UDP_WAIT"
    assert_output 'FROM SOCAT'
    run_client 08-socket/client --udp "127.0.0.1:$PORT" one
    assert_output ONE
    stop_server
    assert_equal "$STOP_STATUS" 0
    assert_equal "$(cat "$SERVER_ERR")" ''
}

# /proc/net/if_inet6 lists every IPv6 address, ::1 as 31 zeros and a 1.
has_ipv6_loopback() { grep -qs '^0\{31\}1 ' /proc/net/if_inet6; }

@test "udp: a server on [::] answers [::1], and IPv4 clients at 127.0.0.2 when dual-stack" {
    has_ipv6_loopback || skip "no IPv6 loopback address ::1"
    start_server 08-socket/server --udp '[::]:0'
    PORT=${READY[port]}
    run_client 08-socket/client --udp "[::1]:$PORT" hello
    assert_success
    assert_output HELLO
    run sh -c 'echo "from socat" | socat -t "$2" - "UDP:[::1]:$1"' sh "$PORT" "$UDP_WAIT"
    assert_output 'FROM SOCAT'
    # bindv6only 0 (the default): [::] takes IPv4 datagrams too, as ::ffff:127.0.0.2
    if [[ $(cat /proc/sys/net/ipv6/bindv6only) == 0 ]]; then
        run_client 08-socket/client --udp "127.0.0.2:$PORT" mapped
        assert_success
        assert_output MAPPED
        run sh -c 'echo "socat v4" | socat -t "$2" - "UDP:127.0.0.2:$1"' sh "$PORT" "$UDP_WAIT"
        assert_output 'SOCAT V4'
    fi
    stop_server
    assert_equal "$STOP_STATUS" 0
    assert_equal "$(cat "$SERVER_ERR")" ''
}

@test "udp: 30 of our clients at once (10 under valgrind), 10 messages each, every reply its own" {
    start_udp
    many_of_our_clients 10 --udp "127.0.0.1:$PORT"
}

# ---------------------------------------------------- two hosts on one machine

# Each "host" is a network namespace of its own, with its own interfaces,
# routes and loopback, kept alive by a holder process: `unshare --net`
# running a bounded sleep. Not `ip netns add`, which needs a writable
# /run/netns (the grader's sandbox has a read-only file system). A veth pair
# joins two of them, 10.250.N.1/24 on the first and 10.250.N.2/24 on the
# second (N: the test's number); nothing outside these namespaces is ever
# addressed. Programs run in a host with `nsenter -t HOLDER -n`. The holders
# are the test's HELPER_PIDS, killed in teardown by pid; a namespace goes
# when its last process does, and its end of the veth pair with it, which
# takes the other end too (a test below checks it).

# need_hosts: skips, saying why, where this test cannot make network
# namespaces joined by veth (not root, no CAP_SYS_ADMIN and CAP_NET_ADMIN,
# no veth driver). The probe's namespace and link go when it exits.
need_hosts() {
    if ! command -v unshare >/dev/null || ! command -v nsenter >/dev/null; then
        skip "unshare and nsenter (util-linux) not installed"
    fi
    command -v ip >/dev/null || skip "ip (iproute2) not installed"
    local why
    why=$(unshare --net ip link add probe0 type veth peer name probe1 2>&1) ||
        skip "cannot make network namespaces joined by veth (needs root or CAP_SYS_ADMIN and CAP_NET_ADMIN): ${why:-unshare --net failed}"
}

# netns_of PID: the network namespace of PID ("net:[4026532369]"), or nothing.
netns_of() { readlink "/proc/$1/ns/net" 2>/dev/null; }

# in_own_netns PID: PID runs, in a network namespace that is not ours.
in_own_netns() {
    local theirs
    theirs=$(netns_of "$1")
    [[ -n $theirs && $theirs != "$(netns_of $$)" ]]
}

# start_host VAR: a new host (network namespace) with its loopback up; its
# holder's pid goes into VAR and HELPER_PIDS.
start_host() {
    local -n holder=$1
    unshare --net sleep "$((300 * LAB_TIME_SCALE))" </dev/null >/dev/null 2>&1 3>&- &
    holder=$!
    HELPER_PIDS+=("$holder")
    wait_until in_own_netns "$holder" # unshare has not run until then
    nsenter -t "$holder" -n ip link set lo up
}

# join_hosts A B: a veth pair between the hosts held by pids A and B:
# LINK_A (10.250.N.1/24) in A, LINK_B (10.250.N.2/24) in B. Made in A with
# its peer put into B at once: no link ever shows in the test's own
# namespace. Sets NET (10.250.N), LINK_A, LINK_B.
join_hosts() {
    local a=$1 b=$2
    NET=10.250.$((BATS_TEST_NUMBER % 250))
    LINK_A=v${BATS_TEST_NUMBER}p$$a # at most 15 bytes: IFNAMSIZ
    LINK_B=v${BATS_TEST_NUMBER}p$$b
    nsenter -t "$a" -n ip link add "$LINK_A" type veth peer name "$LINK_B" netns "$b"
    nsenter -t "$a" -n ip address add "$NET.1/24" dev "$LINK_A"
    nsenter -t "$b" -n ip address add "$NET.2/24" dev "$LINK_B"
    nsenter -t "$a" -n ip link set "$LINK_A" up
    nsenter -t "$b" -n ip link set "$LINK_B" up
}

# two_hosts: hosts SERVER_HOST and CLIENT_HOST, joined (join_hosts).
two_hosts() {
    need_hosts
    start_host SERVER_HOST
    start_host CLIENT_HOST
    join_hosts "$SERVER_HOST" "$CLIENT_HOST"
}

# on_host PID COMMAND...: COMMAND with the lab's programs run in host PID's
# network namespace (nsenter before the memcheck wrapper, if any).
on_host() {
    local -a wrap=("${LAB_WRAP[@]}")
    LAB_WRAP=(nsenter -t "$1" -n "${wrap[@]}")
    local failed=0 # not `status`: it would hide the one `run` sets
    "${@:2}" || failed=$?
    LAB_WRAP=("${wrap[@]}")
    return "$failed"
}

@test "two hosts: tcp server on 10.250.N.1 in one network namespace, client in the other, by address" {
    two_hosts
    on_host "$SERVER_HOST" start_server 08-socket/server --tcp "$NET.1:0"
    PORT=${READY[port]}
    on_host "$CLIENT_HOST" run_client 08-socket/client --tcp "$NET.1:$PORT" hello 'other Host'
    assert_success
    assert_equal "$output" "$(printf 'HELLO\nOTHER HOST')"
    assert_equal "$stderr" ''
    # the client host's own loopback is another one: no server there
    on_host "$CLIENT_HOST" run_client 08-socket/client --tcp "127.0.0.1:$PORT" --timeout 60 hello
    assert_failure 1
    assert_equal "$stderr" "client: server 127.0.0.1:$PORT not running (connect: Connection refused)"
    # the route the client host takes: its veth, from its own address
    run nsenter -t "$CLIENT_HOST" -n ip route get "$NET.1"
    assert_line -n 0 --regexp "^$NET.1 dev $LINK_B src $NET.2 "
    stop_server
    assert_equal "$STOP_STATUS" 0
}

@test "two hosts: udp server on 0.0.0.0 answers from 10.250.N.1, the address the request went to" {
    two_hosts
    on_host "$SERVER_HOST" start_server 08-socket/server --udp 0.0.0.0:0
    PORT=${READY[port]}
    on_host "$CLIENT_HOST" run_client 08-socket/client --udp "$NET.1:$PORT" hello '' 'UdP 42'
    assert_success
    assert_equal "$output" "$(printf 'HELLO\n\nUDP 42')"
    run nsenter -t "$CLIENT_HOST" -n socat -t "$UDP_WAIT" - "UDP:$NET.1:$PORT" <<<'from socat'
    assert_output 'FROM SOCAT'
    stop_server
    assert_equal "$STOP_STATUS" 0
    assert_equal "$(cat "$SERVER_ERR")" ''
}

@test "two hosts: a client on a host with no route to the server is 'not running' at once, tcp and udp" {
    two_hosts
    on_host "$SERVER_HOST" start_server 08-socket/server --tcp "$NET.1:0"
    TCP_PORT=${READY[port]}
    on_host "$SERVER_HOST" start_server 08-socket/server --udp "$NET.1:0"
    UDP_PORT=${READY[port]}
    start_host LONE_HOST # loopback only: no route to 10.250.N.0/24
    start=$SECONDS
    on_host "$LONE_HOST" run_client 08-socket/client --tcp "$NET.1:$TCP_PORT" --timeout 60 hello
    assert_failure 1
    assert_equal "$stderr" "client: server $NET.1:$TCP_PORT not running (connect: Network is unreachable)"
    on_host "$LONE_HOST" run_client 08-socket/client --udp "$NET.1:$UDP_PORT" --timeout 60 hello
    assert_failure 1
    assert_equal "$stderr" "client: server $NET.1:$UDP_PORT not running (connect: Network is unreachable)"
    ((SECONDS - start <= 1 + 5 * LAB_TIME_SCALE)) # at once, not after --timeout 60
    # from the host joined to it, both serve
    on_host "$CLIENT_HOST" run_client 08-socket/client --tcp "$NET.1:$TCP_PORT" still
    assert_output STILL
    on_host "$CLIENT_HOST" run_client 08-socket/client --udp "$NET.1:$UDP_PORT" still
    assert_output STILL
}

# link_gone HOLDER LINK: host HOLDER has no link LINK (any more).
link_gone() { ! nsenter -t "$1" -n ip link show "$2" >/dev/null 2>&1; }

@test "two hosts: the veth pair goes with the namespaces, and none of it shows in ours" {
    two_hosts
    run ip link show "$LINK_A"
    assert_failure # never in the test's own namespace
    run ip link show "$LINK_B"
    assert_failure
    nsenter -t "$CLIENT_HOST" -n ip link show "$LINK_B" >/dev/null
    kill -KILL "$SERVER_HOST"
    wait_for_exit "$SERVER_HOST"
    # the server host's namespace is gone, its end of the pair with it, and so the other end
    wait_until link_gone "$CLIENT_HOST" "$LINK_B"
    run nsenter -t "$CLIENT_HOST" -n ip -o link show
    refute_output --partial "$LINK_B"
}

# ------------------------------------------------------------ hostile peers

# hoard_connections WHERE COUNT [USER_PREFIX...]: a stand-in for a hostile
# peer: one python3 process opens COUNT idle connections to WHERE (a Unix
# socket path, or a TCP port on 127.0.0.1), prints `held N` once all are
# connected, then sends nothing and ends by itself after a bounded time (the
# test kills it first, by pid). Runs as `USER_PREFIX... python3` when a
# prefix is given (setpriv to another user). Sets HOARDER; waits for `held`.
hoard_connections() {
    local where=$1 count=$2 limit=$((30 * LAB_TIME_SCALE))
    shift 2
    "$@" "$PYTHON" -c '
import socket, sys, time
where, count, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
held = []
for _ in range(count):
    if where.startswith("/"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(where)
    else:
        s = socket.create_connection(("127.0.0.1", int(where)))
    held.append(s)
print("held", len(held), flush=True)
time.sleep(limit)
' "$where" "$count" "$limit" >"$T/hoarder.out" 2>&1 </dev/null 3>&- &
    HOARDER=$!
    HELPER_PIDS+=("$HOARDER")
    wait_for_line "$T/hoarder.out" "^held $count\$"
}

# Debian's python3 by its path: one on root's own PATH (pyenv) may be out
# of reach of the other user.
PYTHON=/usr/bin/python3
[[ -x $PYTHON ]] || PYTHON=$(command -v python3 || echo python3)

need_hoarding_tools() {
    command -v "$PYTHON" >/dev/null || skip "python3 not installed (it plays the hoarding peer)"
    command -v prlimit >/dev/null || skip "prlimit (util-linux) not installed"
}

@test "tcp: another user holding more idle connections than the server has descriptors stalls nobody; warnings stay few" {
    need_hoarding_tools
    command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
    start_tcp
    # 64 descriptors: room for about 55 connections; the hoarder (user
    # nobody: TCP is open to every local user) opens 100 and says nothing
    prlimit --pid "$SERVER_PID" --nofile=64:64
    hoard_connections "$PORT" 100 setpriv --reuid=65534 --regid=65534 --clear-groups
    run_client 08-socket/client --tcp "127.0.0.1:$PORT" --timeout 5 hello
    assert_success
    assert_output HELLO
    kill -0 "$HOARDER" # it still holds what it has, and stays idle
    run_client 08-socket/client --tcp "127.0.0.1:$PORT" --timeout 5 again
    assert_output AGAIN
    # one warning for the whole episode, not ten a second
    run count_lines "$SERVER_ERR" .
    ((output <= 2))
    stop_server
    assert_equal "$STOP_STATUS" 0
}

@test "unix: a server started with 64 descriptors serves a client while 100 idle connections are held" {
    need_hoarding_tools
    # started under the limit: the server sizes its table of connections from it
    local -a wrap=("${LAB_WRAP[@]}")
    LAB_WRAP=(prlimit --nofile=64:64 "${wrap[@]}")
    start_unix
    LAB_WRAP=("${wrap[@]}")
    hoard_connections "$SOCK" 100
    run_client 08-socket/client --name "$NAME" --timeout 5 hello
    assert_success
    assert_output HELLO
    run count_lines "$SERVER_ERR" .
    ((output <= 2))
    stop_server
    assert_equal "$STOP_STATUS" 0
}

# can_spoof: a raw socket can be opened (CAP_NET_RAW), so a datagram's
# source address and port can be forged.
can_spoof() {
    command -v "$PYTHON" >/dev/null &&
        "$PYTHON" -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)' 2>/dev/null
}

# spoof_udp SOURCE_HOST SOURCE_PORT PORT MESSAGE: one UDP datagram to
# 127.0.0.1:PORT that claims to come from SOURCE_HOST:SOURCE_PORT (a local
# address: the raw socket is bound to it). The UDP header is built by hand;
# checksum 0 means "none", which IPv4 allows.
spoof_udp() {
    "$PYTHON" -c '
import socket, struct, sys
host, source_port, port, message = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].encode()
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
s.bind((host, 0))
s.sendto(struct.pack("!HHHH", source_port, port, 8 + len(message), 0) + message, ("127.0.0.1", 0))
' "$@"
}

# forged_datagrams_are_dropped SOURCE_HOST SOURCE_PORT: three datagrams
# forged from SOURCE_HOST:SOURCE_PORT are never answered (no `received:`
# line, no reply looping back) and are logged once, as `ignored:`; the
# server serves on.
forged_datagrams_are_dropped() {
    spoof_udp "$1" "$2" "$PORT" 'loop me'
    wait_for_line "$SERVER_LOG" '^(received: loop me|ignored: )'
    spoof_udp "$1" "$2" "$PORT" 'loop me'
    spoof_udp "$1" "$2" "$PORT" 'loop me'
    run_client 08-socket/client --udp "127.0.0.1:$PORT" --timeout 5 hello
    assert_output HELLO
    run_client 08-socket/client --udp "127.0.0.1:$PORT" --timeout 5 again
    assert_output AGAIN
    run count_lines "$SERVER_LOG" 'loop me|LOOP ME'
    assert_output 0
    run count_lines "$SERVER_LOG" '^ignored: '
    assert_output 1
    assert_equal "$(cat "$SERVER_ERR")" ''
}

@test "udp: a datagram forged from the server's own address and port is not answered (no loop)" {
    can_spoof || skip "needs python3 and CAP_NET_RAW (a raw socket) to forge a source address"
    start_udp
    forged_datagrams_are_dropped 127.0.0.1 "$PORT"
}

@test "udp: on 0.0.0.0, a datagram forged from another local address with the server's port is not answered" {
    can_spoof || skip "needs python3 and CAP_NET_RAW (a raw socket) to forge a source address"
    start_server 08-socket/server --udp 0.0.0.0:0
    PORT=${READY[port]}
    forged_datagrams_are_dropped 127.0.0.2 "$PORT"
}

@test "udp: datagrams from port 0 are dropped, logged once, and cost no error line" {
    can_spoof || skip "needs python3 and CAP_NET_RAW (a raw socket) to forge a source address"
    start_udp
    forged_datagrams_are_dropped 127.0.0.1 0
}

@test "client: a 'server' that sends an endless line is refused at once, not buffered until the timeout" {
    command -v "$PYTHON" >/dev/null || skip "python3 not installed (it plays the hostile server)"
    # a stand-in TCP server on loopback: reads one line, then sends x without
    # a newline until the client goes (or 30 s pass)
    "$PYTHON" -c '
import socket, sys, time
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
print("port", listener.getsockname()[1], flush=True)
connection, _ = listener.accept()
connection.recv(100)
end = time.monotonic() + 30
try:
    while time.monotonic() < end:
        connection.sendall(b"x" * 65536)
except OSError:
    pass
' >"$T/fake.out" 2>&1 </dev/null 3>&- &
    HELPER_PIDS+=($!)
    wait_for_line "$T/fake.out" '^port [0-9]+$'
    port=$(sed -n 's/^port //p' "$T/fake.out")
    run_client 08-socket/client --tcp "127.0.0.1:$port" --timeout 60 hello
    assert_failure 1
    assert_regex "$stderr" "^client: recv from 127.0.0.1:$port: reply too long"
}

# ---------------------------------------------------------------------- usage

# bats test_tags=usage
@test "usage: --help, unknown option, bad name, bad or conflicting addresses, operands" {
    check_help_and_unknown_option 08-socket server client fd-passing-demo raw-demo
    # the server and the client parse addresses with the same code: the
    # client gets the whole list, the server a sample
    for args in "--name .hidden" "--name x --tcp 1" "--tcp 1 --udp 2" "--tcp abc" \
        "--tcp 70000" "--udp ::1:80" "--tcp localhost:80" "--tcp -1" "--udp 1.2.3:80"; do
        # shellcheck disable=SC2086
        run_client 08-socket/client $args
        assert_failure 2
        assert_regex "$stderr" "^client: "
    done
    for args in "--name a/b" "--tcp 1 --name x" "--udp [::1]80"; do
        # shellcheck disable=SC2086
        run_client 08-socket/server $args
        assert_failure 2
        assert_regex "$stderr" "^server: "
    done
    run_client 08-socket/client --tcp 127.0.0.1:0 hello
    assert_failure 2
    assert_regex "$stderr" "^client: bad value '0' for --tcp"
    run_client 08-socket/server extra
    assert_failure 2
    assert_equal "$stderr" "server: unexpected argument 'extra' (try --help)"
}

# ----------------------------------------------------------------- fd-passing-demo

# bats test_tags=exchange,memcheck
@test "fd-passing-demo: the child prints a file it never opened, from the descriptor it was sent" {
    printf 'Hello, descriptor\nline 2' >"$T/file"
    run_client 08-socket/fd-passing-demo "$T/file"
    assert_success
    assert_output "$(printf 'HELLO, DESCRIPTOR\nLINE 2')"
    assert_regex "$stderr" "^parent pid=[0-9]+: open\\($T/file\\) = fd [0-9]+; sendmsg\\(SCM_RIGHTS\\)"
    assert_regex "$stderr" $'\n'"child pid=[0-9]+: recvmsg gave fd [0-9]+; reading it\$"
    parent=$(sed -n 's/^parent pid=\([0-9]*\).*/\1/p' <<<"$stderr")
    child=$(sed -n 's/^child pid=\([0-9]*\).*/\1/p' <<<"$stderr")
    [[ $parent != "$child" ]]
}

@test "fd-passing-demo: several files in order, every byte value, an empty file" {
    # shellcheck disable=SC2059 # the format string is made of \NNN escapes on purpose
    for _ in 1 2; do printf "$(printf '\\%03o' $(seq 0 255))"; done >"$T/bytes"
    : >"$T/empty"
    printf 'end\n' >"$T/last"
    lab_exec 08-socket/fd-passing-demo "$T/bytes" "$T/empty" "$T/last" >"$T/out" 2>"$T/err"
    cat "$T/bytes" "$T/last" | LC_ALL=C tr a-z A-Z >"$T/expected"
    cmp "$T/expected" "$T/out"
    run count_lines "$T/err" '^child pid=[0-9]+: recvmsg gave fd'
    assert_output 3
}

# bats test_tags=memcheck
@test "fd-passing-demo: a missing file is exit 1; the child is reaped; no FILE is exit 2" {
    printf 'first\n' >"$T/first"
    run_client 08-socket/fd-passing-demo "$T/first" "$T/missing"
    assert_failure 1
    assert_output FIRST
    assert_regex "$stderr" "fd-passing-demo: open $T/missing: No such file or directory\$"
    child=$(sed -n 's/^child pid=\([0-9]*\).*/\1/p' <<<"$stderr")
    run kill -0 "$child"
    assert_failure # reaped: no such process
    run_client 08-socket/fd-passing-demo
    assert_failure 2
    assert_equal "$stderr" 'fd-passing-demo: no FILE given (try --help)'
}

# ----------------------------------------------------------------- raw-demo

# need_raw: skips unless this test may open a raw socket (CAP_NET_RAW).
need_raw() {
    command -v "$PYTHON" >/dev/null || skip "python3 not installed (it probes for CAP_NET_RAW)"
    "$PYTHON" -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)' 2>/dev/null ||
        skip "no CAP_NET_RAW here: a raw socket cannot be opened"
}

# raw_reply ADDRESS_REGEX SEQ: the line raw-demo prints for one echo reply.
raw_reply() { echo "^reply from $1: id=[0-9]+ seq=$2 ttl=[0-9]+ bytes=64 time=[0-9]+\\.[0-9]{3} ms\$"; }

# bats test_tags=exchange,memcheck
@test "raw-demo: echo replies from 127.0.0.1, matched by identifier and sequence, with their round-trip times" {
    need_raw
    run_client 08-socket/raw-demo --count 3 127.0.0.1
    assert_success
    assert_equal "$stderr" ''
    assert_line -n 0 --regexp '^echo requests to 127\.0\.0\.1: id=[0-9]+, 64 bytes of ICMP each$'
    id=$(sed -n '1s/.* id=\([0-9]*\),.*/\1/p' <<<"$output")
    for seq in 1 2 3; do
        assert_line -n "$seq" --regexp "$(raw_reply '127\.0\.0\.1' "$seq")"
        assert_line -n "$seq" --partial " id=$id seq=$seq "
    done
    assert_line -n 4 '3 sent, 3 received'
    assert_equal "${#lines[@]}" 5 # our own requests, also seen on lo, are not replies
}

@test "raw-demo: echo replies from the other host, across the veth pair" {
    two_hosts
    need_raw
    on_host "$CLIENT_HOST" run_client 08-socket/raw-demo --count 2 "$NET.1"
    assert_success
    assert_line -n 1 --regexp "$(raw_reply "${NET//./\\.}\\.1" 1)"
    assert_line -n 2 --regexp "$(raw_reply "${NET//./\\.}\\.1" 2)"
    assert_line -n 3 '2 sent, 2 received'
    # a host with no route: sendto() fails at once
    start_host LONE_HOST
    on_host "$LONE_HOST" run_client 08-socket/raw-demo --count 1 "$NET.1"
    assert_failure 1
    assert_equal "$stderr" 'raw-demo: sendto: Network is unreachable'
}

@test "raw-demo: an address on the link that no host has is 'timed out' after --timeout" {
    two_hosts
    need_raw
    # 10.250.N.3: on the pair's network, so routed onto the veth, where
    # nobody answers the ARP request for it
    start=$SECONDS
    on_host "$CLIENT_HOST" run_client 08-socket/raw-demo --count 2 --timeout 1 "$NET.3"
    assert_failure 1
    assert_equal "$stderr" "raw-demo: timed out after 1 s waiting for the echo reply seq=1 from $NET.3"
    assert_line -n 1 '1 sent, 0 received'
    ((SECONDS - start <= 1 + 5 * LAB_TIME_SCALE))
}

@test "raw-demo: its own request, seen on lo, is no reply: a host that ignores echo requests gives none" {
    need_hosts
    need_raw
    start_host LONE_HOST
    # the kernel of this host answers no echo request; raw sockets still
    # get a copy of each one that arrives, ours on lo included
    nsenter -t "$LONE_HOST" -n sh -c 'echo 1 >/proc/sys/net/ipv4/icmp_echo_ignore_all'
    on_host "$LONE_HOST" run_client 08-socket/raw-demo --count 1 --timeout 1 127.0.0.1
    assert_failure 1
    assert_equal "$stderr" "raw-demo: timed out after 1 s waiting for the echo reply seq=1 from 127.0.0.1"
    assert_line -n 1 '1 sent, 0 received'
}

# bats test_tags=usage,memcheck
@test "raw-demo: a bad address or count is exit 2 with one line; no address, two addresses too" {
    for bad in 1.2.3 localhost 256.0.0.1 ::1 ''; do
        run_client 08-socket/raw-demo "$bad"
        assert_failure 2
        assert_output ''
        assert_equal "$stderr" "raw-demo: bad address '$bad' (an IPv4 address like 127.0.0.1)"
    done
    run_client 08-socket/raw-demo --count 0 127.0.0.1
    assert_failure 2
    assert_regex "$stderr" "^raw-demo: bad value '0' for --count"
    run_client 08-socket/raw-demo
    assert_failure 2
    assert_equal "$stderr" 'raw-demo: no ADDRESS given (try --help)'
    run_client 08-socket/raw-demo 127.0.0.1 127.0.0.2
    assert_failure 2
    assert_equal "$stderr" 'raw-demo: one ADDRESS only (try --help)'
}

@test "raw-demo: without CAP_NET_RAW, one line naming it and the unprivileged SOCK_DGRAM way; exit 1" {
    command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
    setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null ||
        skip "cannot run a program as another user (needs CAP_SETUID)"
    range=$(cat /proc/sys/net/ipv4/ping_group_range)
    # another user, with no capability left (setting a uid other than 0 drops
    # them); natively, also in memcheck mode (valgrind's log is root's)
    run --separate-stderr timeout -k 2 "$CLIENT_LIMIT" setpriv --reuid=65534 --regid=65534 \
        --clear-groups --inh-caps=-all "$(bin 08-socket/raw-demo)" 127.0.0.1
    assert_failure 1
    assert_output ''
    assert_equal "$stderr" "raw-demo: socket(AF_INET, SOCK_RAW, IPPROTO_ICMP): Operation not permitted: a raw socket needs CAP_NET_RAW; without it use socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP), allowed to the groups in /proc/sys/net/ipv4/ping_group_range (here: ${range//$'\t'/ })"
}

# socket_line ROLE REGEX WHAT: a line of ROLE in $T/trace matches the
# extended REGEX (bash's =~: its groups in BASH_REMATCH, to name the sockets
# the next checks look for); otherwise fails as carried does, with WHAT.
socket_line() {
    local line
    while IFS= read -r line; do
        [[ $line =~ ^$1\ +$2 ]] && return 0
    done <"$T/trace"
    carried "$1" "$2" "$3"
}

# bats test_tags=exchange,mechanism
@test "mechanism: Unix: the text goes through the connection accept4 gave the server, and nothing else" {
    trace_exchange --server "08-socket/server --name $NAME" --calls socket,bind,listen,accept4,connect \
        -- 08-socket/client --name "$NAME" hello
    local path="[$]IPC_LAB_DIR/socket/$NAME\.sock" client server
    carried server "bind\([0-9]+<UNIX-STREAM:\[[0-9]+\]>, \{sa_family=AF_UNIX, sun_path=\"$path\"" \
        "the server binds a Unix stream socket to $NAME.sock"
    socket_line client "connect\([0-9]+<UNIX-STREAM:\[([0-9]+)\]>, \{sa_family=AF_UNIX, sun_path=\"$path\"" \
        "the client connects a Unix stream socket to the server's $NAME.sock"
    client=${BASH_REMATCH[1]}
    socket_line server "accept4\([0-9]+<UNIX-STREAM:\[[0-9]+,\"$path\"\]>, .* = [0-9]+<UNIX-STREAM:\[([0-9]+)->$client," \
        "the server accepts the client's connection with accept4 on its listening socket"
    server=${BASH_REMATCH[1]}
    carried client "(sendto|sendmsg|write|writev)\([0-9]+<UNIX-STREAM:\[$client(->$server)?\]>, .*\"hello" \
        "the client sends hello on its connected socket"
    carried server "(recvfrom|recvmsg|read|readv)\([0-9]+<UNIX-STREAM:\[$server->$client,[^>]*>, .*\"hello" \
        "the server receives hello on the connection accept4 returned"
    carried server "(sendto|sendmsg|write|writev)\([0-9]+<UNIX-STREAM:\[$server->$client,[^>]*>, .*\"HELLO" \
        "the server sends HELLO back on that same connection"
    carried client "(recvfrom|recvmsg|read|readv)\([0-9]+<UNIX-STREAM:\[$client->$server\]>, .*\"HELLO" \
        "the client receives HELLO on its connected socket"
    carried_only_by hello "client +(sendto|sendmsg|write|writev|recvfrom|recvmsg|read|readv)\([0-9]+<UNIX-STREAM:\[${client}[]-]" \
        "server +(sendto|sendmsg|write|writev|recvfrom|recvmsg|read|readv)\([0-9]+<UNIX-STREAM:\[$server->$client," \
        '(server|client) +write\(1<stdout>, "(received: hello \(pid=[^ ]+ uid=[0-9]+\)|HELLO)\\n"'
}

# bats test_tags=exchange,mechanism
@test "mechanism: TCP: the text goes through the connection accept4 gave the server, and nothing else" {
    trace_exchange --server "08-socket/server --tcp 0" --calls socket,bind,listen,accept4,connect \
        -- 08-socket/client --tcp '127.0.0.1:{port}' hello
    local port client
    socket_line server "listen\([0-9]+<TCP:\[127\.0\.0\.1:([0-9]+)\]>, " "the server listens on a TCP socket bound to 127.0.0.1"
    port=${BASH_REMATCH[1]}
    carried client "connect\([0-9]+<TCP:\[[0-9]+\]>, \{sa_family=AF_INET, sin_port=htons\($port\), sin_addr=inet_addr\(\"127\.0\.0\.1\"\)" \
        "the client connects a TCP socket to 127.0.0.1:$port"
    socket_line server "accept4\([0-9]+<TCP:\[127\.0\.0\.1:$port\]>, .* = [0-9]+<TCP:\[127\.0\.0\.1:$port->127\.0\.0\.1:([0-9]+)\]>" \
        "the server accepts the client's connection with accept4 on its listening socket"
    client=${BASH_REMATCH[1]}
    local at_client="TCP:\[127\.0\.0\.1:$client->127\.0\.0\.1:$port\]" at_server="TCP:\[127\.0\.0\.1:$port->127\.0\.0\.1:$client\]"
    carried client "(sendto|sendmsg|write|writev)\([0-9]+<$at_client>, .*\"hello" "the client sends hello on its connection"
    carried server "(recvfrom|recvmsg|read|readv)\([0-9]+<$at_server>, .*\"hello" "the server receives hello on the connection accept4 returned"
    carried server "(sendto|sendmsg|write|writev)\([0-9]+<$at_server>, .*\"HELLO" "the server sends HELLO back on that same connection"
    carried client "(recvfrom|recvmsg|read|readv)\([0-9]+<$at_client>, .*\"HELLO" "the client receives HELLO on its connection"
    carried_only_by hello "client +(sendto|sendmsg|write|writev|recvfrom|recvmsg|read|readv)\([0-9]+<$at_client>" \
        "server +(sendto|sendmsg|write|writev|recvfrom|recvmsg|read|readv)\([0-9]+<$at_server>" \
        '(server|client) +write\(1<stdout>, "(received: hello|HELLO)\\n"'
}

# bats test_tags=exchange,mechanism
@test "mechanism: UDP: the request is a datagram the server receives with recvmsg, the reply one it sends with sendmsg" {
    trace_exchange --server "08-socket/server --udp 0" --calls socket,bind,connect \
        -- 08-socket/client --udp '127.0.0.1:{port}' hello
    local port client
    carried server "socket\(AF_INET, SOCK_DGRAM" "the server makes a UDP socket (SOCK_DGRAM)"
    socket_line client "(sendto|sendmsg|write)\([0-9]+<UDP:\[127\.0\.0\.1:([0-9]+)->127\.0\.0\.1:([0-9]+)\]>, .*\"hello" \
        "the client sends hello in a datagram from its connected UDP socket"
    client=${BASH_REMATCH[2]} port=${BASH_REMATCH[3]}
    local at_client="UDP:\[127\.0\.0\.1:$client->127\.0\.0\.1:$port\]" from="\{msg_name=\{sa_family=AF_INET, sin_port=htons\($client\), sin_addr=inet_addr\(\"127\.0\.0\.1\"\)\}"
    carried server "recvmsg\([0-9]+<UDP:\[127\.0\.0\.1:$port\]>, $from, .*\"hello" \
        "the server receives hello with recvmsg on its UDP socket, from the client's port $client"
    carried server "sendmsg\([0-9]+<UDP:\[127\.0\.0\.1:$port\]>, $from, .*\"HELLO" \
        "the server sends HELLO with sendmsg from its UDP socket to the client's port $client"
    carried client "(recvfrom|recvmsg|read)\([0-9]+<$at_client>, .*\"HELLO" "the client receives HELLO on its UDP socket"
    carried_only_by hello "client +(sendto|sendmsg|write|recvfrom|recvmsg|read)\([0-9]+<$at_client>" \
        "server +(recvmsg|sendmsg)\([0-9]+<UDP:\[127\.0\.0\.1:$port\]>, $from" \
        '(server|client) +write\(1<stdout>, "(received: hello|HELLO)\\n"'
}

# bats test_tags=exchange
@test "README: every transcript shows what the programs print" {
    check_transcripts 08-socket
}
