#!/usr/bin/env bats
# 03-fifo: named pipes - NAME.fifo in, NAME.PID.fifo out.

load lab

setup() {
    lab_setup
    DIR=$IPC_LAB_DIR/fifo
}

# Besides lab_teardown: no client left a reply FIFO behind, unless the test
# killed one with SIGKILL on purpose (it says so with KILLED_CLIENTS=1); and
# a server that is not the test's child (OTHER_SERVER) is stopped too.
teardown() {
    local leftovers=()
    if [[ -n ${OTHER_SERVER-} ]]; then # a server started by a test's inner shell
        kill -TERM "$OTHER_SERVER" 2>/dev/null || true
        wait_for_exit "$OTHER_SERVER" || kill -KILL "$OTHER_SERVER" 2>/dev/null || true
    fi
    if [[ -d ${DIR-} && -z ${KILLED_CLIENTS-} ]]; then
        mapfile -t leftovers < <(find "$DIR" -name "$NAME.[0-9]*.fifo")
    fi
    lab_teardown
    if ((${#leftovers[@]} > 0)); then
        echo "reply FIFOs left behind: ${leftovers[*]}" >&2
        return 1
    fi
}


reply_fifo_exists() { compgen -G "$DIR/$NAME.[0-9]*.fifo" >/dev/null; }
no_reply_fifo() { ! reply_fifo_exists; }

# The pid of the one client of this test that has a reply FIFO now.
client_pid_from_fifo() {
    local path
    path=$(compgen -G "$DIR/$NAME.[0-9]*.fifo" | head -n 1)
    path=${path%.fifo}
    echo "${path##*.}"
}

# Starts a client in the background (stdout $T/bg.out, stderr $T/bg.err);
# sets BG_PID (the timeout wrapper's pid).
start_background_client() {
    lab_exec 03-fifo/client --name "$NAME" "$@" >"$T/bg.out" 2>"$T/bg.err" 3>&- &
    BG_PID=$!
}

# Marks NAME.fifo as unwritten; `wait_until request_written` then returns
# once a writer has written into it (writes update a FIFO's mtime).
mark_unwritten() { touch -c -d @0 "$DIR/$NAME.fifo"; }
request_written() { [[ $(stat -c %Y "$DIR/$NAME.fifo") != 0 ]]; }

# bats test_tags=exchange,memcheck
@test "exchange: ready line, replies in order, empty message, other bytes unchanged" {
    start_server 03-fifo/server --name "$NAME"
    assert_regex "$READY_LINE" "^ready pid=$SERVER_PID path=$DIR/$NAME.fifo\$"
    [[ -p ${READY[path]} ]]
    run_client 03-fifo/client --name "$NAME" hello 'big World!' '' 'ünïcode 123 ~{}' -- '-dash'
    assert_success
    assert_equal "$output" "$(printf 'HELLO\nBIG WORLD!\n\nüNïCODE 123 ~{}\n-DASH')"
    assert_equal "$stderr" ''
    wait_for_line "$SERVER_LOG" '^received: -dash$'
    assert_equal "$(tail -n +2 "$SERVER_LOG")" \
        "$(printf 'received: hello\nreceived: big World!\nreceived: \nreceived: ünïcode 123 ~{}\nreceived: -dash')"
}

# bats test_tags=exchange
@test "exchange: every byte value but newline goes through, only a-z changes" {
    start_server 03-fifo/server --name "$NAME"
    # bytes 0-255 except the newline, in lines of 200 bytes
    # shellcheck disable=SC2059 # the format string is made of \NNN escapes on purpose
    { printf "$(printf '\\%03o' $(seq 0 9) $(seq 11 255))" | fold -b -w 200; echo; } >"$T/bytes"
    lab_exec 03-fifo/client --name "$NAME" <"$T/bytes" >"$T/out"
    LC_ALL=C tr a-z A-Z <"$T/bytes" >"$T/expected"
    cmp "$T/expected" "$T/out"
}

# bats test_tags=exchange,memcheck
@test "stdin: one message per line, a last line without newline included" {
    start_server 03-fifo/server --name "$NAME"
    printf 'one\n\nthree' >"$T/in"
    run_client 03-fifo/client --name "$NAME" <"$T/in"
    assert_success
    assert_equal "$output" "$(printf 'ONE\n\nTHREE')"
    run_client 03-fifo/client --name "$NAME" </dev/null
    assert_success
    assert_output ''
}

# bats test_tags=memcheck
@test "messages of 1024 bytes go through; 1025 bytes: exit 2, too long, earlier ones sent" {
    start_server 03-fifo/server --name "$NAME"
    max=$(head -c 1024 /dev/zero | tr '\0' x)
    run_client 03-fifo/client --name "$NAME" "$max"
    assert_success
    assert_output "${max^^}"
    run_client 03-fifo/client --name "$NAME" first "${max}y" never
    assert_failure 2
    assert_output FIRST
    assert_regex "$stderr" '^client: .*too long'
    printf 'second\n%s\nnever\n' "${max}y" >"$T/in"
    run_client 03-fifo/client --name "$NAME" <"$T/in"
    assert_failure 2
    assert_output SECOND
    assert_regex "$stderr" 'too long'
    run grep -c "^received: .*y\$\|^received: never\$" "$SERVER_LOG"
    assert_output 0
}

# bats test_tags=usage
@test "--help, unknown option, bad name, stray operand" {
    check_help_and_unknown_option 03-fifo server client
    check_bad_names 03-fifo server client
    run_client 03-fifo/client --timeout soon hello
    assert_failure 2
    run_client 03-fifo/server extra
    assert_failure 2
    assert_equal "$stderr" "server: unexpected argument 'extra'"
}

# bats test_tags=memcheck
@test "not running: exit 1 at once, no FIFO left behind" {
    start=$SECONDS
    run_client 03-fifo/client --name "$NAME" --timeout 60 hello
    assert_failure 1
    assert_regex "$stderr" "^client: server $NAME not running \(no $DIR/$NAME.fifo\)\$"
    assert_output ''
    ((SECONDS - start < CLIENT_LIMIT))
    # with stdin input too: it does not wait for input before saying so
    mkfifo "$T/in"
    exec 5<>"$T/in" # an input that never ends
    run_client 03-fifo/client --name "$NAME" --timeout 60 <"$T/in"
    exec 5>&-
    assert_failure 1
    assert_regex "$stderr" 'not running'
    run ls -A "$DIR"
    assert_output ''
    # something that is not a FIFO at NAME.fifo: no server, and left alone
    echo precious >"$DIR/$NAME.fifo"
    run_client 03-fifo/client --name "$NAME" hello
    assert_failure 1
    assert_equal "$stderr" "client: server $NAME not running ($DIR/$NAME.fifo is not a FIFO)"
    assert_equal "$(cat "$DIR/$NAME.fifo")" precious
    rm "$DIR/$NAME.fifo"
}

@test "a server named NAME.PID owns NAME.PID.fifo: client PID of server NAME leaves it alone" {
    start_server 03-fifo/server --name "$NAME"
    # The inner shell starts server "$NAME.$$", then becomes (exec) client $$ of "$NAME".
    # shellcheck disable=SC2016 # $$ and $1... are the inner shell's
    run --separate-stderr timeout "$CLIENT_LIMIT" bash -c '
        "${@:4}" "$1" --name "$2.$$" >"$3" 2>&1 </dev/null &
        until grep -qs "^ready " "$3"; do kill -0 $! || exit 99; sleep 0.02; done
        exec "${@:4}" "${1%server}client" --name "$2" hello' \
        _ "$(bin 03-fifo/server)" "$NAME" "$T/other.log" "${LAB_WRAP[@]}"
    OTHER_SERVER=$(sed -n '1s/^ready pid=\([0-9]*\).*/\1/p' "$T/other.log")
    assert_failure 1
    assert_regex "$stderr" "^client: $DIR/$NAME\.[0-9]+\.fifo is in use by the server named '$NAME\.[0-9]+'\$"
    other_fifo=$(sed -n '1s/.* path=//p' "$T/other.log")
    [[ -p $other_fifo ]]
    # not our child, so no exit status to read: its clean-up shows it exited normally
    kill -TERM "$OTHER_SERVER"
    wait_for_exit "$OTHER_SERVER"
    OTHER_SERVER=
    [[ ! -e $other_fifo && ! -e ${other_fifo%.fifo}.lock ]]
}

@test "a killed server's leftover FIFO: client says not running at once; a new server takes over" {
    start_server 03-fifo/server --name "$NAME"
    kill -KILL "$SERVER_PID"
    wait_for_exit "$SERVER_PID"
    [[ -p $DIR/$NAME.fifo ]]
    run_client 03-fifo/client --name "$NAME" --timeout 60 hello
    assert_failure 1
    assert_equal "$stderr" "client: server $NAME not running (nobody reads $DIR/$NAME.fifo)"
    start_server 03-fifo/server --name "$NAME"
    run_client 03-fifo/client --name "$NAME" again
    assert_success
    assert_output AGAIN
    stop_server
    assert_equal "$STOP_STATUS" 0
    run ls -A "$DIR"
    assert_output ''
}

@test "the last client leaving is no end of file: the server idles, then serves the next" {
    start_server 03-fifo/server --name "$NAME"
    run_client 03-fifo/client --name "$NAME" first
    assert_output FIRST
    # CPU time (fields 14, 15 of /proc/PID/stat, in ticks) over half a second
    # of idling: a server polling a FIFO with no writer left would spin.
    before=$(awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat")
    sleep 0.5
    after=$(awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat")
    ((after - before < 10))
    run_client 03-fifo/client --name "$NAME" second
    assert_output SECOND
}

@test "already running: a second server of the same name exits 1; the first goes on" {
    check_second_server_refused 03-fifo "^server: $NAME already running \\(pid @PID@\\)"
    # another name is another server
    start_server 03-fifo/server --name "$NAME-b"
    run_client 03-fifo/client --name "$NAME-b" other
    assert_output OTHER
}

@test "SIGTERM and SIGINT: exit 0, NAME.fifo and the lock removed" {
    for signal in TERM INT; do
        start_server 03-fifo/server --name "$NAME"
        run_client 03-fifo/client --name "$NAME" hi
        assert_output HI
        stop_server "$SERVER_PID" "$signal"
        assert_equal "$STOP_STATUS" 0
        run ls -A "$DIR"
        assert_output ''
    done
}

@test "permissions: directories 0700, NAME.fifo and NAME.PID.fifo 0600" {
    start_server 03-fifo/server --name "$NAME"
    assert_equal "$(stat -c %a "$IPC_LAB_DIR")" 700
    assert_equal "$(stat -c %a "$DIR")" 700
    assert_equal "$(stat -c '%a %F' "$DIR/$NAME.fifo")" '600 fifo'
    kill -STOP "$SERVER_PID" # the client waits, its FIFO there to see
    start_background_client --timeout 60 look
    wait_until reply_fifo_exists
    pid=$(client_pid_from_fifo)
    assert_equal "$(stat -c '%a %F' "$DIR/$NAME.$pid.fifo")" '600 fifo'
    kill -CONT "$SERVER_PID"
    wait "$BG_PID"
    assert_equal "$(cat "$T/bg.out")" LOOK
}

# bats test_tags=usage
@test "a group-writable runtime dir is refused, exit 1" {
    mkdir -m 0770 "$IPC_LAB_DIR"
    for program in server client; do
        run_client "03-fifo/$program" --name "$NAME"
        assert_failure 1
        assert_regex "$stderr" "^$program: runtime dir .*writable by group or others"
    done
}

# bats test_tags=exchange
@test "a shell is a client: mkfifo; echo \"\$\$ hello\" > NAME.fifo; cat NAME.\$\$.fifo" {
    start_server 03-fifo/server --name "$NAME"
    # cat opens the reply FIFO only after the request went out: the server
    # waits (briefly, serving others meanwhile) for a reader to come.
    # shellcheck disable=SC2016 # $$ and $1 are the inner shell's
    run timeout "$CLIENT_LIMIT" bash -c '
        cd "$1" && mkfifo -m 600 "$2.$$.fifo" && echo "$$ hello from $$" >"$2.fifo" &&
            cat "$2.$$.fifo"; status=$?; rm -f "$2.$$.fifo"; exit $status' _ "$DIR" "$NAME"
    assert_success
    assert_regex "$output" '^HELLO FROM [0-9]+$'
    wait_for_line "$SERVER_LOG" '^received: hello from [0-9]+$'
}

@test "requests without a PID, garbage and too long messages are ignored; the server goes on" {
    start_server 03-fifo/server --name "$NAME"
    fifo=$DIR/$NAME.fifo
    echo hi >"$fifo"
    printf ' 12 lead space\n0 zero\n007 octal\n12345678901 eleven digits\n99999999999x\n' >"$fifo"
    printf '\x01\x02\xff\n' >"$fifo"
    printf '\x1b[2Jx\n' >"$fifo" # a peer's bytes never drive the log reader's terminal
    printf '%s %s\n' $$ "$(head -c 1025 /dev/zero | tr '\0' m)" >"$fifo"
    wait_for_line "$SERVER_LOG" "^ignored: pid $$: message too long \\(1025 bytes; at most 1024\\)\$"
    run grep -c '^ignored: no PID in request' "$SERVER_LOG"
    assert_output 8
    grep -qx 'ignored: no PID in request "hi"' "$SERVER_LOG"
    grep -qxF 'ignored: no PID in request "\x1b[2Jx"' "$SERVER_LOG"
    run grep -c $'\x1b' "$SERVER_LOG"
    assert_output 0
    run_client 03-fifo/client --name "$NAME" after
    assert_output AFTER
    run grep -c '^received:' "$SERVER_LOG"
    assert_output 1
}

@test "a request over PIPE_BUF is ignored and the server is in step at the next newline" {
    start_server 03-fifo/server --name "$NAME"
    fifo=$DIR/$NAME.fifo
    # one line of 10000 bytes that looks like a request, then a normal one
    { printf '%s ' $$; head -c 10000 /dev/zero | tr '\0' z; echo; } >"$fifo"
    wait_for_line "$SERVER_LOG" '^ignored: request (over 4096 bytes \(PIPE_BUF\); skipped to the next newline|without a newline)'
    run_client 03-fifo/client --name "$NAME" in step
    assert_output "$(printf 'IN\nSTEP')"
    # 8000 bytes with no newline at all, then a line of its own. How the
    # server's reads split them depends on its speed, so only the outcome is
    # asserted: both ignored (whatever the log calls them), never answered,
    # and the next client served.
    head -c 8000 /dev/zero | tr '\0' q >"$fifo"
    printf 'tail of the garbage\n' >"$fifo"
    run_client 03-fifo/client --name "$NAME" again
    assert_output AGAIN
    run grep -c '^received: .*\(zzz\|qqq\|garbage\)' "$SERVER_LOG"
    assert_output 0
    run grep -c '^received: ' "$SERVER_LOG"
    assert_output 3 # in, step, again
}

@test "a write without a newline is dropped once read: the next client's request is not glued to it" {
    start_server 03-fifo/server --name "$NAME"
    fifo=$DIR/$NAME.fifo
    printf 'garbage' >"$fifo"
    wait_for_line "$SERVER_LOG" '^ignored: request without a newline "garbage"$'
    run_client 03-fifo/client --name "$NAME" --timeout 5 innocent
    assert_success
    assert_output INNOCENT
    head -c 300 /dev/urandom | tr -d '\n' >"$fifo"
    wait_for_line "$SERVER_LOG" '^ignored: request without a newline'
    run_client 03-fifo/client --name "$NAME" --timeout 5 second
    assert_success
    assert_output SECOND
}

@test "a request naming a pid whose NAME.PID.fifo is another live server's is not answered" {
    start_server 03-fifo/server --name "$NAME"
    first=$SERVER_PID
    start_server 03-fifo/server --name "$NAME.777"
    echo "777 hello" >"$DIR/$NAME.fifo"
    wait_for_line "$T/server.0.out" "^ignored: pid 777: reply FIFO belongs to the server $NAME.777\$"
    run grep -c . "$SERVER_LOG" # the other server saw nothing but its ready line
    assert_output 1
    stop_server "$SERVER_PID"
    assert_equal "$STOP_STATUS" 0
    stop_server "$first"
    assert_equal "$STOP_STATUS" 0
}

@test "reply FIFO missing, a regular file, a symlink, a directory: ignored, nothing written" {
    start_server 03-fifo/server --name "$NAME"
    fifo=$DIR/$NAME.fifo
    echo "111111 missing" >"$fifo"
    echo precious >"$DIR/$NAME.222222.fifo"
    echo "222222 regular" >"$fifo"
    echo target >"$T/target"
    ln -s "$T/target" "$DIR/$NAME.333333.fifo"
    echo "333333 symlink" >"$fifo"
    mkdir "$DIR/$NAME.444444.fifo"
    echo "444444 directory" >"$fifo"
    wait_for_line "$SERVER_LOG" "^ignored: pid 444444: $DIR/$NAME.444444.fifo is not a FIFO\$"
    grep -qx "ignored: pid 111111: no reply FIFO $DIR/$NAME.111111.fifo" "$SERVER_LOG"
    grep -qx "ignored: pid 222222: $DIR/$NAME.222222.fifo is not a FIFO" "$SERVER_LOG"
    grep -qx "ignored: pid 333333: $DIR/$NAME.333333.fifo is not a FIFO" "$SERVER_LOG"
    assert_equal "$(cat "$DIR/$NAME.222222.fifo")" precious
    assert_equal "$(cat "$T/target")" target
    run grep -c '^received:' "$SERVER_LOG"
    assert_output 0
    run_client 03-fifo/client --name "$NAME" served
    assert_output SERVED
    rm -r "$DIR/$NAME.222222.fifo" "$DIR/$NAME.333333.fifo" "$DIR/$NAME.444444.fifo"
}

@test "a reply FIFO nobody reads never stalls the server: others are served, then it is dropped" {
    start_server 03-fifo/server --name "$NAME"
    mkfifo -m 600 "$DIR/$NAME.555555.fifo"
    echo "555555 nobody listens" >"$DIR/$NAME.fifo"
    wait_for_line "$SERVER_LOG" '^received: nobody listens$'
    run_client 03-fifo/client --name "$NAME" meanwhile
    assert_success
    assert_output MEANWHILE
    # dropped after the grace period (2 s), which the reply above did not wait for
    wait_for_line "$SERVER_LOG" "^ignored: pid 555555: nobody opened $DIR/$NAME.555555.fifo for reading"
    rm "$DIR/$NAME.555555.fifo"
}

@test "timed out: a stopped server gives exit 1 after --timeout; the FIFO is removed" {
    start_server 03-fifo/server --name "$NAME"
    kill -STOP "$SERVER_PID"
    run_client 03-fifo/client --name "$NAME" --timeout 0.5 hello
    assert_failure 1
    assert_equal "$stderr" 'client: timed out after 0.5 s waiting for the reply'
    kill -CONT "$SERVER_PID"
    no_reply_fifo
    # the server reads the stale request, finds no FIFO to answer, goes on
    wait_for_line "$SERVER_LOG" '^ignored: pid [0-9]+: no reply FIFO'
    run_client 03-fifo/client --name "$NAME" later
    assert_output LATER
}

@test "timed out: NAME.fifo full, the request cannot even be sent" {
    start_server 03-fifo/server --name "$NAME"
    kill -STOP "$SERVER_PID"
    # a FIFO holds 64 KiB (less when the user has many pipes: then head blocks)
    timeout 2 head -c 65536 /dev/zero >"$DIR/$NAME.fifo" || true
    run_client 03-fifo/client --name "$NAME" --timeout 0.5 hello
    assert_failure 1
    assert_equal "$stderr" "client: timed out after 0.5 s waiting for room in $DIR/$NAME.fifo"
    kill -CONT "$SERVER_PID"
    wait_for_line "$SERVER_LOG" '^ignored: request over'
    printf '\n' >"$DIR/$NAME.fifo" # the end of the garbage line: in step again
    run_client 03-fifo/client --name "$NAME" drained
    assert_output DRAINED
}

# bats test_tags=memcheck
@test "client: SIGINT or SIGTERM while waiting for the reply: exit 1, FIFO removed" {
    start_server 03-fifo/server --name "$NAME"
    kill -STOP "$SERVER_PID"
    for signal in INT TERM; do
        mark_unwritten
        start_background_client --timeout 60 "wait $signal"
        wait_until reply_fifo_exists
        wait_until request_written
        kill "-$signal" "$(client_pid_from_fifo)"
        status=0
        wait "$BG_PID" || status=$?
        assert_equal "$status" 1
        assert_regex "$(cat "$T/bg.err")" '^client: interrupted by (Interrupt|Terminated)$'
        no_reply_fifo
    done
    kill -CONT "$SERVER_PID"
}

@test "client: SIGINT while waiting for a line of stdin: exit 1, FIFO removed" {
    start_server 03-fifo/server --name "$NAME"
    mkfifo "$T/in"
    lab_exec 03-fifo/client --name "$NAME" <"$T/in" >"$T/out" 2>"$T/err" 3>&- &
    pid=$!
    exec 5>"$T/in"
    echo first >&5
    wait_for_line "$T/out" '^FIRST$'
    kill -INT "$(client_pid_from_fifo)"
    status=0
    wait "$pid" || status=$?
    exec 5>&-
    assert_equal "$status" 1
    assert_equal "$(cat "$T/err")" 'client: interrupted by Interrupt'
    no_reply_fifo
}

@test "client: a server killed while the client waits is reported at once, not at the timeout" {
    start_server 03-fifo/server --name "$NAME"
    kill -STOP "$SERVER_PID"
    mark_unwritten
    start=$SECONDS
    start_background_client --timeout 60 orphan
    wait_until reply_fifo_exists
    wait_until request_written
    kill -KILL "$SERVER_PID"
    status=0
    wait "$BG_PID" || status=$?
    assert_equal "$status" 1
    assert_equal "$(cat "$T/bg.err")" "client: server $NAME not running (nobody reads $DIR/$NAME.fifo any more, no reply)"
    ((SECONDS - start < CLIENT_LIMIT))
    no_reply_fifo
}

# bats test_tags=exchange
@test "50 clients at the same time each get exactly their own replies" {
    start_server 03-fifo/server --name "$NAME"
    local pids=() i
    for i in $(seq 1 50); do
        timeout -k 2 $((CLIENT_LIMIT * 3)) "${LAB_WRAP[@]}" "$(bin 03-fifo/client)" \
            --name "$NAME" --timeout $((CLIENT_LIMIT * 2)) "client $i says a" "client $i says b" \
            "client $i says c" >"$T/out.$i" 2>"$T/err.$i" 3>&- &
        pids+=($!)
    done
    for i in $(seq 1 50); do
        wait "${pids[i - 1]}" || { echo "client $i failed: $(cat "$T/err.$i")" >&2; return 1; }
        assert_equal "$(cat "$T/out.$i")" "$(printf 'CLIENT %s SAYS A\nCLIENT %s SAYS B\nCLIENT %s SAYS C' "$i" "$i" "$i")"
    done
    run grep -c '^received: client [0-9]* says [abc]$' "$SERVER_LOG"
    assert_output 150
}

@test "a client killed with SIGKILL while waiting: the server logs it, serves the next, the leftover harms nobody" {
    KILLED_CLIENTS=1
    start_server 03-fifo/server --name "$NAME"
    kill -STOP "$SERVER_PID"
    mark_unwritten
    start_background_client --timeout 60 doomed
    wait_until reply_fifo_exists
    wait_until request_written
    victim=$(client_pid_from_fifo)
    kill -KILL "$victim"
    wait "$BG_PID" || true
    kill -CONT "$SERVER_PID"
    wait_for_line "$SERVER_LOG" '^received: doomed$'
    # served at once, while the reply to the dead client waits for a reader
    run_client 03-fifo/client --name "$NAME" next
    assert_output NEXT
    wait_for_line "$SERVER_LOG" "^ignored: pid $victim: nobody opened $DIR/$NAME.$victim.fifo for reading"
    [[ -p $DIR/$NAME.$victim.fifo ]] # the leftover: only its own client removes it
    run_client 03-fifo/client --name "$NAME" after
    assert_output AFTER
    # a client that gets a pid whose leftover FIFO is there replaces it
    # shellcheck disable=SC2016 # $$ and $1 are the inner shell's; exec keeps its pid
    run timeout "$CLIENT_LIMIT" bash -c 'mkfifo -m 600 "$1/$2.$$.fifo" &&
        exec "${@:3}"' _ "$DIR" "$NAME" "${LAB_WRAP[@]}" "$(bin 03-fifo/client)" --name "$NAME" reused
    assert_success
    assert_output REUSED
    rm "$DIR/$NAME.$victim.fifo"
    [[ -z $(find "$DIR" -name "$NAME.[0-9]*.fifo") ]]
    stop_server
    assert_equal "$STOP_STATUS" 0
}

# bats test_tags=hidden
@test "clients killed at random points while others run: no hang, no wrong reply" {
    KILLED_CLIENTS=1
    start_server 03-fifo/server --name "$NAME"
    local i victims=() keepers=()
    for i in $(seq 1 10); do
        seq 1 200 | sed "s/^/victim $i line /" >"$T/victim.$i"
        lab_exec 03-fifo/client --name "$NAME" <"$T/victim.$i" >/dev/null 2>&1 3>&- &
        victims+=($!)
        timeout -k 2 $((CLIENT_LIMIT * 3)) "${LAB_WRAP[@]}" "$(bin 03-fifo/client)" \
            --name "$NAME" --timeout $((CLIENT_LIMIT * 2)) "keeper $i one" "keeper $i two" \
            >"$T/keeper.$i" 2>&1 3>&- &
        keepers+=($!)
    done
    # kill the victims (the clients inside the timeout wrappers) mid-stream
    for i in "${victims[@]}"; do
        pkill -KILL -P "$i" || true
    done
    for i in $(seq 1 10); do
        wait "${keepers[i - 1]}"
        assert_equal "$(cat "$T/keeper.$i")" "$(printf 'KEEPER %s ONE\nKEEPER %s TWO' "$i" "$i")"
    done
    run_client 03-fifo/client --name "$NAME" last
    assert_output LAST
    kill -0 "$SERVER_PID"
    for i in "${victims[@]}"; do wait "$i" || true; done
    find "$DIR" -name "$NAME.[0-9]*.fifo" -delete
}

# Files planted where a request makes the server look. NAME.PID.lock is the
# lock of a server named NAME.PID, which the server asks about before it
# answers pid PID: a FIFO there must not block it, a symlink must not end it.
@test "a FIFO planted at NAME.PID.lock: the server does not block on it and serves on" {
    start_server 03-fifo/server --name "$NAME"
    mkfifo -m 600 "$DIR/$NAME.600001.lock"
    echo "600001 fifo lock" >"$DIR/$NAME.fifo"
    wait_for_line "$SERVER_LOG" "^ignored: pid 600001: "
    run_client 03-fifo/client --name "$NAME" --timeout 2 served
    assert_success
    assert_output SERVED
    run grep -c '^received:' "$SERVER_LOG"
    assert_output 1
    stop_server
    assert_equal "$STOP_STATUS" 0
    rm "$DIR/$NAME.600001.lock"
}

@test "a symlink planted at NAME.PID.lock: not followed, the server does not exit and serves on" {
    start_server 03-fifo/server --name "$NAME"
    echo outside >"$T/outside"
    ln -s "$T/outside" "$DIR/$NAME.600002.lock"
    echo "600002 symlink lock" >"$DIR/$NAME.fifo"
    wait_for_line "$SERVER_LOG" "^ignored: pid 600002: "
    run_client 03-fifo/client --name "$NAME" --timeout 2 served
    assert_success
    assert_output SERVED
    assert_equal "$(cat "$T/outside")" outside
    stop_server
    assert_equal "$STOP_STATUS" 0
    rm "$DIR/$NAME.600002.lock"
}

@test "a symlink to a FIFO elsewhere, or a regular file, at NAME.PID.fifo: nothing written through it" {
    start_server 03-fifo/server --name "$NAME"
    mkfifo -m 600 "$T/outside.fifo"
    exec {outside}<>"$T/outside.fifo" # a reader there, so a write would succeed
    ln -s "$T/outside.fifo" "$DIR/$NAME.600003.fifo"
    echo "600003 symlink to a FIFO" >"$DIR/$NAME.fifo"
    printf precious >"$DIR/$NAME.600004.fifo"
    echo "600004 regular file" >"$DIR/$NAME.fifo"
    wait_for_line "$SERVER_LOG" "^ignored: pid 600004: $DIR/$NAME.600004.fifo is not a FIFO\$"
    grep -qx "ignored: pid 600003: $DIR/$NAME.600003.fifo is not a FIFO" "$SERVER_LOG"
    run_client 03-fifo/client --name "$NAME" served
    assert_output SERVED
    # requests are handled in order: both planted paths were dealt with
    if read -r -t 0 -u "$outside"; then
        fail "the server wrote into $T/outside.fifo through the symlink"
    fi
    exec {outside}<&-
    assert_equal "$(cat "$DIR/$NAME.600004.fifo")" precious
    run grep -c '^received:' "$SERVER_LOG"
    assert_output 1
    rm "$DIR/$NAME.600003.fifo" "$DIR/$NAME.600004.fifo"
}

# Pid reuse. A client sent its request and died; its reply waits for a
# reader (up to 2 s: replies.hpp). A new client that gets the same pid makes
# NAME.PID.fifo anew and reads it: it must not get the dead client's reply.
@test "pid reuse: a dead client's reply is not delivered to a new client with its pid" {
    require_pid_namespace
    KILLED_CLIENTS=1
    # shellcheck disable=SC2016 # expanded by the namespace's shell
    run --separate-stderr in_pid_namespace '
        server=$(bin 03-fifo/server) client=$(bin 03-fifo/client) dir=$IPC_LAB_DIR/fifo
        "$server" --name "$NAME" >"$T/ns.server.out" 2>&1 &
        server_pid=$!
        wait_for_line "$T/ns.server.out" "^ready "
        # the dead client: made its reply FIFO, sent, exited without reading
        (mkfifo -m 600 "$dir/$NAME.$BASHPID.fifo" && echo "$BASHPID from-the-dead" >"$dir/$NAME.fifo") &
        dead=$!
        wait "$dead"
        wait_for_line "$T/ns.server.out" "^received: from-the-dead\$"
        next_pid_is "$dead"
        "$client" --name "$NAME" --timeout 3 mine >"$T/ns.client.out" 2>&1 &
        reused=$!
        status=0
        wait "$reused" || status=$?
        kill -TERM "$server_pid"
        wait "$server_pid" || true
        echo "dead=$dead reused=$reused status=$status"
        cat "$T/ns.client.out"
        grep "^ignored: pid $dead: " "$T/ns.server.out"
    '
    assert_success
    assert_line -n 0 --regexp '^dead=([0-9]+) reused=\1 status=0$'
    assert_line -n 1 MINE
    assert_line -n 2 --regexp "^ignored: pid [0-9]+: $IPC_LAB_DIR/fifo/$NAME\.[0-9]+\.fifo was made anew since the request"
    assert_equal "${#lines[@]}" 3
}

# bats test_tags=exchange,mechanism
@test "mechanism: the request is written into the server's FIFO, the reply read from the client's own FIFO, nothing else" {
    trace_exchange --server "03-fifo/server --name $NAME" --calls mknodat,openat -- 03-fifo/client --name "$NAME" hello
    local dir="[\$]IPC_LAB_DIR/fifo"
    carried server "mknodat\(AT_FDCWD, \"$dir/$NAME\.fifo\", S_IFIFO\|0600\) = 0" "the server makes its FIFO $NAME.fifo with mkfifo (mknodat S_IFIFO)"
    carried client "mknodat\(AT_FDCWD, \"$dir/$NAME\.<client>\.fifo\", S_IFIFO\|0600\) = 0" "the client makes its own FIFO $NAME.PID.fifo with mkfifo"
    carried client "write\([0-9]+<$dir/$NAME\.fifo>, \"<client> hello\\\\n\"" "the client writes its request (its pid, a space, hello) into the server's FIFO"
    carried server "read\([0-9]+<$dir/$NAME\.fifo>, \"<client> hello\\\\n\"" "the server reads the request from its FIFO"
    carried server "write\([0-9]+<$dir/$NAME\.<client>\.fifo>, \"HELLO\\\\n\"" "the server writes the reply into the client's FIFO, found by its pid"
    carried client "read\([0-9]+<$dir/$NAME\.<client>\.fifo>, \"HELLO\\\\n\"" "the client reads the reply from its own FIFO"
    carried_only_by hello "client +write\([0-9]+<$dir/$NAME\.fifo>, " "server +read\([0-9]+<$dir/$NAME\.fifo>, " \
        "server +write\([0-9]+<$dir/$NAME\.<client>\.fifo>, " "client +read\([0-9]+<$dir/$NAME\.<client>\.fifo>, " \
        '(server|client) +write\(1<stdout>, "(received: hello|HELLO)\\n"'
}

# bats test_tags=exchange,mechanism
@test "mechanism: the client prints the reply it reads from its FIFO (a stand-in server that answers in rot13)" {
    # The lab's client beside a stand-in server that answers uryyb, not
    # HELLO: a client that printed an uppercase copy of its own, whatever
    # came back, would print HELLO.
    mkdir -p "$T/fake" "$DIR"
    chmod 700 "$DIR"
    printf '%s\n' 'import codecs, os, signal, sys' \
        'signal.alarm(int(sys.argv[2]))  # bounded, even if nobody writes' \
        'path = sys.argv[1]' \
        'os.mkfifo(path + ".fifo", 0o600)' \
        'requests = os.open(path + ".fifo", os.O_RDONLY | os.O_NONBLOCK)' \
        'keep = os.open(path + ".fifo", os.O_WRONLY)  # a read waits for a writer, never sees EOF' \
        'os.set_blocking(requests, True)' \
        'print("ready", flush=True)' \
        'line = b""' \
        'while not line.endswith(b"\n"):' \
        '    line += os.read(requests, 4096)' \
        'pid, text = line.decode().rstrip("\n").split(" ", 1)' \
        'reply = os.open(f"{path}.{pid}.fifo", os.O_WRONLY | os.O_NONBLOCK)' \
        'os.write(reply, (codecs.encode(text, "rot13") + "\n").encode())' \
        'print("answered", pid, flush=True)' >"$T/fake/server.py"
    # fd 3 closed, or bats would wait for it; killed in teardown.
    python3 "$T/fake/server.py" "$DIR/$NAME" "$CLIENT_LIMIT" >"$T/fake.out" 2>&1 3>&- &
    HELPER_PIDS+=("$!")
    wait_for_line "$T/fake.out" '^ready$' "$READY_LIMIT" "$!"
    run_client 03-fifo/client --name "$NAME" hello
    assert_success
    assert_output "uryyb"
    wait_for_line "$T/fake.out" '^answered [0-9]+$'
}

# bats test_tags=exchange
@test "README: every transcript shows what the programs print" {
    check_transcripts 03-fifo
}
