#!/usr/bin/env bats
# 04-signal: SIGUSR1/SIGUSR2 as notifications, SIGRTMIN + sigqueue() as a carrier.

load lab

setup() {
    lab_setup
    BACKGROUND=()
    CHECKED=()
    NAMESPACE_JOB=
}
teardown() {
    local pid
    if [[ -n $NAMESPACE_JOB ]]; then # timeout passes SIGTERM on; unshare's
        kill -TERM "$NAMESPACE_JOB" 2>/dev/null || true # death kills the namespace
        wait "$NAMESPACE_JOB" 2>/dev/null || true
    fi
    for pid in "${SERVER_PIDS[@]}"; do # a server left stopped would never see SIGTERM
        kill -CONT "$pid" 2>/dev/null || true
    done
    for pid in "${BACKGROUND[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    lab_teardown
}

server() { start_server 04-signal/server --name "$NAME"; }
client() { run_client 04-signal/client --name "$NAME" "$@"; }

# start_client OUT ARGS...: a client in the background, its own pid in $!
# (not a subshell's, so it can be killed and watched); bounded by its
# --timeout and by the test's wait_for_exit.
start_client() {
    local out=$1
    shift
    "${LAB_WRAP[@]}" "$(bin 04-signal/client)" --name "$NAME" "$@" >"$out" 2>"$out.err" </dev/null 3>&- &
    BACKGROUND+=("$!")
}

# start_checked_client I MESSAGE...: a background client whose expected
# replies are kept in $T/expected.I; check_clients judges it.
start_checked_client() {
    local i=$1
    shift
    printf '%s\n' "$@" | upper >"$T/expected.$i"
    start_client "$T/out.$i" --timeout "$CLIENT_LIMIT" "$@"
    CHECKED+=("$i:$!")
}

