#!/usr/bin/env bats
# 09-mmap: a file mapped MAP_SHARED by the server and its clients; and
# anon-demo, an anonymous MAP_SHARED mapping shared across fork().

load lab

setup() {
    lab_setup
    MAP=$IPC_LAB_DIR/mmap/$NAME.map
    LOCK=$IPC_LAB_DIR/mmap/$NAME.lock
}
teardown() {
    if [[ -n ${STOPPED_PID-} ]]; then
        kill -CONT "$STOPPED_PID" 2>/dev/null || true
    fi
    lab_teardown
}

# client ARGS...: the chapter's client against this test's server.
client() { run_client 09-mmap/client --name "$NAME" "$@"; }

# wait_for_strings FILE TEXT: waits, bounded, until `strings FILE` shows a
# line TEXT (a client has written its request into the mapping).
wait_for_strings() {
    local deadline=$((SECONDS + READY_LIMIT + 1))
    until strings "$1" 2>/dev/null | grep -Fxq -- "$2"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.02
    done
}

# freeze: SIGSTOP the server (teardown lets it go again).
freeze() {
    kill -STOP "$SERVER_PID"
    STOPPED_PID=$SERVER_PID
}
thaw() {
    kill -CONT "$SERVER_PID"
    STOPPED_PID=
}

# kill_client_holding_turn MESSAGE: with the server stopped, starts a client
# that takes the turn and posts MESSAGE, then SIGKILLs it there. The request
# in the mapping is not enough: the client writes it, then posts; killed in
# between, it posted nothing. After writing, its only sleep on a futex is
# the wait for the reply, which comes after the post.
kill_client_holding_turn() {
    freeze
    "${LAB_WRAP[@]}" "$(bin 09-mmap/client)" --name "$NAME" --timeout 60 "$1" >/dev/null 2>&1 3>&- &
    local doomed=$!
    wait_for_strings "$MAP" "$1"
    wait_until asleep_in "$doomed" futex
    kill -KILL "$doomed"
    wait_for_exit "$doomed"
}

# bats test_tags=exchange,memcheck
@test "exchange: ready line names the map; replies in order; empty message; only a-z changes" {
    start_server 09-mmap/server --name "$NAME"
    assert_regex "$READY_LINE" "^ready pid=$SERVER_PID path=[^ ]+$"
    assert_equal "${READY[path]}" "$MAP"
    client hello 'big World!' '' 'ünï 123 ~{}'
    assert_success
    assert_equal "$output" "$(printf 'HELLO\nBIG WORLD!\n\nüNï 123 ~{}')"
    assert_equal "$stderr" ''
    wait_for_line "$SERVER_LOG" '^received: ünï 123 ~\{\}$'
    assert_equal "$(tail -n +2 "$SERVER_LOG")" "$(printf 'received: hello\nreceived: big World!\nreceived: \nreceived: ünï 123 ~{}')"
}

# bats test_tags=exchange,memcheck
@test "exchange: without MESSAGE each stdin line is a message" {
    start_server 09-mmap/server --name "$NAME"
    printf 'one\n\nthree, the last without newline' >"$T/in"
    client <"$T/in"
    assert_success
    assert_equal "$output" "$(printf 'ONE\n\nTHREE, THE LAST WITHOUT NEWLINE')"
}

# bats test_tags=exchange
@test "exchange: a message of exactly 1024 bytes goes through" {
    start_server 09-mmap/server --name "$NAME"
    message=$(head -c 1024 /dev/zero | tr '\0' 'q')
    client "$message"
    assert_success
    assert_output "$(head -c 1024 /dev/zero | tr '\0' 'Q')"
}

# bats test_tags=memcheck
@test "too long: exit 2, earlier messages sent, nothing of the long one" {
    start_server 09-mmap/server --name "$NAME"
    long=$(head -c 1025 /dev/zero | tr '\0' 'x')
    client first "$long" never
    assert_failure 2
    assert_output FIRST
    assert_regex "$stderr" '^client: .*too long'
    client after
    assert_success
    assert_equal "$(tail -n +2 "$SERVER_LOG")" "$(printf 'received: first\nreceived: after')"
}

