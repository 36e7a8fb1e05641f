#!/usr/bin/env bats
# 01-file-locking: fcntl record locks on a shared file and a counter; and
# flock-demo / ofd-demo, the other two kinds of lock, against real peers
# (util-linux flock(1), /proc/locks, lslocks, kill).

load lab

setup() {
    lab_setup
    DIR=$IPC_LAB_DIR/file-locking
    DOC=$DIR/$NAME.txt
    COUNT=$DIR/$NAME.count
    STOPPED_PID=
    EXTRA_PIDS=()
}
teardown() {
    if [[ -n $STOPPED_PID ]]; then
        kill -CONT "$STOPPED_PID" 2>/dev/null || true
    fi
    local pid
    for pid in "${EXTRA_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    lab_teardown
}

# client ARGS...: the chapter's client against this test's server.
client() { run_client 01-file-locking/client --name "$NAME" "$@"; }

# start_bg OUT PROGRAM ARGS...: a lab program in the background, its stdout
# in OUT and stderr in OUT.err; BG_PID is the program itself (no `timeout`
# in between), so a test can SIGKILL it. Teardown kills what is left.
start_bg() {
    local out=$1 program=$2
    shift 2
    "${LAB_WRAP[@]}" "$(bin "$program")" "$@" >"$out" 2>"$out.err" </dev/null 3>&- &
    BG_PID=$!
    EXTRA_PIDS+=("$BG_PID")
}

# finish_bg PID: waits (bounded) for a background program; BG_STATUS is its
# exit status.
finish_bg() {
    wait_for_exit "$1" "${2:-$STOP_LIMIT}"
    BG_STATUS=0
    wait "$1" || BG_STATUS=$?
}

# held_locks FILE: "TYPE MODE PID" for each lock held on FILE, read from
# /proc/locks (waiters, the "->" lines, left out). The kernel names a file
# MAJOR:MINOR:INODE with the device numbers in hex.
held_locks() {
    local dev inode id
    dev=$(stat -c %d "$1")
    inode=$(stat -c %i "$1")
    id=$(printf '%02x:%02x:%s' $(((dev >> 8) & 0xfff)) $(((dev & 0xff) | ((dev >> 12) & 0xfff00))) "$inode")
    awk -v id="$id" '$2 != "->" && $6 == id { print $2, $4, $5 }' /proc/locks
}

# ---------------------------------------------------------------- server

# bats test_tags=memcheck
@test "server: ready line names NAME.txt; the lines go in, NAME.count holds 0; 0600 in 0700" {
    start_server 01-file-locking/server --name "$NAME" --hold 0 hello 'big World!' '' 'ünïcode ~{} 123'
    assert_regex "$READY_LINE" "^ready pid=$SERVER_PID path=[^ ]+$"
    assert_equal "${READY[path]}" "$DOC"
    wait_for_line "$SERVER_LOG" '^unlocked '
    assert_equal "$(cat "$DOC")" "$(printf 'hello\nbig World!\n\nünïcode ~{} 123')"
    assert_equal "$(tail -c 1 "$DOC" | od -An -c | tr -d ' ')" '\n'
    assert_equal "$(cat "$COUNT")" 0
    assert_equal "$(stat -c %a "$DOC") $(stat -c %a "$COUNT") $(stat -c %a "$DIR") $(stat -c %a "$IPC_LAB_DIR")" '600 600 700 700'
    assert_equal "$(tail -n +2 "$SERVER_LOG")" "$(printf 'wrote: hello\nwrote: big World!\nwrote: \nwrote: ünïcode ~{} 123\nunlocked path=%s' "$DOC")"
    stop_server
    assert_equal "$STOP_STATUS" 0
}

@test "server: without MESSAGE it writes 'hello from server'" {
    start_server 01-file-locking/server --name "$NAME" --hold 0
    wait_for_line "$SERVER_LOG" '^unlocked '
    assert_equal "$(cat "$DOC")" 'hello from server'
}