# check_clients: every checked client exits 0 in time with exactly its own
# replies, in order.
check_clients() {
    local entry i pid status
    for entry in "${CHECKED[@]}"; do
        i=${entry%%:*} pid=${entry#*:}
        wait_for_exit "$pid" "$CLIENT_LIMIT"
        status=0
        wait "$pid" || status=$?
        assert_equal "client $i exit $status: $(cat "$T/out.$i.err")" "client $i exit 0: "
        cmp "$T/expected.$i" "$T/out.$i"
    done
}

# random_message BYTES PREFIX: printable, mixed case, no newline.
random_message() {
    local body
    body=$(head -c $(($1 * 2)) /dev/urandom | base64 -w0)
    printf '%s' "$2$body" | head -c "$1"
}

upper() { LC_ALL=C tr a-z A-Z; }

millis() { date +%s%3N; }

@test "server: ready line names NAME.pid, which holds the pid; modes 0600 and 0700" {
    server
    assert_regex "$READY_LINE" '^ready pid=[0-9]+ path=[^ ]+$'
    assert_equal "${READY[path]}" "$IPC_LAB_DIR/signal/$NAME.pid"
    assert_equal "$(cat "${READY[path]}")" "${READY[pid]}"
    assert_equal "${READY[pid]}" "$SERVER_PID"
    assert_equal "$(stat -c %a "${READY[path]}")" 600
    assert_equal "$(stat -c %a "$IPC_LAB_DIR/signal")" 700
    assert_equal "$(stat -c %a "$IPC_LAB_DIR")" 700
    # it blocks the signals it takes, so none of them can kill it, and
    # catches the stop signals (SIGHUP, SIGINT, SIGQUIT, SIGTERM: a handler,
    # which can interrupt a write to a stalled log; a blocked one could not)
    mask=$(awk '/^SigBlk:/ { print $2 }' "/proc/$SERVER_PID/status")
    for signo in 10 12 34; do
        (( (16#$mask >> (signo - 1)) & 1 )) || fail "signal $signo not blocked: SigBlk $mask"
    done
    caught=$(awk '/^SigCgt:/ { print $2 }' "/proc/$SERVER_PID/status")
    for signo in 1 2 3 15; do
        (( (16#$caught >> (signo - 1)) & 1 )) || fail "signal $signo not caught: SigCgt $caught"
    done
}

# bats test_tags=exchange,memcheck
@test "exchange: replies in order, empty message, received lines" {
    server
    client hello 'big World!' '' 'a-z only: 123'
    assert_success
    assert_equal "$output" "$(printf 'HELLO\nBIG WORLD!\n\nA-Z ONLY: 123')"
    assert_equal "$stderr" ''
    wait_for_line "$SERVER_LOG" '^received: a-z only: 123$'
    assert_equal "$(grep '^received:' "$SERVER_LOG")" "$(printf 'received: hello\nreceived: big World!\nreceived: \nreceived: a-z only: 123')"
}

# bats test_tags=exchange
@test "exchange: every byte value but newline goes through, only a-z changes" {
    server
    # one line holding bytes 0-255 except 10, then the same backwards
    up=$(printf '\\0%03o' $(seq 0 9) $(seq 11 255))
    down=$(printf '\\0%03o' $(seq 255 -1 11) $(seq 9 -1 0))
    printf '%b\n%b\n' "$up" "$down" >"$T/in"
    assert_equal "$(wc -c <"$T/in")" $((2 * 256))
    lab_exec 04-signal/client --name "$NAME" <"$T/in" >"$T/out"
    upper <"$T/in" >"$T/expected"
    cmp "$T/expected" "$T/out"
}

# bats test_tags=exchange,memcheck
@test "exchange: messages from stdin, last line without newline included" {
    server
    printf 'one\ntwo\n\nthree' >"$T/in"
    client <"$T/in"
    assert_success
    assert_equal "$output" "$(printf 'ONE\nTWO\n\nTHREE')"
}

# bats test_tags=memcheck
@test "exchange: a 1024-byte message; 1025 bytes is too long (exit 2) after earlier ones went" {
    server
    max=$(random_message 1024 max-)
    client "$max"
    assert_success
    assert_equal "$output" "$(printf '%s' "$max" | upper)"
    client first "x$max" never
    assert_failure 2
    assert_equal "$output" FIRST
    assert_regex "$stderr" '^client: .*too long'
    wait_for_line "$SERVER_LOG" '^received: first$'
    run grep -c '^received:' "$SERVER_LOG"
    assert_output 2
}

# bats test_tags=exchange
@test "exchange: --pid PID reaches the server without NAME.pid" {
    server
    run_client 04-signal/client --pid "${READY[pid]}" hello
    assert_success
    assert_output HELLO
}

# bats test_tags=exchange
@test "5 clients at once, several hundred bytes each, each gets exactly its own replies" {
    server
    for i in 1 2 3 4 5; do
        args=()
        for j in 1 2 3; do
            args+=("$(random_message $((150 * j + 100 * i)) "client $i message $j ")")
        done
        start_checked_client "$i" "${args[@]}"
    done
    check_clients
    run grep -c '^received: client' "$SERVER_LOG"
    assert_output 15
}

@test "flow control: 5 clients of 1024-byte messages through a queue of 200 signals" {
    # Lower RLIMIT_SIGPENDING for the server and the clients alike: a
    # 1024-byte message is 1025 signals, so senders on both sides meet
    # EAGAIN and must wait for room.
    ulimit -S -i 200
    server
    assert_equal "$(awk '/^Max pending signals/ { print $4 }' "/proc/$SERVER_PID/limits")" 200
    for i in 1 2 3 4 5; do
        start_checked_client "$i" "$(random_message 1024 "client $i first ")" \
            "$(random_message 1024 "client $i second ")"
    done
    check_clients
}

@test "SIGUSR1 from a shell's kill builtin is logged with that shell's pid, never answered" {
    server
    kill -USR1 "$SERVER_PID"
    wait_for_line "$SERVER_LOG" "^signal: SIGUSR1 from pid=$BASHPID\$"
    # /usr/bin/kill, exec'd so that its pid is the one written down
    sh -c 'echo $$ >"$1"; exec /usr/bin/kill -USR2 "$2"' sh "$T/sender" "$SERVER_PID"
    wait_for_line "$SERVER_LOG" "^signal: SIGUSR2 from pid=$(cat "$T/sender")\$"
    stop_server
    assert_equal "$STOP_STATUS" 0
    assert_equal "$(tail -n 1 "$SERVER_LOG")" 'signals: SIGUSR1=1 SIGUSR2=1 messages=0'
}

@test "client --signal USR2 --count 3: every one logged is counted in the summary" {
    server
    client --signal USR2 --count 3
    assert_success
    assert_output ''
    client --signal USR1
    assert_success
    client hello
    wait_for_line "$SERVER_LOG" '^received: hello$'
    stop_server
    logged2=$(grep -c '^signal: SIGUSR2 from pid=' "$SERVER_LOG")
    logged1=$(grep -c '^signal: SIGUSR1 from pid=' "$SERVER_LOG")
    ((logged2 >= 1 && logged2 <= 3))
    assert_equal "$logged1" 1
    assert_equal "$(tail -n 1 "$SERVER_LOG")" "signals: SIGUSR1=1 SIGUSR2=$logged2 messages=1"
}

@test "standard signals do not queue: 1000 SIGUSR1 at a stopped server arrive as one" {
    server
    kill -STOP "$SERVER_PID"
    client --signal USR1 --count 1000
    assert_success
    kill -CONT "$SERVER_PID"
    wait_for_line "$SERVER_LOG" '^signal: SIGUSR1'
    stop_server
    assert_equal "$(tail -n 1 "$SERVER_LOG")" 'signals: SIGUSR1=1 SIGUSR2=0 messages=0'
}

@test "real-time signals queue: three sigqueue()s at a stopped server arrive as three" {
    server
    kill -STOP "$SERVER_PID"
    for _ in 1 2 3; do
        /usr/bin/kill -s RTMIN -q 300 "$SERVER_PID"
    done
    kill -CONT "$SERVER_PID"
    # all three handled before the SIGTERM: a lower number, it would be
    # delivered before real-time signals still pending
    wait_for_lines "$SERVER_LOG" '^ignored: value 300 ' 3
    stop_server
    run grep -c '^ignored: value 300 from pid=[0-9]* is neither a byte' "$SERVER_LOG"
    assert_output 3
}

@test "server: SIGTERM prints the summary, removes NAME.pid, exit 0" {
    server
    client one two
    stop_server "$SERVER_PID" TERM
    assert_equal "$STOP_STATUS" 0
    assert_equal "$(tail -n 1 "$SERVER_LOG")" 'signals: SIGUSR1=0 SIGUSR2=0 messages=2'
    assert [ ! -e "${READY[path]}" ]
    assert_equal "$(ls -A "$IPC_LAB_DIR/signal")" ''
    assert_equal "$(cat "$SERVER_ERR")" ''
}

@test "server: SIGINT does the same" {
    server
    stop_server "$SERVER_PID" INT
    assert_equal "$STOP_STATUS" 0
    assert_equal "$(tail -n 1 "$SERVER_LOG")" 'signals: SIGUSR1=0 SIGUSR2=0 messages=0'
    assert_equal "$(ls -A "$IPC_LAB_DIR/signal")" ''
}

# bats test_tags=memcheck
@test "not running: no server, at once (exit 1)" {
    start=$(millis)
    client --timeout 30 hello
    assert_failure 1
    assert_regex "$stderr" '^client: .*not running'
    assert_equal "$output" ''
    client --timeout 30 --signal USR1
    assert_failure 1
    assert_regex "$stderr" 'not running'
    (($(millis) - start < 2500 * LAB_TIME_SCALE))
}

@test "not running: --pid of no process, or of a zombie (which kill -0 still finds)" {
    run_client 04-signal/client --timeout 30 --pid 4194304 hello
    assert_failure 1
    assert_equal "$stderr" 'client: server pid 4194304 not running (no such process)'
    # a child that exits under a parent that never reaps it
    perl -e 'my $pid = fork() // die; exit 0 if $pid == 0;
             open(my $f, ">", $ARGV[0]) or die; print $f "$pid\n"; close $f; sleep 60' \
        "$T/zombie" 3>&- &
    BACKGROUND+=("$!")
    wait_for_line "$T/zombie" '^[0-9]+$'
    zombie=$(cat "$T/zombie")
    wait_for_line "/proc/$zombie/stat" '^[0-9]+ \(perl\) Z '
    kill -0 "$zombie"
    run_client 04-signal/client --timeout 30 --pid "$zombie" --signal USR1
    assert_failure 1
    assert_equal "$stderr" "client: server pid $zombie not running (it has exited)"
}

@test "timed out: a stopped server (exit 1); its reply, once it goes on, finds no one" {
    server
    kill -STOP "$SERVER_PID"
    start=$(millis)
    client --timeout 1 hello
    assert_failure 1
    assert_regex "$stderr" '^client: timed out after 1 s'
    (($(millis) - start >= 1000))
    kill -CONT "$SERVER_PID"
    wait_for_line "$SERVER_LOG" '^ignored: reply to pid=[0-9]+: sender exited$'
    client still here
    assert_success
    assert_equal "$output" "$(printf 'STILL\nHERE')"
}

@test "already running: a second server of the same NAME exits 1, the first serves on" {
    server
    run_server 04-signal/server --name "$NAME"
    assert_failure 1
    assert_regex "$stderr" "^server: $NAME already running"
    assert_equal "$output" ''
    assert_equal "$(cat "${READY[path]}")" "$SERVER_PID"
    client hello
    assert_success
    assert_output HELLO
}

@test "takeover: after kill -9 the leftover NAME.pid means not running; a new server replaces it" {
    server
    old=$SERVER_PID
    kill -KILL "$old"
    wait_for_exit "$old"
    assert_equal "$(cat "$IPC_LAB_DIR/signal/$NAME.pid")" "$old"
    client --timeout 30 hello
    assert_failure 1
    assert_regex "$stderr" "^client: server $NAME not running \\($IPC_LAB_DIR/signal/$NAME.pid is a killed server's leftover\\)\$"
    server
    assert [ "$SERVER_PID" != "$old" ]
    assert_equal "$(cat "${READY[path]}")" "$SERVER_PID"
    client hello
    assert_success
    assert_output HELLO
}

@test "garbage: kill -RTMIN without a value and values out of 0-256 are ignored; the server serves on" {
    server
    kill -RTMIN "$SERVER_PID"
    /usr/bin/kill -s RTMIN --queue=-5 "$SERVER_PID"
    /usr/bin/kill -s RTMIN -q 257 "$SERVER_PID"
    wait_for_line "$SERVER_LOG" "^ignored: SIGRTMIN from pid=$BASHPID carries no value"
    wait_for_line "$SERVER_LOG" '^ignored: value -5 from pid='
    wait_for_line "$SERVER_LOG" '^ignored: value 257 from pid='
    client hello
    assert_success
    assert_output HELLO
}

# bats test_tags=memcheck
@test "too much: 1100 bytes from one sender are dropped, its buffer freed when it exits" {
    server
    # procps kill sends one sigqueue() per pid listed: 1100 'A's, one process
    mapfile -t targets < <(yes "$SERVER_PID" | head -n 1100)
    sh -c 'echo $$ >"$1"; shift; exec /usr/bin/kill -s RTMIN -q 65 "$@"' sh "$T/sender" "${targets[@]}"
    sender=$(cat "$T/sender")
    wait_for_line "$SERVER_LOG" "^ignored: message from pid=$sender over 1024 bytes; dropped\$"
    wait_for_line "$SERVER_LOG" "^ignored: partial message from pid=$sender \\(0 bytes\\): sender exited\$"
    client hello
    assert_success
    assert_output HELLO
}

# bats test_tags=memcheck
@test "killed mid-message: the partial buffer is freed, never mixed; others get their own replies" {
    ulimit -S -i 200 # the victim cannot queue all of its 1025 signals
    server
    kill -STOP "$SERVER_PID"
    start_client "$T/victim" --timeout 30 "$(random_message 1024 victim-)"
    victim=$!
    # some of its bytes are queued at the server: SIGRTMIN (34, bit 33) pending
    wait_for_line "/proc/$SERVER_PID/status" '^ShdPnd:[[:space:]]*[0-9a-f]{7}[2367abef][0-9a-f]{8}$'
    kill -KILL "$victim"
    wait_for_exit "$victim"
    kill -CONT "$SERVER_PID"
    for i in 1 2 3; do
        start_checked_client "$i" "$(random_message 700 "client $i ")"
    done
    wait_for_line "$SERVER_LOG" "^ignored: partial message from pid=$victim \\([0-9]+ bytes\\): sender exited\$"
    check_clients
    run grep -c '^received: ' "$SERVER_LOG"
    assert_output 3
}

@test "killed while waiting for its reply: the server drops the reply and serves on" {
    server
    kill -STOP "$SERVER_PID"
    start_client "$T/victim" --timeout 30 "$(random_message 500 victim-)"
    victim=$!
    wait_for_line "/proc/$victim/wchan" sigtimedwait # all sent, waiting
    kill -KILL "$victim"
    wait_for_exit "$victim"
    kill -CONT "$SERVER_PID"
    wait_for_line "$SERVER_LOG" "^ignored: reply to pid=$victim: sender exited\$"
    client after
    assert_success
    assert_output AFTER
}

@test "clients killed at random points while others run: no hang, no wrong reply" {
    server
    for i in 1 2 3; do
        args=()
        for j in 1 2 3 4; do args+=("$(random_message 400 "good $i.$j ")"); done
        start_checked_client "$i" "${args[@]}"
    done
    for k in 1 2 3 4 5 6; do
        start_client "$T/victim.$k" --timeout 30 "$(random_message 1000 "victim $k ")" more
        victim=$!
        # let it get somewhere (any point will do), then kill it
        wait_for_line "/proc/$victim/status" '^SigBlk:.*[1-9a-f]' || true
        kill -KILL "$victim" 2>/dev/null || true # unless it was done already
        wait_for_exit "$victim"
    done
    check_clients
    client last
    assert_success
    assert_output LAST
}

# forge SERVER_PID CLAIMED_PID MESSAGE: sends MESSAGE as SIGRTMIN values
# (then 256) with rt_sigqueueinfo(), which lets the sender write any si_pid.
forge() {
    python3 - "$@" <<'PY'
import ctypes, os, platform, signal, struct, sys
server, claimed, message = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()
number = {"x86_64": 129, "aarch64": 138}[platform.machine()]
libc = ctypes.CDLL(None, use_errno=True)
for value in list(message) + [256]:
    # siginfo_t: signo, errno, code (SI_QUEUE = -1), pad; si_pid, si_uid, si_value
    info = ctypes.create_string_buffer(struct.pack("iiiiiIq", signal.SIGRTMIN, 0, -1, 0,
                                                   claimed, os.getuid(), value), 128)
    if libc.syscall(number, server, signal.SIGRTMIN, info) != 0:
        sys.exit("rt_sigqueueinfo: " + os.strerror(ctypes.get_errno()))
PY
}

# bats test_tags=hidden
@test "forged sender: si_pid of an unrelated process gets no reply (SIGRTMIN would kill it)" {
    server
    sleep 1000 &
    victim=$!
    BACKGROUND+=("$victim")
    forge "$SERVER_PID" "$victim" forged
    wait_for_line "$SERVER_LOG" "^ignored: reply to pid=$victim: "
    # a round trip: the server is past the forged message, and serves on
    client hello
    assert_success
    assert_output HELLO
    run cat "/proc/$victim/stat"
    assert_success
    refute_output --regexp '^[0-9]+ \([^)]*\) [ZX] '
}

@test "forged sender: its own pid as si_pid is never answered (no loop, one log line)" {
    server
    forge "$SERVER_PID" "$SERVER_PID" loop
    wait_for_line "$SERVER_LOG" "^ignored: reply to pid=$SERVER_PID: "
    for _ in 1 2 3; do # round trips: a loop would have logged more by now
        client hello
        assert_success
    done
    stop_server
    assert_equal "$STOP_STATUS" 0
    run grep -c -e '^received: loop$' "$SERVER_LOG"
    assert_output 1
    run grep -c -e '^received: LOOP$' -e '^ignored: reply to' "$SERVER_LOG"
    assert_output 1
}

# host_pid_of NS_PID ROOT: the pid the host sees for the process that is
# NS_PID in a pid namespace made below process ROOT (NSpid in /proc/PID/status
# lists a process's pid in each namespace, outermost first), or nothing.
host_pid_of() {
    local want=$1 queue=("$2") pid ids children
    while ((${#queue[@]} > 0)); do
        pid=${queue[0]}
        queue=("${queue[@]:1}")
        ids=$(sed -n 's/^NSpid:[[:space:]]*//p' "/proc/$pid/status" 2>/dev/null) || continue
        if [[ $ids == *[[:space:]]* && ${ids##*[[:space:]]} == "$want" ]]; then
            echo "$pid"
            return 0
        fi
        read -ra children < <(cat "/proc/$pid/task/"*/children 2>/dev/null | tr '\n' ' ')
        queue+=("${children[@]}")
    done
}

@test "sender pid 0 (outside the server's pid namespace) or 1: ignored, nobody signalled" {
    require_pid_namespace
    # Inside: pid 1 is this script, which catches SIGRTMIN and notes it (a
    # namespace's init gets from inside only the signals it catches); the
    # server is its child, a sentinel shares their process group, which
    # kill(0, ...) would hit. The host's sender shows as si_pid 0 in there.
    # shellcheck disable=SC2016 # expanded by the namespace's bash
    local script='
        trap ": >>\"$T/init-signalled\"" RTMIN
        log=$T/ns-server.out
        "$(bin 04-signal/server)" --name "$NAME" >"$log" 2>"$T/ns-server.err" </dev/null &
        server=$!
        sleep 1000 &
        sentinel=$!
        wait_for_line "$log" "^ready pid=$server "
        # The host client has sent (its bytes may come apart in the log: pid 0
        # never names a live sender, so its buffer is dropped as departed).
        wait_for_line "$log" "^ignored: reply to pid=0: " || echo "pid 0: no ignored line"
        forge "$server" 1 init # from inside: pid 1 is this script
        wait_for_line "$log" "^ignored: reply to pid=1: " || echo "pid 1: no ignored line"
        timeout "$READY_LIMIT" "$(bin 04-signal/client)" --name "$NAME" hello
        kill -0 "$sentinel" && echo "sentinel alive"
        kill -TERM "$server"
        status=0
        wait "$server" || status=$?
        echo "server exit $status"
        [[ -e $T/init-signalled ]] && echo "pid 1 was signalled"
        exit 0'
    export T NAME IPC_LAB_DIR LAB_BIN_ROOT READY_LIMIT STOP_LIMIT
    export -f bin wait_for_line wait_until wait_for_exit forge
    timeout -k 2 "$((30 * LAB_TIME_SCALE))" unshare --pid --fork --mount-proc --kill-child \
        bash -euo pipefail -c "$script" >"$T/ns.out" 2>"$T/ns.err" </dev/null 3>&- &
    NAMESPACE_JOB=$!
    wait_for_line "$T/ns-server.out" '^ready '
    server=$(host_pid_of "$(sed -n 's/^ready pid=\([0-9]*\) .*/\1/p' "$T/ns-server.out")" \
        "$NAMESPACE_JOB")
    [[ -n $server ]]
    client_timeout=$((1 * LAB_TIME_SCALE))
    run_client 04-signal/client --pid "$server" --timeout "$client_timeout" outside
    assert_failure 1
    assert_regex "$stderr" "timed out"
    wait_for_exit "$NAMESPACE_JOB" "$CLIENT_LIMIT"
    status=0
    wait "$NAMESPACE_JOB" || status=$?
    NAMESPACE_JOB=
    cat "$T/ns.err" "$T/ns-server.err" "$T/ns-server.out" >&2
    assert_equal "namespace exit $status" "namespace exit 0"
    run cat "$T/ns.out"
    assert_output "$(printf '%s\n' HELLO "sentinel alive" "server exit 0")"
    run grep -c -e '^received: init$' -e '^received: hello$' "$T/ns-server.out"
    assert_output 2
}

@test "full runtime dir: writing NAME.pid fails, exit 1, nothing left (no NAME.pid.new)" {
    unshare --mount true 2>/dev/null || skip "needs unshare --mount (root) for a private tmpfs"
    mkdir "$T/small"
    # A private 16 KiB tmpfs with one page free: NAME.lock takes it, the pid
    # file's write then finds the file system full.
    # shellcheck disable=SC2016 # $1, $dir, $@ ... are the inner shell's
    run --separate-stderr timeout -k 2 "$CLIENT_LIMIT" unshare --mount sh -c '
        dir=$1 name=$2
        shift 2
        mount -t tmpfs -o size=16k,mode=700 lab-small "$dir" || exit 99
        mkdir -m 700 "$dir/run"
        dd if=/dev/zero of="$dir/fill" bs=4096 2>/dev/null
        truncate -s -4096 "$dir/fill"
        status=0
        IPC_LAB_DIR=$dir/run "$@" --name "$name" >/dev/null 3>&- || status=$?
        echo "left: $(ls -A "$dir/run/signal")"
        exit "$status"' sh "$T/small" "$NAME" "${LAB_WRAP[@]}" "$(bin 04-signal/server)"
    assert_failure 1
    assert_regex "$stderr" "^server: .*No space left on device"
    assert_output 'left: '
}

# bats test_tags=usage
@test "options: --help (0), unknown option, bad name, bad combinations (2)" {
    check_help_and_unknown_option 04-signal server client
    check_bad_names 04-signal server client
    for bad in "--pid 1 --name x" "--count 3" "--signal KILL" "--signal USR1 hello" "--pid 0"; do
        read -ra words <<<"$bad"
        run_client 04-signal/client "${words[@]}"
        assert_failure 2
        assert_regex "$stderr" '^client: '
    done
    run_client 04-signal/server extra
    assert_failure 2
}

# signal_values ROLE REGEX: the si_int values of ROLE's calls that match
# REGEX and succeeded, in order, on one line.
signal_values() {
    sed -nE "s/^$1 +$2.*si_int=([0-9]+),.*\\) = [0-9]+( \\(SIGRT_[0-9]+\\))?\$/\\1/p" "$T/trace" | paste -sd' '
}

# bats test_tags=exchange,mechanism
@test "mechanism: the message and its reply go as real-time signals (sigqueue, signalfd, sigtimedwait), nothing else" {
    trace_exchange --calls rt_sigqueueinfo,rt_sigtimedwait,signalfd4 \
        --server "04-signal/server --name $NAME" -- 04-signal/client --name "$NAME" hello
    local sent replied received
    sent=$(signal_values client 'rt_sigqueueinfo\(<server>, SIGRT_[0-9]+, \{si_signo=SIGRT_[0-9]+, si_code=SI_QUEUE, si_pid=<client>,')
    [[ $sent == "104 101 108 108 111 256" ]] ||
        fail "missing: the request sent to the server with sigqueue (rt_sigqueueinfo), one SIGRTMIN per byte of hello (104 101 108 108 111) then 256; sent: ${sent:-nothing}"
    carried server 'signalfd4\(-1, \[[^]]*RT_[0-9]+[^]]*\]' "the server takes SIGRTMIN through a signalfd"
    carried server 'read\([0-9]+<anon_inode:\[signalfd\]>, ".*<client>' "the server reads the client's signals (signalfd_siginfo records naming its pid) from the signalfd"
    replied=$(signal_values server 'rt_sigqueueinfo\(<client>, SIGRT_[0-9]+, \{si_signo=SIGRT_[0-9]+, si_code=SI_QUEUE, si_pid=<server>,')
    [[ $replied == "72 69 76 76 79 256" ]] ||
        fail "missing: the reply sent back to the client's pid with sigqueue, one SIGRTMIN per byte of HELLO (72 69 76 76 79) then 256; sent: ${replied:-nothing}"
    received=$(signal_values client 'rt_sigtimedwait\(\[[^]]*\], \{si_signo=SIGRT_[0-9]+, si_code=SI_QUEUE, si_pid=<server>,')
    [[ $received == "72 69 76 76 79 256" ]] ||
        fail "missing: the reply taken by the client with sigtimedwait, SIGRTMIN from the server's pid, 72 69 76 76 79 then 256; taken: ${received:-nothing}"
    carried_only_by hello '(server|client) +write\(1<stdout>, "(received: hello|HELLO)\\n"'
}

# bats test_tags=exchange
@test "README: every transcript shows what the programs print" {
    check_transcripts 04-signal
}