# bats test_tags=memcheck
@test "not running: exit 1 at once, with no server and with a killed server's leftovers" {
    SECONDS=0
    client --timeout 30 hello
    assert_failure 1
    assert_equal "$stderr" "client: server $NAME not running"
    start_server 09-mmap/server --name "$NAME"
    kill -KILL "$SERVER_PID"
    wait_for_exit "$SERVER_PID"
    [[ -f $MAP && -f $LOCK ]] # the leftovers are there
    client --timeout 30 hello
    assert_failure 1
    assert_equal "$stderr" "client: server $NAME not running"
    ((SECONDS < 10))
}

@test "timed out: a stopped server gives 'timed out', both waiting for the reply and for the turn" {
    start_server 09-mmap/server --name "$NAME"
    freeze
    # A takes the turn, posts its request and waits for a reply that cannot come yet.
    lab_exec 09-mmap/client --name "$NAME" --timeout "$((20 * LAB_TIME_SCALE))" 'request of A' >"$T/a.out" 2>&1 3>&- &
    a=$!
    wait_for_strings "$MAP" 'request of A'
    SECONDS=0
    client --timeout 0.5 'request of B'
    assert_failure 1
    assert_equal "$stderr" 'client: timed out after 0.5 s waiting for our turn (another client holds it)'
    ((SECONDS < 5 * LAB_TIME_SCALE))
    thaw
    wait "$a"
    assert_equal "$(cat "$T/a.out")" 'REQUEST OF A'
    freeze
    client --timeout 0.5 'request of C'
    assert_failure 1
    assert_equal "$stderr" 'client: timed out after 0.5 s waiting for the reply'
    thaw
    # C's request is served late, its reply left unclaimed: D must not take it.
    wait_for_line "$SERVER_LOG" '^received: request of C$'
    client 'request of D'
    assert_success
    assert_output 'REQUEST OF D'
}

@test "a server that dies while a client waits: the client says 'not running' long before its timeout" {
    start_server 09-mmap/server --name "$NAME"
    freeze
    lab_exec 09-mmap/client --name "$NAME" --timeout 60 'waiting in vain' >"$T/a.out" 2>"$T/a.err" 3>&- &
    a=$!
    wait_for_strings "$MAP" 'waiting in vain'
    SECONDS=0
    kill -KILL "$SERVER_PID"
    STOPPED_PID=
    status=0
    wait "$a" || status=$?
    assert_equal "$status" 1
    assert_equal "$(cat "$T/a.err")" "client: server $NAME not running (it went away)"
    ((SECONDS < 5 * LAB_TIME_SCALE))
}

@test "already running: a second server of the same name exits 1; the first serves on" {
    check_second_server_refused 09-mmap "^server: $NAME already running \\(pid @PID@\\)\$"
}

@test "takeover: after kill -9 a new server replaces the leftover file with a fresh one" {
    start_server 09-mmap/server --name "$NAME"
    client 'before the kill'
    assert_success
    kill -KILL "$SERVER_PID"
    wait_for_exit "$SERVER_PID"
    run strings "$MAP"
    assert_line 'BEFORE THE KILL'
    start_server 09-mmap/server --name "$NAME"
    run strings "$MAP"
    refute_line 'BEFORE THE KILL'
    refute_line 'before the kill'
    client 'after the takeover'
    assert_success
    assert_output 'AFTER THE TAKEOVER'
    stop_server
    assert_equal "$STOP_STATUS" 0
    [[ ! -e $MAP && ! -e $LOCK ]]
}

@test "cleanup: SIGTERM and SIGINT each end the server with exit 0, file and lock removed" {
    for signal in TERM INT; do
        start_server 09-mmap/server --name "$NAME"
        client "before SIG$signal"
        assert_success
        [[ -f $MAP ]]
        stop_server "$SERVER_PID" "$signal"
        assert_equal "$STOP_STATUS" 0
        assert_equal "$(cat "$SERVER_ERR")" ''
        run ls -A "$IPC_LAB_DIR/mmap"
        assert_output ''
    done
}