# bats test_tags=exchange
@test "server: the write lock is in /proc/locks and lslocks as POSIX WRITE of its pid, until released" {
    start_server 01-file-locking/server --name "$NAME" --hold $((60 * LAB_TIME_SCALE)) one two
    assert_equal "$(held_locks "$DOC")" "POSIX WRITE $SERVER_PID"
    run lslocks --noheadings --raw --output PID,TYPE,MODE,PATH --pid "$SERVER_PID"
    assert_line "$SERVER_PID POSIX WRITE $DOC"
    # nothing locks the counter
    assert_equal "$(held_locks "$COUNT")" ''
    stop_server
    assert_equal "$STOP_STATUS" 0
    # and a short hold releases it by itself
    start_server 01-file-locking/server --name "$NAME" --hold 0.2 one two
    wait_for_line "$SERVER_LOG" '^unlocked '
    assert_equal "$(held_locks "$DOC")" ''
    assert_equal "$(grep -c . "$SERVER_LOG")" 4 # still running, nothing more to say
    kill -0 "$SERVER_PID"
}

@test "server: the writes are spread over --hold; cat ignores the lock (advisory) and sees half" {
    # two lines over 60 s: the second comes 30 s after the first
    start_server 01-file-locking/server --name "$NAME" --hold $((60 * LAB_TIME_SCALE)) first second
    wait_for_line "$SERVER_LOG" '^wrote: first$'
    run cat "$DOC"
    assert_output first
    # the client, which asks for a read lock, does not read it half-written
    client --try
    assert_failure 3
    assert_output "locked by pid=$SERVER_PID"
}

@test "server: --hold takes decimals and 0; a bad --hold is exit 2" {
    start_server 01-file-locking/server --name "$NAME" --hold 0.25 a b c
    wait_for_line "$SERVER_LOG" '^unlocked '
    assert_equal "$(cat "$DOC")" "$(printf 'a\nb\nc')"
    stop_server
    for value in -1 abc 1e3 '' 2s; do
        run_server 01-file-locking/server --name "$NAME" --hold "$value"
        assert_failure 2
        assert_regex "$stderr" '^server: .*--hold'
    done
}

# bats test_tags=memcheck
@test "server: a message over 1024 bytes is exit 2 'too long' and nothing is made" {
    long=$(head -c 1025 /dev/zero | tr '\0' 'x')
    run_server 01-file-locking/server --name "$NAME" fine "$long"
    assert_failure 2
    assert_regex "$stderr" '^server: .*too long'
    run find "$T" -name "$NAME.*"
    assert_output ''
    # 1024 bytes is fine
    max=$(head -c 1024 /dev/zero | tr '\0' 'm')
    start_server 01-file-locking/server --name "$NAME" --hold 0 "$max"
    wait_for_line "$SERVER_LOG" '^unlocked '
    assert_equal "$(cat "$DOC")" "$max"
}

@test "server: a second server of the NAME is 'already running'; the first is unharmed" {
    start_server 01-file-locking/server --name "$NAME" --hold 0 original
    wait_for_line "$SERVER_LOG" '^unlocked '
    run_server 01-file-locking/server --name "$NAME" --hold 0 intruder
    assert_failure 1
    assert_regex "$stderr" "^server: .*already running"
    assert_equal "$(cat "$DOC")" original
    client
    assert_success
    assert_output original
}

@test "server: takes over what a server killed with SIGKILL left behind" {
    start_server 01-file-locking/server --name "$NAME" --hold $((60 * LAB_TIME_SCALE)) old
    first=$SERVER_PID
    client --increment 5
    kill -KILL "$first"
    wait_for_exit "$first"
    assert [ -e "$DOC" ]
    assert [ -e "$COUNT" ]
    # the leftovers are no server: the client says so at once
    client --timeout 60
    assert_failure 1
    assert_regex "$stderr" '^client: .*not running'
    start_server 01-file-locking/server --name "$NAME" --hold 0 new
    wait_for_line "$SERVER_LOG" '^unlocked '
    assert_equal "$(cat "$DOC")" new
    assert_equal "$(cat "$COUNT")" 0
    assert_equal "$(held_locks "$DOC")" ''
    client
    assert_success
    assert_output new
}

