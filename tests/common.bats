#!/usr/bin/env bats
# The contract's rules common to every program (CONTRACT.md, "Common to every
# program" and "Servers"), checked on every chapter that is built. A chapter
# not built yet is skipped, by name.

load lab

setup() { lab_setup; }
teardown() { lab_teardown; }

# The pairs with a name: tests/pairs (shared with tools/stress).
mapfile -t PAIRS < <(grep -v '^[[:space:]]*\(#\|$\)' "$BATS_TEST_DIRNAME/pairs")

# for_each_pair FUNCTION: calls FUNCTION CHAPTER SERVER CLIENT TOPIC EXCHANGE
# for every built pair; skips the test if none is built.
for_each_pair() {
    local row chapter server client topic exchange ran=0
    for row in "${PAIRS[@]}"; do
        read -r chapter server client topic exchange _ <<<"$row"
        [[ -x $(bin "$chapter/$server") && -x $(bin "$chapter/$client") ]] || continue
        ran=1
        "$1" "$chapter" "$server" "$client" "$topic" "$exchange"
    done
    ((ran)) || skip "no chapter with a named server is built yet"
}

# Every program the lab builds, as CHAPTER/PROGRAM.
all_programs() {
    local dir program
    for dir in "$LAB_BIN_ROOT"/[0-9][0-9]-*/; do
        for program in server client posix-server posix-client; do
            [[ -x $dir$program ]] && echo "$(basename "$dir")/$program"
        done
    done
    return 0
}

@test "every program: --help prints usage on stdout and exits 0" {
    local program count=0
    for program in $(all_programs); do
        run_client "$program" --help
        assert_success
        assert_line -n 0 --partial "usage: ${program#*/}"
        assert_equal "$stderr" ''
        count=$((count + 1))
    done
    ((count > 0))
}

@test "every program: an unknown option is exit 2 and one stderr line 'PROGRAM: ...'" {
    local program
    for program in $(all_programs); do
        run_client "$program" --no-such-option
        assert_failure 2
        assert_equal "$output" ''
        assert_equal "$(wc -l <<<"$stderr")" 1
        assert_regex "$stderr" "^${program#*/}: "
        # still one line when the bad input holds a newline
        run_client "$program" $'--no\nsuch'
        assert_failure 2
        assert_equal "$(wc -l <<<"$stderr")" 1
    done
}

check_bad_names() { # CHAPTER SERVER CLIENT ...
    local name program
    local -a bad=('' '.hidden' 'a/b' 'with space' 'x*' "$(printf 'a%.0s' {1..41})" 'é')
    for program in "$1/$2" "$1/$3"; do
        for name in "${bad[@]}"; do
            run_client "$program" --name "$name"
            assert_failure 2
            assert_regex "$stderr" "^${program#*/}: .*name"
        done
    done
}
@test "every named program: a bad --name is exit 2" {
    for_each_pair check_bad_names
}

check_bad_timeout() {
    local value
    for value in abc -1 1e3 '' 5s; do
        run_client "$1/$3" --name "$NAME" --timeout "$value"
        assert_failure 2
        assert_regex "$stderr" "^$3: .*--timeout"
    done
}
@test "every client: a bad --timeout is exit 2" {
    for_each_pair check_bad_timeout
}

check_ready_and_stop() { # also: the runtime dir is made 0700, objects are 0600
    local chapter=$1 server=$2 topic=$4 signal
    for signal in TERM INT; do
        rm -rf "$IPC_LAB_DIR"
        start_server "$chapter/$server" --name "$NAME"
        assert_regex "$READY_LINE" "^ready pid=$SERVER_PID( [a-z]+=[^ ]+)*\$"
        assert_equal "$(stat -c %a "$IPC_LAB_DIR")" 700
        assert_equal "$(stat -c %a "$IPC_LAB_DIR/$topic")" 700
        # every object the server made is owner-only
        run find "$IPC_LAB_DIR/$topic" -mindepth 1 ! -perm 600
        assert_output ''
        stop_server "$SERVER_PID" "$signal"
        assert_equal "$STOP_STATUS" 0
        # and it removed every file it made
        run find "$IPC_LAB_DIR/$topic" -mindepth 1 -name "$NAME.*"
        assert_output ''
    done
}
@test "every server: ready line first, objects 0600 in a 0700 dir, SIGTERM/SIGINT exit 0 and clean" {
    for_each_pair check_ready_and_stop
}