@test "--keep: the file stays (0600), shows the last exchange, and is taken over next time" {
    start_server 09-mmap/server --name "$NAME" --keep
    client 'keep this request'
    assert_success
    stop_server
    assert_equal "$STOP_STATUS" 0
    [[ -f $MAP && ! -e $LOCK ]]
    assert_equal "$(stat -c %a "$MAP")" 600
    run strings "$MAP"
    assert_line 'keep this request'
    assert_line 'KEEP THIS REQUEST'
    # A kept file is no server: clients say so at once.
    client hello
    assert_failure 1
    assert_equal "$stderr" "client: server $NAME not running"
    # Without --keep, the next server removes what it took over.
    start_server 09-mmap/server --name "$NAME"
    client 'second life'
    assert_success
    stop_server
    assert_equal "$STOP_STATUS" 0
    [[ ! -e $MAP ]]
}

@test "strings NAME.map shows the last request and the last reply, nothing older" {
    start_server 09-mmap/server --name "$NAME"
    client 'a first and much longer request' 'the last request'
    assert_success
    run strings "$MAP"
    assert_line 'ipc-lab mmap'
    assert_line 'the last request'
    assert_line 'THE LAST REQUEST'
    refute_line --partial 'first'
    refute_line --partial 'FIRST'
    refute_line --partial 'longer'
}

@test "permissions: NAME.map is 0600 and the directories 0700, even under umask 000" {
    umask 000
    start_server 09-mmap/server --name "$NAME"
    umask 022
    assert_equal "$(stat -c %a "$MAP")" 600
    assert_equal "$(stat -c %F "$MAP")" 'regular file'
    assert_equal "$(stat -c %a "$IPC_LAB_DIR")" 700
    assert_equal "$(stat -c %a "$IPC_LAB_DIR/mmap")" 700
    client ok
    assert_success
    assert_output OK
}

@test "20 concurrent clients each get their own replies" {
    start_server 09-mmap/server --name "$NAME"
    pids=()
    for i in $(seq 1 20); do
        lab_exec 09-mmap/client --name "$NAME" --timeout "$((20 * LAB_TIME_SCALE))" \
            "c$i one" "c$i two" "c$i three" "c$i four" "c$i five" >"$T/out.$i" 2>&1 3>&- &
        pids+=($!)
    done
    for i in $(seq 1 20); do
        wait "${pids[i - 1]}"
        assert_equal "$(cat "$T/out.$i")" "$(printf 'C%s ONE\nC%s TWO\nC%s THREE\nC%s FOUR\nC%s FIVE' "$i" "$i" "$i" "$i" "$i")"
    done
    assert_equal "$(grep -c '^received: ' "$SERVER_LOG")" 100
}

@test "a client killed holding the turn, its request posted: the next one gets its own reply" {
    start_server 09-mmap/server --name "$NAME"
    kill_client_holding_turn 'request of the dead'
    thaw
    # The server answers the dead client's request; nobody takes that reply.
    wait_for_line "$SERVER_LOG" '^received: request of the dead$'
    # The mutex is owned by a dead process (EOWNERDEAD) and a stale reply is posted.
    client --timeout "$((5 * LAB_TIME_SCALE))" 'request of the living'
    assert_success
    assert_output 'REQUEST OF THE LIVING'
    client again
    assert_success
    assert_output AGAIN
}

@test "a client killed before the server read its request: the next one still gets only its own" {
    start_server 09-mmap/server --name "$NAME"
    kill_client_holding_turn 'never answered'
    # The next client overwrites the request while the dead one's post waits.
    lab_exec 09-mmap/client --name "$NAME" --timeout "$((20 * LAB_TIME_SCALE))" 'overwriting request' >"$T/next.out" 2>&1 3>&- &
    next=$!
    wait_for_strings "$MAP" 'overwriting request'
    thaw
    wait "$next"
    assert_equal "$(cat "$T/next.out")" 'OVERWRITING REQUEST'
    client last
    assert_output LAST
    # Two posts, one request: it was answered once.
    assert_equal "$(grep -c '^received: overwriting request$' "$SERVER_LOG")" 1
}