@test "server: SIGTERM and SIGINT, while holding the lock and after, remove every file, exit 0" {
    for signal in TERM INT; do
        for hold in $((60 * LAB_TIME_SCALE)) 0; do
            start_server 01-file-locking/server --name "$NAME" --hold "$hold"
            if ((hold == 0)); then
                wait_for_line "$SERVER_LOG" '^unlocked '
            fi
            stop_server "$SERVER_PID" "$signal"
            assert_equal "$STOP_STATUS" 0
            run find "$DIR" -mindepth 1
            assert_output ''
            assert_equal "$(cat "$SERVER_ERR")" ''
        done
    done
}

# ---------------------------------------------------------------- client: reading

# bats test_tags=exchange,memcheck
@test "client: after the release it prints the file at once, no 'locked by'" {
    start_server 01-file-locking/server --name "$NAME" --hold 0 'line one' 'line two'
    wait_for_line "$SERVER_LOG" '^unlocked '
    client --try
    assert_success
    assert_output "$(printf 'line one\nline two')"
    assert_equal "$stderr" ''
}

# bats test_tags=exchange
@test "client: while the server writes it says 'locked by pid=PID', waits, prints the whole file" {
    # long enough that the client surely asks while the lock is held
    start_server 01-file-locking/server --name "$NAME" --hold $((3 * LAB_TIME_SCALE)) alpha beta gamma
    client --timeout $((30 * LAB_TIME_SCALE))
    assert_success
    assert_equal "$output" "$(printf 'locked by pid=%s\nalpha\nbeta\ngamma' "$SERVER_PID")"
    assert_equal "$stderr" ''
    # it only got its read lock once the server had let go
    assert_equal "$(tail -n 1 "$SERVER_LOG")" "unlocked path=$DOC"
}

@test "client: 20 readers waiting at once each print the whole file, never half of it" {
    start_server 01-file-locking/server --name "$NAME" --hold $((4 * LAB_TIME_SCALE)) alpha beta gamma
    pids=()
    for i in $(seq 20); do
        lab_exec 01-file-locking/client --name "$NAME" --timeout $((30 * LAB_TIME_SCALE)) >"$T/out.$i" 2>&1 &
        pids+=($!)
    done
    for i in $(seq 20); do
        wait "${pids[$((i - 1))]}"
        run grep -v '^locked by pid=' "$T/out.$i"
        assert_output "$(printf 'alpha\nbeta\ngamma')"
    done
}

# bats test_tags=memcheck
@test "client: --try while locked prints 'locked by pid=PID' and exits 3 at once" {
    start_server 01-file-locking/server --name "$NAME" --hold $((60 * LAB_TIME_SCALE))
    client --try --timeout 60
    assert_failure 3
    assert_output "locked by pid=$SERVER_PID"
    assert_equal "$stderr" "client: $DOC is locked by pid $SERVER_PID (--try)"
}

@test "client: a lock held past --timeout is exit 1 'timed out', also with the server stopped" {
    start_server 01-file-locking/server --name "$NAME" --hold $((60 * LAB_TIME_SCALE))
    start=$SECONDS
    client --timeout 0.5
    assert_failure 1
    assert_output "locked by pid=$SERVER_PID"
    assert_equal "$stderr" "client: timed out after 0.5 s waiting for a lock on $DOC (held by pid $SERVER_PID)"
    ((SECONDS - start < CLIENT_LIMIT))
    # a stopped holder (kill -STOP) still holds its lock
    kill -STOP "$SERVER_PID"
    STOPPED_PID=$SERVER_PID
    client --timeout 0.3
    assert_failure 1
    assert_regex "$stderr" '^client: timed out after 0.3 s'
    kill -CONT "$SERVER_PID"
    STOPPED_PID=
}