check_default_runtime_dir() {
    local chapter=$1 server=$2
    unset IPC_LAB_DIR
    export XDG_RUNTIME_DIR=$T/xdg
    mkdir -m 700 "$XDG_RUNTIME_DIR"
    start_server "$chapter/$server" --name "$NAME"
    assert [ -d "$XDG_RUNTIME_DIR/ipc-lab-$(id -u)" ]
    assert_equal "$(stat -c %a "$XDG_RUNTIME_DIR/ipc-lab-$(id -u)")" 700
    stop_server
    assert_equal "$STOP_STATUS" 0
    rm -rf "$XDG_RUNTIME_DIR"
    export IPC_LAB_DIR=$T/run
}
@test "every server: without IPC_LAB_DIR the runtime dir is \${XDG_RUNTIME_DIR}/ipc-lab-UID" {
    for_each_pair check_default_runtime_dir
}

check_unsafe_runtime_dir() {
    local chapter=$1 server=$2
    # writable by group
    mkdir -m 770 "$IPC_LAB_DIR"
    run_server "$chapter/$server" --name "$NAME"
    assert_failure 1
    assert_regex "$stderr" "^$server: .*writable by group or others"
    # writable by others
    chmod 703 "$IPC_LAB_DIR"
    run_server "$chapter/$server" --name "$NAME"
    assert_failure 1
    rmdir "$IPC_LAB_DIR"
    # not a directory
    touch "$IPC_LAB_DIR"
    run_server "$chapter/$server" --name "$NAME"
    assert_failure 1
    assert_regex "$stderr" "not a directory"
    rm "$IPC_LAB_DIR"
    # a symlink to a good directory is still not a directory we own
    mkdir -m 700 "$T/elsewhere"
    ln -s "$T/elsewhere" "$IPC_LAB_DIR"
    run_server "$chapter/$server" --name "$NAME"
    assert_failure 1
    rm "$IPC_LAB_DIR"
    rmdir "$T/elsewhere"
    # owned by someone else
    mkdir -m 700 "$IPC_LAB_DIR"
    chown 65534:65534 "$IPC_LAB_DIR"
    run_server "$chapter/$server" --name "$NAME"
    assert_failure 1
    assert_regex "$stderr" "owned by uid 65534"
    rmdir "$IPC_LAB_DIR"
    # its parent must exist
    IPC_LAB_DIR=$T/missing/run run_server "$chapter/$server" --name "$NAME"
    assert_failure 1
    assert_regex "$stderr" "No such file or directory"
}
@test "every server: refuses an unsafe runtime dir, exit 1" {
    [[ $(id -u) == 0 ]] || skip "needs root to chown the runtime dir to another user"
    for_each_pair check_unsafe_runtime_dir
}

check_already_running() {
    local chapter=$1 server=$2
    start_server "$chapter/$server" --name "$NAME"
    run_server "$chapter/$server" --name "$NAME"
    assert_failure 1
    assert_regex "$stderr" "^$server: .*already running"
    # the first one is unharmed: it still stops cleanly
    stop_server
    assert_equal "$STOP_STATUS" 0
}
@test "every server: a second server of the same NAME is exit 1 'already running'" {
    for_each_pair check_already_running
}

check_names_apart() {
    local chapter=$1 server=$2
    start_server "$chapter/$server" --name "${NAME}a"
    local first=$SERVER_PID
    start_server "$chapter/$server" --name "${NAME}b"
    stop_server "$first"
    assert_equal "$STOP_STATUS" 0
    stop_server
    assert_equal "$STOP_STATUS" 0
}
@test "every server: two NAMEs run side by side, a 40-byte NAME works" {
    for_each_pair check_names_apart
    NAME=$(printf 'n%.0s' {1..39})$$
    NAME=${NAME: -39} # check_names_apart adds one byte: 40
    for_each_pair check_names_apart
}