# bats test_tags=hidden
@test "clients SIGKILLed at random moments: the others never hang nor get a reply not theirs" {
    start_server 09-mmap/server --name "$NAME"
    victims=$((40 / LAB_TIME_SCALE))
    (
        for k in $(seq 1 "$victims"); do
            yes "victim $k" 2>/dev/null | "${LAB_WRAP[@]}" "$(bin 09-mmap/client)" --name "$NAME" --timeout 60 >/dev/null 2>&1 &
            victim=$!
            if ((k == 1)); then
                # the first one dies only once it is in: on a busy machine a
                # client under valgrind may need longer than any pause below
                # to start, and the test waits for a victim's line
                wait_for_line "$SERVER_LOG" '^received: victim 1$' "$CLIENT_LIMIT" || true
            fi
            # 0-99 ms after the start (longer under valgrind, whose start is slow)
            sleep "$(awk -v r="$RANDOM" -v s="$LAB_TIME_SCALE" 'BEGIN { printf "%.3f", (r % 100) / 1000 * s * s }')"
            kill -KILL "$victim" 2>/dev/null || true
            wait "$victim" 2>/dev/null || true
        done
    ) 3>&- &
    chaos=$!
    wait_for_line "$SERVER_LOG" '^received: victim ' # the victims are getting in
    # Rounds of 5 good clients, for as long as the victims keep dying.
    round=0
    while ((round == 0)) || { kill -0 "$chaos" 2>/dev/null && ((round < 100)); }; do
        round=$((round + 1))
        pids=()
        for i in 1 2 3 4 5; do
            seq 1 100 | sed "s/^/good $round.$i #/" >"$T/in.$i"
            lab_exec 09-mmap/client --name "$NAME" --timeout "$((20 * LAB_TIME_SCALE))" <"$T/in.$i" >"$T/out.$i" 2>&1 3>&- &
            pids+=($!)
        done
        for i in 1 2 3 4 5; do
            wait "${pids[i - 1]}"
            tr a-z A-Z <"$T/in.$i" | cmp - "$T/out.$i"
        done
    done
    wait "$chaos"
    # Every good message was answered exactly once.
    assert_equal "$(grep -c '^received: good ' "$SERVER_LOG")" $((round * 500))
    client 'still serving'
    assert_output 'STILL SERVING'
    stop_server
    assert_equal "$STOP_STATUS" 0
}

@test "a short file: the client refuses it (no SIGBUS); the server gives up cleanly, exit 1" {
    start_server 09-mmap/server --name "$NAME"
    freeze
    truncate -s 100 "$MAP"
    client hello
    assert_failure 1
    assert_regex "$stderr" "^client: $MAP: 100 bytes, want [0-9]+ \(a shorter file would raise SIGBUS when touched\)$"
    thaw
    wait_for_exit "$SERVER_PID"
    status=0
    wait "$SERVER_PID" || status=$?
    assert_equal "$status" 1
    assert_equal "$(cat "$SERVER_ERR")" "server: $MAP: truncated to 100 bytes while mapped; giving up"
    [[ ! -e $MAP && ! -e $LOCK ]]
}

# bats test_tags=memcheck
@test "a file truncated to 0 under a running server: exit 1 with a message, never a SIGBUS death" {
    start_server 09-mmap/server --name "$NAME"
    client hello
    truncate -s 0 "$MAP"
    wait_for_exit "$SERVER_PID"
    status=0
    wait "$SERVER_PID" || status=$?
    assert_equal "$status" 1
    assert_equal "$(cat "$SERVER_ERR")" "server: $MAP: truncated to 0 bytes while mapped; giving up"
}

@test "a file that is not ours: the client refuses a bad magic, exit 1" {
    start_server 09-mmap/server --name "$NAME"
    freeze
    printf 'not a map' | dd of="$MAP" conv=notrunc status=none
    client hello
    assert_failure 1
    assert_equal "$stderr" "client: $MAP: not an ipc-lab mmap file (bad magic)"
    thaw
}