@test "client: a holder killed with SIGKILL releases the waiting client at once" {
    start_server 01-file-locking/server --name "$NAME" --hold $((120 * LAB_TIME_SCALE)) written never-written
    wait_for_line "$SERVER_LOG" '^wrote: written$'
    start_bg "$T/reader" 01-file-locking/client --name "$NAME" --timeout $((100 * LAB_TIME_SCALE))
    reader=$BG_PID
    wait_for_line "$T/reader" '^locked by pid='
    # the reader waits in the kernel, queued behind the server's lock (it
    # prints its line before it asks to wait: wait for the queued lock)
    wait_until grep -q " -> POSIX  ADVISORY  READ $reader " /proc/locks
    run grep -c " -> POSIX  ADVISORY  READ $reader " /proc/locks
    assert_output 1
    kill -KILL "$SERVER_PID"
    # "at once": well inside its --timeout (the kernel drops a dead
    # process's locks and wakes the waiters)
    finish_bg "$reader" $((3 * LAB_TIME_SCALE))
    # a lock is no transaction: the killed writer left half a document, which
    # the client refuses to print (its server is gone)
    assert_equal "$BG_STATUS" 1
    assert_equal "$(cat "$T/reader")" "locked by pid=$SERVER_PID"
    assert_regex "$(cat "$T/reader.err")" "^client: server $NAME not running \(it ended while we waited; .*may be incomplete\)\$"
    assert_equal "$(cat "$DOC")" written
}

# bats test_tags=usage,memcheck
@test "client: no server is exit 1 'not running' at once, in both modes" {
    for mode in '' '--increment 3'; do
        # shellcheck disable=SC2086 # $mode is two words or none
        client --timeout 60 $mode
        assert_failure 1
        assert_equal "$stderr" "client: server $NAME not running"
        assert_equal "$output" ''
    done
}

# bats test_tags=usage
@test "client: usage errors are exit 2: bad name, operands, --increment 0, --no-lock alone" {
    client --name 'bad/name'
    assert_failure 2
    assert_regex "$stderr" "^client: bad name 'bad/name'"
    client hello
    assert_failure 2
    assert_equal "$stderr" "client: unexpected argument 'hello'"
    for count in 0 -1 abc 1.5 ''; do
        client --increment "$count"
        assert_failure 2
        assert_regex "$stderr" '^client: .*--increment'
    done
    client --no-lock
    assert_failure 2
    assert_equal "$stderr" 'client: --no-lock goes with --increment COUNT'
}

# ---------------------------------------------------------------- client: the counter

# run_counters K COUNT: K clients with --increment COUNT at once; each one's
# stdout in $T/out.I, stderr in $T/err.I; fails if one fails.
run_counters() {
    local k=$1 count=$2 i
    local -a pids=()
    rm -f "$T"/out.* "$T"/err.*
    for ((i = 1; i <= k; i++)); do
        lab_exec 01-file-locking/client --name "$NAME" --timeout 30 --increment "$count" >"$T/out.$i" 2>"$T/err.$i" &
        pids+=($!)
    done
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}"
    done
    assert_equal "$(cat "$T"/err.*)" ''
}

# bats test_tags=exchange
@test "counter: 4 clients x 200 increments at once, with locks, leave exactly 800" {
    start_server 01-file-locking/server --name "$NAME" --hold 0
    run_counters 4 200
    assert_equal "$(cat "$COUNT")" 800
    # each printed the last value it wrote; the last one to finish wrote 800
    assert_equal "$(cat "$T"/out.* | sort -n | tail -n 1)" 800
    for i in 1 2 3 4; do
        value=$(cat "$T/out.$i")
        ((value >= 200 && value <= 800))
    done
    # 200 each is over so fast that clients may never overlap: 2000 each
    # surely do, and without the locks would lose updates
    run_counters 4 2000
    assert_equal "$(cat "$COUNT")" 8800
}

# bats test_tags=memcheck
@test "counter: one client alone counts up and prints the last value, locks or not" {
    start_server 01-file-locking/server --name "$NAME" --hold 0
    client --increment 50
    assert_success
    assert_output 50
    client --increment 25 --no-lock
    assert_success
    assert_output 75
    assert_equal "$(cat "$COUNT")" 75
}