check_not_running() {
    local chapter=$1 client=$3 exchange=$5
    [[ $exchange == yes ]] || return 0
    # --timeout 60 but the run is bounded by CLIENT_LIMIT: only an answer
    # "at once" passes.
    run_client "$chapter/$client" --name "$NAME" --timeout 60 hello
    assert_failure 1
    assert_regex "$stderr" "^$client: .*not running"
    assert_equal "$output" ''
}
@test "every client: no server is exit 1 'not running', at once" {
    for_each_pair check_not_running
}

check_too_long() {
    local chapter=$1 server=$2 client=$3 exchange=$5
    [[ $exchange == yes ]] || return 0
    start_server "$chapter/$server" --name "$NAME"
    local max long
    max=$(head -c 1024 /dev/zero | tr '\0' 'm')
    long=${max}x
    run_client "$chapter/$client" --name "$NAME" first "$max" "$long" never
    assert_failure 2
    assert_regex "$stderr" "^$client: .*too long"
    assert_equal "$output" "$(printf 'FIRST\n%s' "${max^^}")"
    stop_server
    assert_equal "$STOP_STATUS" 0
    # the server handled the first two and never saw the rest
    run grep -c '^received: ' "$SERVER_LOG"
    assert_output 2
    run grep -c 'never' "$SERVER_LOG"
    assert_output 0
}
# bats test_tags=memcheck
@test "every client: 1024 bytes go, 1025 is exit 2 'too long' after the earlier ones" {
    for_each_pair check_too_long
}

check_log_reader_gone() {
    local chapter=$1 server=$2 client=$3 topic=$4 exchange=$5
    [[ $exchange == yes ]] || return 0
    echo "# $chapter/$server" # shown if this check fails
    rm -f "$T/log.fifo"
    mkfifo "$T/log.fifo"
    "${LAB_WRAP[@]}" "$(bin "$chapter/$server")" --name "$NAME" >"$T/log.fifo" 2>"$T/log.err" </dev/null 3>&- &
    local pid=$!
    SERVER_PIDS+=("$pid")
    # read the ready line, then close the log: the server's next line fails
    timeout "$READY_LIMIT" head -n 1 <"$T/log.fifo" >"$T/ready"
    assert_regex "$(cat "$T/ready")" '^ready pid='
    run_client "$chapter/$client" --name "$NAME" --timeout 2 hello
    wait_for_exit "$pid"
    local status=0
    wait "$pid" || status=$?
    # not killed by SIGPIPE (141): a clean exit 1 through the destructors
    assert_equal "$status" 1
    assert_regex "$(cat "$T/log.err")" "^$server: .*Broken pipe"
    run find "$IPC_LAB_DIR/$topic" -mindepth 1 -name "$NAME.*"
    assert_output ''
}
@test "every server: a log reader that goes away ends it with exit 1, everything removed" {
    for_each_pair check_log_reader_gone
}

# A runtime dir on a nearly full file system: the server either starts (and
# stops cleanly) or exits 1 with one line; either way nothing it made stays
# behind, neither a half-made file nor an IPC object (tests/on-full-dir runs
# it in namespaces of its own, so the listing is this server's alone).
check_full_runtime_dir() {
    local chapter=$1 server=$2 free status out
    for free in 0 1 2 3; do
        out=$T/full-${chapter%%-*}-$server-$free
        echo "# $chapter/$server, $free page(s) free" # shown if this check fails
        READY_LIMIT=$READY_LIMIT STOP_LIMIT=$STOP_LIMIT timeout -k 2 "$((READY_LIMIT + STOP_LIMIT + 5))" \
            "$BATS_TEST_DIRNAME/on-full-dir" "$free" "$out" \
            "${LAB_WRAP[@]}" "$(bin "$chapter/$server")" --name "$NAME"
        status=$(cat "$out.status")
        if [[ $status != 0 ]]; then
            assert_equal "$status" 1
            assert_equal "$(wc -l <"$out.err")" 1
            assert_regex "$(cat "$out.err")" "^$server: "
            assert_regex "$(cat "$out.err")" "No space left on device\$"
        fi
        assert_equal "$(cat "$out.left")" ''
    done
}
# bats test_tags=memcheck
@test "every server: on a full runtime dir, exit 1 with one line and nothing left behind" {
    "$BATS_TEST_DIRNAME/on-full-dir" --check || skip "needs private mount and IPC namespaces (unshare, root)"
    for_each_pair check_full_runtime_dir
}