# bats test_tags=usage
@test "options: --help exits 0 on stdout; unknown option and bad --name exit 2" {
    check_help_and_unknown_option 09-mmap server client anon-demo
    check_bad_names 09-mmap server client
    run_client 09-mmap/server --name "$NAME" extra
    assert_failure 2
    run_client 09-mmap/client --timeout soon hello
    assert_failure 2
}

# bats test_tags=exchange,memcheck
@test "anon-demo: the child uppercases through a shared anonymous mapping, in order" {
    run_client 09-mmap/anon-demo hello 'big World!' '' 'ünï 123'
    assert_success
    assert_equal "$output" "$(printf 'HELLO\nBIG WORLD!\n\nüNï 123')"
    assert_equal "$stderr" ''
}

@test "anon-demo: without MESSAGE it takes stdin lines" {
    printf 'one\ntwo' >"$T/in"
    run_client 09-mmap/anon-demo <"$T/in"
    assert_success
    assert_equal "$output" "$(printf 'ONE\nTWO')"
}

# bats test_tags=exchange,memcheck
@test "anon-demo: --private gives the child its own copy, so the parent sees no change" {
    run_client 09-mmap/anon-demo --private hello 'big World!'
    assert_success
    assert_equal "$output" "$(printf 'hello\nbig World!')"
}

# bats test_tags=memcheck
@test "anon-demo: too long exits 2 after the earlier messages, and leaves no child behind" {
    long=$(head -c 1025 /dev/zero | tr '\0' 'x')
    run_client 09-mmap/anon-demo first "$long"
    assert_failure 2
    assert_output FIRST
    assert_regex "$stderr" '^anon-demo: .*too long'
    run pgrep -f "09-mmap/anon-demo first x"
    assert_failure
}

@test "anon-demo: a child that stops answering is 'timed out', exit 1, and is reaped" {
    mkfifo "$T/in"
    lab_exec 09-mmap/anon-demo --timeout 0.5 <"$T/in" >"$T/out" 2>"$T/err" 3>&- &
    demo=$!
    exec 5>"$T/in" # the demo's stdin stays open: it waits for more lines
    echo first >&5
    wait_for_line "$T/out" '^FIRST$'
    child=$(pgrep -n -f '09-mmap/anon-demo --timeout 0.5') # the newest: the forked child
    kill -STOP "$child"
    echo second >&5
    status=0
    wait "$demo" || status=$?
    exec 5>&-
    assert_equal "$status" 1
    assert_equal "$(cat "$T/err")" 'anon-demo: timed out after 0.5 s waiting for the child'
    assert_equal "$(cat "$T/out")" FIRST
    run kill -0 "$child"
    assert_failure
}

# ------------------------------------------------------ hostile conditions

# MapLayout's `request_ready` sem_t is at offset 72 (16 magic, 3 x 4
# header, the 40-byte mutex at 32): for set_sem_count / sem_count (lab.bash).
request_ready_offset=72

# A full runtime dir: ftruncate() only sets a size, so the first store into
# the mapping would be SIGBUS (which the guard turned into a misleading
# "resized while mapped"); posix_fallocate() asks for the blocks up front.
@test "a full runtime dir: one line 'No space left on device' at start, no NAME.map left" {
    can_unshare_mount || skip "needs a private mount namespace (unshare -m: root or CAP_SYS_ADMIN)"
    # A 2-page tmpfs as the runtime dir, one page taken: the lock file gets
    # the last one, NAME.map none.
    mkdir -m 0700 "$IPC_LAB_DIR"
    # shellcheck disable=SC2016 # expanded by the inner sh, in the namespace
    run --separate-stderr timeout -k 2 "$READY_LIMIT" unshare -m sh -c '
        mount -t tmpfs -o size=8k,mode=0700 ipc-lab-test "$IPC_LAB_DIR" || exit 99
        head -c 4096 /dev/zero >"$IPC_LAB_DIR/filler"
        status=0
        "$@" 3>&- || status=$?
        find "$IPC_LAB_DIR" -mindepth 1 ! -name filler >"$IPC_LAB_DIR/../left"
        exit "$status"' sh "${LAB_WRAP[@]}" "$(bin 09-mmap/server)" --name "$NAME"
    assert_failure 1
    assert_equal "$output" ''
    assert_equal "$stderr" "server: posix_fallocate $MAP: No space left on device"
    # nothing but the (empty) topic dir
    assert_equal "$(cat "$T/left")" "$IPC_LAB_DIR/mmap"
}