@test "counter: --no-lock clients at once still run; lost updates can only lower the count" {
    start_server 01-file-locking/server --name "$NAME" --hold 0
    pids=()
    for i in 1 2 3 4; do
        lab_exec 01-file-locking/client --name "$NAME" --increment 500 --no-lock >"$T/out.$i" 2>"$T/err.$i" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
    count=$(cat "$COUNT")
    ((count >= 500 && count <= 2000))
    assert_equal "$(cat "$T"/err.*)" ''
}

# bats test_tags=hidden
@test "counter: a client killed with SIGKILL mid-run blocks nobody; the others count on" {
    start_server 01-file-locking/server --name "$NAME" --hold 0
    start_bg "$T/doomed" 01-file-locking/client --name "$NAME" --increment 1000000000
    doomed=$BG_PID
    wait_for_line "$COUNT" '^[0-9]{3,}$' # it is well under way
    pids=()
    for i in 1 2 3; do
        lab_exec 01-file-locking/client --name "$NAME" --timeout 30 --increment 200 >"$T/out.$i" 2>"$T/err.$i" &
        pids+=($!)
    done
    kill -KILL "$doomed"
    for pid in "${pids[@]}"; do wait "$pid"; done
    finish_bg "$doomed"
    assert_equal "$(cat "$T"/err.*)" ''
    before=$(cat "$COUNT")
    client --timeout 2 --increment 1
    assert_success
    assert_output $((before + 1))
}

@test "counter: a write lock held on NAME.count (an OFD lock here) makes --try exit 3 and waits time out" {
    start_server 01-file-locking/server --name "$NAME" --hold 0
    start_bg "$T/holder" 01-file-locking/ofd-demo --hold $((60 * LAB_TIME_SCALE)) "$COUNT"
    wait_for_line "$T/holder" '^3\. holding'
    client --increment 1 --try
    assert_failure 3
    assert_output ''
    assert_equal "$stderr" "client: $COUNT is locked by pid -1 (--try)"
    client --increment 1 --timeout 0.3
    assert_failure 1
    assert_regex "$stderr" '^client: timed out after 0.3 s .*held by pid -1'
    assert_equal "$(cat "$COUNT")" 0
    # the reader, too, reports an OFD holder as pid -1
    start_bg "$T/doc-holder" 01-file-locking/ofd-demo --hold $((60 * LAB_TIME_SCALE)) "$DOC"
    wait_for_line "$T/doc-holder" '^3\. holding'
    client --try
    assert_failure 3
    assert_output 'locked by pid=-1'
}

# ---------------------------------------------------------------- flock-demo

# bats test_tags=exchange,memcheck
@test "flock-demo: holds LOCK_EX; flock(1) -n fails, /proc/locks shows FLOCK WRITE; SIGTERM releases" {
    file=$T/shared
    start_bg "$T/demo" 01-file-locking/flock-demo "$file"
    demo=$BG_PID
    wait_for_line "$T/demo" '^locked '
    assert_equal "$(cat "$T/demo")" "locked $file (flock LOCK_EX, pid $demo)"
    assert_equal "$(stat -c %a "$file")" 600
    assert_equal "$(held_locks "$file")" "FLOCK WRITE $demo"
    run flock --nonblock "$file" true
    assert_failure 1
    run flock --nonblock --shared "$file" true
    assert_failure 1
    kill -TERM "$demo"
    finish_bg "$demo"
    assert_equal "$BG_STATUS" 0
    assert_equal "$(tail -n 1 "$T/demo")" "unlocked $file"
    run flock --nonblock "$file" true
    assert_success
}

@test "flock-demo: --shared lets other shared holders in and keeps exclusive ones out" {
    file=$T/shared
    start_bg "$T/demo" 01-file-locking/flock-demo --shared --hold $((60 * LAB_TIME_SCALE)) "$file"
    wait_for_line "$T/demo" '^locked .*LOCK_SH'
    assert_equal "$(held_locks "$file")" "FLOCK READ $BG_PID"
    run flock --nonblock --shared "$file" true
    assert_success
    run flock --nonblock "$file" true
    assert_failure 1
}