# What the running server made, from its ready line and its name: files in
# the TOPIC dir, POSIX names in /dev/shm, System V ids. Prints what is left.
objects_left() { # TOPIC
    local topic=$1 id kind
    find "$IPC_LAB_DIR/$topic" -mindepth 1 -name "$NAME.*" 2>/dev/null
    find /dev/shm /dev/mqueue -maxdepth 1 -name "*ipc-lab-$(id -u)-$topic-$NAME*" 2>/dev/null
    for kind in msqid shmid semid; do
        id=${READY[$kind]-}
        [[ -n $id ]] || continue
        ipcs "--${kind%id}" 2>/dev/null | awk -v id="$id" '$2 == id { print "System V id " id }'
    done
    # POSIX queues show only where the mqueue file system is mounted: in a
    # private mount namespace of our own (root), if /dev/mqueue is not
    # shellcheck disable=SC2016 # $1 is the inner shell's
    if [[ $topic == *-posix ]] && mkdir -p "$T/mq" &&
        unshare --mount sh -c 'mount -t mqueue mqueue "$1" && ls "$1"' sh "$T/mq" 2>/dev/null >"$T/mq.list"; then
        grep -F "ipc-lab-$(id -u)-$topic-$NAME" "$T/mq.list"
    fi
    if [[ -n ${READY[key]-} ]]; then
        ipcs 2>/dev/null | awk -v key="${READY[key]}" '$1 == key { print "System V key " key }'
    fi
    return 0
}

# The signals a user plausibly sends a server (CONTRACT.md, "Servers"; the
# list is common/signals.hpp's): each stops it like SIGTERM, exit 0, clean.
stop_signals=(HUP QUIT XCPU)
# Stray signals that must not end a server: ignored (or, in 04, its mechanism).
stray_signals=(USR1 USR2 ALRM VTALRM PROF IO PWR XFSZ RTMIN RTMIN+1 RTMIN+7 RTMAX-1)

check_stop_signals() {
    local chapter=$1 server=$2 topic=$4 signal
    for signal in "${stop_signals[@]}"; do
        echo "# $chapter/$server SIG$signal" # shown if this check fails
        start_server "$chapter/$server" --name "$NAME"
        stop_server "$SERVER_PID" "$signal"
        assert_equal "$STOP_STATUS" 0
        assert_equal "$(objects_left "$topic")" ''
    done
}
@test "every server: SIGHUP, SIGQUIT, SIGXCPU stop it like SIGTERM: exit 0, every object removed" {
    for_each_pair check_stop_signals
}

# A stop signal that comes on the way out, after the server has put its
# handlers back (the instance lock, made first, is removed last), must not
# kill it halfway: it exits 0 with nothing left. strace slows down the
# unlink of NAME.lock alone (-P), and the signal is sent while the server
# sits in it.
in_unlink() { [[ $(syscall_of "$1") =~ ^(87|263)$ ]]; } # unlink, unlinkat
check_signal_on_the_way_out() {
    local chapter=$1 server=$2 topic=$4 lock out tracer pid
    echo "# $chapter/$server" # shown if this check fails
    lock=$IPC_LAB_DIR/$topic/$NAME.lock
    out=$T/way-out-$chapter-$server
    # LeakSanitizer cannot run under a tracer; leaks are the other tests' job.
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
        strace -f -qq -o "$out.trace" -P "$lock" -e trace=unlink,unlinkat \
        -e inject=unlink,unlinkat:delay_enter=2000000 \
        "$(bin "$chapter/$server")" --name "$NAME" >"$out" 2>"$out.err" </dev/null 3>&- &
    tracer=$!
    SERVER_PIDS+=("$tracer")
    wait_for_line "$out" '^ready '
    pid=$(sed -n 's/^ready pid=\([0-9]*\).*/\1/p' "$out")
    kill -TERM "$pid"
    # held 2 s at the entry of its only slowed call: NAME.lock's unlink
    wait_until in_unlink "$pid"
    kill -TERM "$pid"
    local status=0
    wait_for_exit "$tracer"
    wait "$tracer" || status=$? # strace exits with the server's status
    assert_equal "$status" 0
    assert_equal "$(objects_left "$topic")" ''
}
@test "every server: a stop signal on its way out, after its handlers are gone, waits: exit 0, nothing left" {
    [[ ${IPC_LAB_VALGRIND-} != 1 ]] || skip "strace and memcheck do not stack"
    for_each_pair check_signal_on_the_way_out
}