# Another program of the same uid sets the request semaphore's count to
# 2^31-1: each of those "posts" is stale. The server takes them out at once,
# logs them once, and goes on serving.
@test "a scribbled request count is drained and logged once; no spin, clients served" {
    start_server 09-mmap/server --name "$NAME"
    client before
    assert_output BEFORE
    set_sem_count "$MAP" "$request_ready_offset" 0x7fffffff
    wait_for_line "$SERVER_LOG" '^ignored: .*stale' || fail "no stale posts logged"
    client --timeout 10 after
    assert_success
    assert_output AFTER
    assert_equal "$(sem_count "$MAP" "$request_ready_offset")" 0
    run grep -c '^ignored: ' "$SERVER_LOG"
    assert_output 1
    assert_equal "$(grep '^ignored: ' "$SERVER_LOG")" "ignored: 2147483647 stale request posts"
    stop_server
    assert_equal "$STOP_STATUS" 0
    [[ ! -e $MAP && ! -e $LOCK ]]
}

# Stopped while it sleeps on the semaphore in the mapping, truncated, then
# continued: a restarted futex() on the vanished page is EFAULT, on which
# glibc aborts; the guard makes the stop interrupt the wait instead.
@test "a server stopped in its wait, its file truncated to 0, continued: exit 1 with a message, no abort" {
    start_server 09-mmap/server --name "$NAME"
    client hello
    freeze
    truncate -s 0 "$MAP"
    thaw
    wait_for_exit "$SERVER_PID"
    local status=0
    wait "$SERVER_PID" || status=$?
    assert_equal "$status" 1
    assert_equal "$(cat "$SERVER_ERR")" "server: $MAP: truncated to 0 bytes while mapped; giving up"
    [[ ! -e $MAP && ! -e $LOCK ]]
}

# bats test_tags=exchange,mechanism
@test "mechanism: both sides map NAME.map MAP_SHARED; the text goes through it, in no system call" {
    trace_exchange --server "09-mmap/server --name $NAME" --calls openat,mmap,msync,munmap -- 09-mmap/client --name "$NAME" hello
    local path="[$]IPC_LAB_DIR/mmap/$NAME\.map"
    carried server "openat\(AT_FDCWD, \"$path\", O_RDWR\|O_CREAT\|O_EXCL" \
        "the server makes $NAME.map with open(O_RDWR|O_CREAT|O_EXCL)"
    carried server "mmap\(NULL, [0-9]+, PROT_READ\|PROT_WRITE, MAP_SHARED, [0-9]+<$path>, 0\) = 0x" \
        "the server maps $NAME.map read-write, MAP_SHARED"
    carried client "openat\(AT_FDCWD, \"$path\", O_RDWR" "the client opens the server's $NAME.map read-write"
    carried client "mmap\(NULL, [0-9]+, PROT_READ\|PROT_WRITE, MAP_SHARED, [0-9]+<$path>, 0\) = 0x" \
        "the client maps $NAME.map read-write, MAP_SHARED (MAP_PRIVATE would keep its stores to itself)"
    carried server "msync\(0x…, [0-9]+, MS_SYNC\) = 0" "the server writes the mapping back to the file with msync after its reply"
    carried_only_by hello '(server|client) +write\(1<stdout>, "(received: hello|HELLO)\\n"'
}

# bats test_tags=exchange
@test "README: every transcript shows what the programs print" {
    check_transcripts 09-mmap
}