@test "flock-demo: against flock(1): --try exits 3, a wait times out, a killed holder lets it in at once" {
    file=$T/shared
    # flock(1) holds the lock while its command runs; --close keeps the
    # lock out of the command, so killing flock(1) alone releases it
    # shellcheck disable=SC2016 # $$ and $1 are the inner shell's
    flock --close "$file" sh -c 'echo $$ >"$1"; exec sleep 600' sh "$T/held" 3>&- &
    holder=$!
    EXTRA_PIDS+=("$holder")
    wait_for_line "$T/held" '^[0-9]+$'
    EXTRA_PIDS+=("$(cat "$T/held")")
    run_client 01-file-locking/flock-demo --try "$file"
    assert_failure 3
    assert_output "busy: $file is flock()ed by someone else (see /proc/locks)"
    assert_equal "$stderr" "flock-demo: $file is locked (--try)"
    run_client 01-file-locking/flock-demo --timeout 0.3 "$file"
    assert_failure 1
    assert_equal "$stderr" "flock-demo: timed out after 0.3 s waiting for flock LOCK_EX on $file"
    start_bg "$T/demo" 01-file-locking/flock-demo --timeout $((100 * LAB_TIME_SCALE)) --hold 0 "$file"
    demo=$BG_PID
    wait_for_line "$T/demo" '^busy: '
    kill -KILL "$holder"
    finish_bg "$demo" $((3 * LAB_TIME_SCALE))
    assert_equal "$BG_STATUS" 0
    assert_equal "$(tail -n 2 "$T/demo")" "$(printf 'locked %s (flock LOCK_EX, pid %s)\nunlocked %s' "$file" "$demo" "$file")"
}

@test "flock-demo: flock and fcntl locks do not see each other" {
    start_server 01-file-locking/server --name "$NAME" --hold $((60 * LAB_TIME_SCALE))
    # the server holds an fcntl write lock on NAME.txt; flock gets it at once
    run_client 01-file-locking/flock-demo --try --hold 0 "$DOC"
    assert_success
    assert_line -n 0 --partial "locked $DOC (flock LOCK_EX"
    stop_server
    # and a reader is not held up by an flock on the document
    start_server 01-file-locking/server --name "$NAME" --hold 0 text
    wait_for_line "$SERVER_LOG" '^unlocked '
    start_bg "$T/demo" 01-file-locking/flock-demo "$DOC"
    wait_for_line "$T/demo" '^locked '
    client --try
    assert_success
    assert_output text
}

# ---------------------------------------------------------------- ofd-demo