check_stray_signals() {
    local chapter=$1 server=$2 client=$3 topic=$4 exchange=$5 signal
    echo "# $chapter/$server" # shown if this check fails
    start_server "$chapter/$server" --name "$NAME"
    for signal in "${stray_signals[@]}"; do
        kill -s "$signal" "$SERVER_PID"
    done
    # An exchange after them proves they were taken (a server only answers
    # from user space, where pending signals act first) and it still serves.
    if [[ $exchange == yes ]]; then
        run_client "$chapter/$client" --name "$NAME" still-there
        assert_success
        assert_output STILL-THERE
    fi
    # a signal that killed it shows here as status 128+N instead of 0
    stop_server
    assert_equal "$STOP_STATUS" 0
    assert_equal "$(objects_left "$topic")" ''
}
@test "every server: stray SIGUSR1/2, SIGALRM, SIGPROF, SIGIO, SIGPWR, real-time signals leave it serving" {
    for_each_pair check_stray_signals
}

# blocked_writing_stdout PID: PID sleeps waiting to write its stdout: in
# write(1, ...) itself, or in poll()/ppoll() for POLLOUT on fd 1 (its
# pollfd array read from /proc/PID/mem). Needs ptrace access to PID: ours.
blocked_writing_stdout() {
    python3 - "$1" <<'PY'
import os, platform, struct, sys
pid = sys.argv[1]
numbers = {"x86_64": {"write": 1, "poll": 7, "ppoll": 271},
           "aarch64": {"write": 64, "ppoll": 73}}[platform.machine()]
try:
    fields = open(f"/proc/{pid}/syscall").read().split()
    state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
except OSError:
    sys.exit(1)
if state != "S" or len(fields) < 3 or fields[0] in ("running", "-1"):
    sys.exit(1)
number, fd = int(fields[0]), int(fields[1], 16)
if number == numbers["write"]:
    sys.exit(0 if fd == 1 else 1)
if number not in (numbers.get("poll"), numbers["ppoll"]):
    sys.exit(1)
count = int(fields[2], 16)
with open(f"/proc/{pid}/mem", "rb") as mem:
    mem.seek(fd)  # the first argument: the pollfd array
    data = mem.read(8 * count)
for i in range(count):
    polled, events, _ = struct.unpack_from("iHH", data, 8 * i)
    if polled == 1 and events & 0x4:  # POLLOUT
        sys.exit(0)
sys.exit(1)
PY
}