# bats test_tags=exchange,memcheck
@test "ofd-demo: classic locks belong to the process and die with ANY close; OFD locks do not" {
    file=$T/shared
    run_client 01-file-locking/ofd-demo "$file"
    assert_success
    pid=$(sed -n 's/^1\. .*(pid \([0-9]*\))$/\1/p' <<<"$output")
    [[ -n $pid ]]
    assert_equal "$output" "1. classic fcntl locks belong to the process (pid $pid)
   A F_SETLK write:     locked
   P F_SETLK write:     locked (a process never conflicts with itself)
   P F_OFD_GETLK:       write lock held by pid=$pid
   B open() + close()
   P F_OFD_GETLK:       no lock (closing ANY descriptor dropped the process's locks)
2. OFD locks belong to the open file description
   A F_OFD_SETLK write: locked
   B open() + close()
   P F_OFD_GETLK:       write lock held by pid=-1 (still there; an OFD lock has no pid)
   P F_OFD_SETLK write: refused: Resource temporarily unavailable (same process, other description: a conflict)"
    assert_equal "$stderr" ''
    assert_equal "$(stat -c %a "$file")" 600
    # every lock went with the process
    assert_equal "$(held_locks "$file")" ''
}

@test "ofd-demo: /proc/locks shows the held lock as OFDLCK WRITE with pid -1; flock(1) is not kept out" {
    file=$T/shared
    start_bg "$T/demo" 01-file-locking/ofd-demo --hold $((60 * LAB_TIME_SCALE)) "$file"
    demo=$BG_PID
    wait_for_line "$T/demo" '^3\. holding'
    assert_equal "$(held_locks "$file")" 'OFDLCK WRITE -1'
    run flock --nonblock "$file" true
    assert_success
    kill -TERM "$demo"
    finish_bg "$demo"
    assert_equal "$BG_STATUS" 0
    assert_equal "$(held_locks "$file")" ''
}

# ---------------------------------------------------------------- every program

# bats test_tags=usage
@test "every program: --help on stdout exit 0; unknown option exit 2; demos want one FILE" {
    check_help_and_unknown_option 01-file-locking server client flock-demo ofd-demo
    for program in flock-demo ofd-demo; do
        run_client "01-file-locking/$program"
        assert_failure 2
        assert_equal "$stderr" "$program: want exactly one FILE (try --help)"
        run_client "01-file-locking/$program" "$T/a" "$T/b"
        assert_failure 2
    done
    run_server 01-file-locking/server --name '.hidden'
    assert_failure 2
    assert_regex "$stderr" "^server: bad name '.hidden'"
}

@test "server: a reader of its log that goes away ends it with exit 1, files removed" {
    lab_exec 01-file-locking/server --name "$NAME" --hold 0.5 one two | head -n 1 >"$T/first"
    assert_equal "${PIPESTATUS[0]}" 1
    assert_regex "$(cat "$T/first")" '^ready pid='
    run find "$DIR" -mindepth 1 -name "$NAME.*"
    assert_output ''
}

# bats test_tags=exchange,mechanism
@test "mechanism: the server writes the text into NAME.txt under a write lock, the client reads it under a read lock" {
    trace_exchange --server "01-file-locking/server --name $NAME --hold 0.5 hello" --calls fcntl -- 01-file-locking/client --name "$NAME"
    local txt="[0-9]+<[^>]*/file-locking/$NAME\.txt" whole='l_whence=SEEK_SET, l_start=0, l_len=0'
    carried_in_order server "the server write-locks all of $NAME.txt (fcntl F_SETLK F_WRLCK, before the rename), writes hello into it, then unlocks it (F_UNLCK)" \
        "fcntl\($txt(\.new)?>, F_SETLK, \{l_type=F_WRLCK, $whole\}\) = 0" "write\($txt>, \"hello\\\\n\"" \
        "fcntl\($txt>, F_SETLK, \{l_type=F_UNLCK, "
    carried_in_order client "the client read-locks all of $NAME.txt (fcntl F_SETLK or F_SETLKW, F_RDLCK), reads hello from it, then unlocks it" \
        "fcntl\($txt>, F_SETLKW?, \{l_type=F_RDLCK, $whole\}\) = 0" "read\($txt>, \"hello\\\\n\"" \
        "fcntl\($txt>, F_SETLK, \{l_type=F_UNLCK, "
    carried_only_by hello "server +write\($txt>, " "client +read\($txt>, " \
        '(server|client) +write\(1<stdout>, "(wrote: hello|hello)\\n"'
}

# bats test_tags=exchange,mechanism
@test "mechanism: counter: each increment reads and writes NAME.count under a write lock" {
    trace_exchange --server "01-file-locking/server --name $NAME --hold 0" --calls fcntl -- 01-file-locking/client --name "$NAME" --increment 2
    local count="[0-9]+<[^>]*/file-locking/$NAME\.count>" lock="F_SETLKW?, \{l_type=F_WRLCK, l_whence=SEEK_SET, l_start=0, l_len=0\}\) = 0"
    carried_in_order client "each increment: write-lock $NAME.count (F_SETLK or F_SETLKW, F_WRLCK), pread the number, pwrite it plus one, unlock (F_UNLCK); twice" \
        "fcntl\($count, $lock" "pread64\($count, \"0\\\\n\"" "pwrite64\($count, \"1\\\\n\"" "fcntl\($count, F_SETLK, \{l_type=F_UNLCK, " \
        "fcntl\($count, $lock" "pread64\($count, \"1\\\\n\"" "pwrite64\($count, \"2\\\\n\"" "fcntl\($count, F_SETLK, \{l_type=F_UNLCK, "
}

# bats test_tags=exchange
@test "README: every transcript shows what the programs print" {
    check_transcripts 01-file-locking
}