check_stalled_log_reader() {
    local chapter=$1 server=$2 client=$3 topic=$4 exchange=$5 log ready pid
    [[ $exchange == yes ]] || return 0
    echo "# $chapter/$server" # shown if this check fails
    rm -f "$T/log.fifo"
    mkfifo "$T/log.fifo"
    # The test holds the log's only read end and stops reading after the
    # ready line: the pipe fills and the server blocks in write().
    exec {log}<>"$T/log.fifo"
    (exec "${LAB_WRAP[@]}" "$(bin "$chapter/$server")" --name "$NAME" \
        >"$T/log.fifo" 2>"$T/log.err" </dev/null 3>&- {log}>&-) &
    SERVER_PID=$!
    SERVER_PIDS+=("$SERVER_PID")
    read -r -t "$READY_LIMIT" -u "$log" ready
    assert_regex "$ready" '^ready pid='
    READY=()
    local pair
    for pair in ${ready#ready }; do
        READY[${pair%%=*}]=${pair#*=}
    done
    # ~100 KiB of received: lines, more than a pipe holds (64 KiB); the
    # client's wait for the replies the blocked server never sends is bounded
    local line
    line=$(head -c 1000 /dev/zero | tr '\0' 's')
    yes "$line" | head -n 100 >"$T/many"
    # (its --timeout ends it once the server is gone; killing it would make
    # memcheck list its descriptors as leaks)
    (exec "${LAB_WRAP[@]}" "$(bin "$chapter/$client")" --name "$NAME" --timeout "$LAB_TIME_SCALE" \
        <"$T/many" >/dev/null 2>&1 3>&- {log}<&-) &
    pid=$!
    SERVER_PIDS+=("$pid") # teardown stops it if this check fails
    wait_until blocked_writing_stdout "$SERVER_PID"
    stop_server
    wait_for_exit "$pid" "$CLIENT_LIMIT"
    wait "$pid" || true
    exec {log}<&-
    assert_equal "$(cat "$T/log.err")" ''
    assert_equal "$STOP_STATUS" 0
    assert_equal "$(objects_left "$topic")" ''
}
@test "every server: SIGTERM while its log write is blocked (reader stalled) is a stop: exit 0, clean" {
    for_each_pair check_stalled_log_reader
}

check_log_escapes() {
    local chapter=$1 server=$2 client=$3 exchange=$5
    [[ $exchange == yes ]] || return 0
    echo "# $chapter/$server" # shown if this check fails
    start_server "$chapter/$server" --name "$NAME"
    # ESC (a colour, a cursor move), CR (overwrite the line shown so far),
    # a UTF-8 C1 CSI; a tab, UTF-8 text and a backslash are kept as they are
    run_client "$chapter/$client" --name "$NAME" \
        $'plain text ~{}\\ \xc3\xbcn\xc3\xafcode' $'a\e[2Jb\rreceived: forged\xc2\x9b31m\tend'
    assert_success
    wait_for_line "$SERVER_LOG" 'end( \(pid=.*)?$'
    stop_server
    # the contract's line is unchanged for printable text
    grep -Fxq -- $'received: plain text ~{}\\ \xc3\xbcn\xc3\xafcode' <(sed 's/ (pid=[0-9]* uid=[0-9]*)$//' "$SERVER_LOG")
    grep -Fxq -- $'received: a\\x1b[2Jb\\x0dreceived: forged\\xc2\\x9b31m\tend' <(sed 's/ (pid=[0-9]* uid=[0-9]*)$//' "$SERVER_LOG")
    # and no control byte but tab and newline reaches the log
    LC_ALL=C run grep -caP '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' "$SERVER_LOG"
    assert_output 0
}
@test "every server: log lines escape control bytes (ESC, CR, C1) as \\xNN; printable text unchanged" {
    for_each_pair check_log_escapes
}

check_client_hangup() {
    local chapter=$1 server=$2 client=$3 topic=$4 exchange=$5 input pid before
    [[ $exchange == yes ]] || return 0
    echo "# $chapter/$client" # shown if this check fails
    start_server "$chapter/$server" --name "$NAME"
    before=$(objects_left "$topic")
    rm -f "$T/in.fifo"
    mkfifo "$T/in.fifo"
    exec {input}<>"$T/in.fifo"
    # a client at a terminal: one line answered, then waiting for the next
    # (exec: $! is the client itself, and a client that dies of the signal
    # leaves no subshell behind to report it as a failed test)
    (exec "${LAB_WRAP[@]}" "$(bin "$chapter/$client")" --name "$NAME" \
        <"$T/in.fifo" >"$T/client.out" 2>"$T/client.err" 3>&- {input}>&-) &
    pid=$!
    SERVER_PIDS+=("$pid") # teardown stops it if this check fails
    echo hello >&"$input"
    wait_for_line "$T/client.out" '^HELLO$'
    kill -HUP "$pid"
    wait_for_exit "$pid"
    local status=0
    wait "$pid" || status=$?
    # A client with no handler (one that makes nothing) dies of SIGHUP;
    # memcheck then lists what it had open, which is no leak.
    if ((status == 128 + 1)); then
        rm -f "$T/vg.$pid.log"
    fi
    # the terminal closed: whatever the client made (a reply FIFO, a reply
    # queue) is gone, as after Ctrl-C (its input is still open: no EOF)
    assert_equal "$(objects_left "$topic")" "$before"
    exec {input}>&-
    stop_server
}
@test "every client: SIGHUP (terminal closed) while it waits for input removes what it made" {
    for_each_pair check_client_hangup
}
