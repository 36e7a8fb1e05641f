#!/usr/bin/env bats
# 02-pipe: pipe(), fork(), dup2(), exec - and popen(3).

load lab

setup() { lab_setup; }
teardown() { lab_teardown; }

# bats test_tags=exchange,memcheck
@test "server: ready line names itself and its child, then the replies in order" {
    run_client 02-pipe/server hello 'big World!' '' 'ünïcode 123'
    assert_success
    # (bats drops empty lines from $lines: compare the whole output)
    assert_regex "$output" '^ready pid=[0-9]+ child=[0-9]+'$'\n'
    assert_equal "${output#*$'\n'}" "$(printf 'HELLO\nBIG WORLD!\n\nüNïCODE 123')"
    assert_equal "$stderr" ''
}

# bats test_tags=exchange,memcheck
@test "server: without MESSAGE it copies its stdin, last line without newline included" {
    printf 'one\ntwo\nthree' >"$T/in"
    run_client 02-pipe/server <"$T/in"
    assert_success
    assert_equal "$(printf '%s\n' "${lines[@]:1}")" "$(printf 'ONE\nTWO\nTHREE')"
}

@test "server: every byte value goes through, only a-z changes" {
    # all 256 byte values, several times over
    for _ in 1 2 3; do printf '%b' "$(printf '\\0%03o' $(seq 0 255))"; done >"$T/bytes"
    lab_exec 02-pipe/server <"$T/bytes" >"$T/out"
    tail -n +2 "$T/out" >"$T/replies"
    LC_ALL=C tr a-z A-Z <"$T/bytes" >"$T/expected"
    cmp "$T/expected" "$T/replies"
}

# bats test_tags=exchange
@test "server: 100 MiB through stdin, no deadlock, checksum intact" {
    head -c 100M /dev/urandom >"$T/big"
    expected=$(LC_ALL=C tr a-z A-Z <"$T/big" | sha256sum)
    lab_exec 02-pipe/server <"$T/big" >"$T/out"
    actual=$(tail -n +2 "$T/out" | sha256sum)
    assert_equal "$actual" "$expected"
    assert_equal "$(stat -c %s "$T/out")" "$(($(stat -c %s "$T/big") + $(head -n 1 "$T/out" | wc -c)))"
}

# bats test_tags=hidden
@test "server: a reader that goes away early gives an error, not a hang or a zombie" {
    head -c 20M /dev/zero | tr '\0' 'a' >"$T/big"
    lab_exec 02-pipe/server <"$T/big" 2>"$T/err" | head -c 100 >/dev/null
    assert_equal "${PIPESTATUS[0]}" 1
    assert_equal "$(cat "$T/err")" 'server: write stdout: Broken pipe'
    # the child was killed and reaped with the server: no client left running
    run pgrep -f "^$(bin 02-pipe/client)\$"
    assert_failure
}

@test "server: a child that exits non-zero is reported, exit 1" {
    mkdir "$T/fake"
    cp "$(bin 02-pipe/server)" "$T/fake/server"
    printf '#!/bin/sh\ncat >/dev/null\nexit 7\n' >"$T/fake/client"
    chmod +x "$T/fake/client"
    run --separate-stderr timeout "$CLIENT_LIMIT" "${LAB_WRAP[@]}" "$T/fake/server" hello
    assert_failure 1
    assert_equal "$stderr" "server: child $T/fake/client exited with status 7"
}

@test "server: a child killed by a signal is reported, exit 1" {
    mkdir "$T/fake"
    cp "$(bin 02-pipe/server)" "$T/fake/server"
    printf '#!/bin/sh\nkill -KILL $$\n' >"$T/fake/client"
    chmod +x "$T/fake/client"
    run --separate-stderr timeout "$CLIENT_LIMIT" "${LAB_WRAP[@]}" "$T/fake/server" hello
    assert_failure 1
    assert_equal "$stderr" "server: child $T/fake/client killed by signal 9 (Killed)"
}

# bats test_tags=memcheck
@test "server: a missing client is an exec error and exit 1" {
    mkdir "$T/fake"
    cp "$(bin 02-pipe/server)" "$T/fake/server"
    run --separate-stderr timeout "$CLIENT_LIMIT" "${LAB_WRAP[@]}" "$T/fake/server" hello
    assert_failure 1
    assert_equal "$stderr" "server: exec $T/fake/client: No such file or directory
server: child $T/fake/client exited with status 127"
}

@test "server: SIGTERM mid-transfer stops it and its child, exit 1" {
    mkfifo "$T/in"
    "${LAB_WRAP[@]}" "$(bin 02-pipe/server)" <"$T/in" >"$T/out" 2>"$T/err" 3>&- &
    pid=$!
    exec 5>"$T/in" # keep the server's stdin open: it waits for more input
    echo hello >&5
    wait_for_line "$T/out" '^HELLO$'
    child=$(sed -n '1s/.*child=//p' "$T/out")
    kill -TERM "$pid"
    wait_for_exit "$pid"
    status=0
    wait "$pid" || status=$?
    exec 5>&-
    assert_equal "$status" 1
    assert_equal "$(cat "$T/err")" 'server: interrupted by Terminated'
    run kill -0 "$child"
    assert_failure
}

# bats test_tags=usage,memcheck
@test "client: a filter from stdin to stdout" {
    printf 'Hello, World\nline 2' >"$T/in"
    run_client 02-pipe/client <"$T/in"
    assert_success
    assert_output "$(printf 'HELLO, WORLD\nLINE 2')"
}

# bats test_tags=usage
@test "client: empty input gives empty output" {
    run_client 02-pipe/client </dev/null
    assert_success
    assert_output ''
}

# bats test_tags=usage
@test "client: operands are a usage error, exit 2" {
    run_client 02-pipe/client hello
    assert_failure 2
    assert_equal "$stderr" "client: unexpected argument 'hello': the client is a filter, it reads stdin"
}

# bats test_tags=exchange,memcheck
@test "popen-demo: popen(3) runs the client, replies in order" {
    run_client 02-pipe/popen-demo hello 'popen(3) World'
    assert_success
    assert_output "$(printf 'HELLO\nPOPEN(3) WORLD')"
}

@test "popen-demo: copies stdin when given no MESSAGE" {
    printf 'a\nb\n' >"$T/in"
    run_client 02-pipe/popen-demo <"$T/in"
    assert_success
    assert_output "$(printf 'A\nB')"
}

# bats test_tags=usage
@test "every program: --help on stdout, exit 0; unknown option exit 2 with one line" {
    check_help_and_unknown_option 02-pipe server client popen-demo
}

# bats test_tags=exchange,mechanism
@test "mechanism: the text goes to the child through a pipe on its stdin (dup2, then execve), the reply back through one on its stdout" {
    trace_exchange --calls pipe2,dup2 -- 02-pipe/server hello
    carried server 'pipe2\(\[[0-9]+<pipe:\[[0-9]+\]>, [0-9]+<pipe:\[[0-9]+\]>\], O_CLOEXEC\) = 0' "the server makes its pipes with pipe2(ends, O_CLOEXEC)"
    carried child 'dup2\([0-9]+<pipe:\[[0-9]+\]>, 0<' "the child (before its exec) puts a pipe's read end on its stdin with dup2"
    carried child 'dup2\([0-9]+<pipe:\[[0-9]+\]>, 1<' "the child (before its exec) puts a pipe's write end on its stdout with dup2"
    carried child 'execve\("[^"]*/client", ' "the child execs the client, after its dup2s"
    local to from
    to=$(sed -En 's/^child +dup2\([0-9]+<pipe:\[([0-9]+)\]>, 0<.*/\1/p' "$T/trace")
    from=$(sed -En 's/^child +dup2\([0-9]+<pipe:\[([0-9]+)\]>, 1<.*/\1/p' "$T/trace")
    carried server "write\([0-9]+<pipe:\[$to\]>, \"hello\\\\n\"" "the server writes the text into the pipe that is the child's stdin (pipe:[$to])"
    carried client "read\(0<pipe:\[$to\]>, \"hello\\\\n\"" "the client reads the text from its stdin, that pipe"
    carried client "write\(1<pipe:\[$from\]>, \"HELLO\\\\n\"" "the client writes the reply to its stdout, the other pipe (pipe:[$from])"
    carried server "read\([0-9]+<pipe:\[$from\]>, \"HELLO\\\\n\"" "the server reads the reply from the pipe that is the child's stdout"
    carried server 'write\(1<stdout>, "HELLO\\n"' "the server prints the reply"
    carried_only_by hello "server +write\([0-9]+<pipe:\[$to\]>, " "client +read\(0<pipe:\[$to\]>, " \
        "client +write\(1<pipe:\[$from\]>, " "server +read\([0-9]+<pipe:\[$from\]>, " 'server +write\(1<stdout>, "HELLO\\n"'
}

# bats test_tags=exchange,mechanism
@test "mechanism: what the server prints is what its child wrote (a child that answers in rot13)" {
    # Another client beside a copy of the server: the server cannot know
    # its answer, so only what came back through the pipe can be printed.
    mkdir "$T/fake"
    cp "$(bin 02-pipe/server)" "$T/fake/server"
    printf '#!/bin/sh\nexec tr a-z n-za-m\n' >"$T/fake/client"
    chmod +x "$T/fake/client"
    LAB_BIN_ROOT=$T trace_exchange -- fake/server hello
    carried tr 'read\(0<pipe:\[[0-9]+\]>, "hello\\n"' "the child (here tr, the client's stand-in) reads the text from its stdin, a pipe"
    carried server 'read\([0-9]+<pipe:\[[0-9]+\]>, "uryyb\\n"' "the server reads the child's answer (uryyb) from a pipe"
    carried server 'write\(1<stdout>, "uryyb\\n"' "the server prints what its child wrote (uryyb, the stand-in's rot13 of hello), not a text of its own"
    carried_only_by hello 'server +write\([0-9]+<pipe:\[[0-9]+\]>, "hello\\n"' 'tr +read\(0<pipe:\[[0-9]+\]>, "hello\\n"'
}

# bats test_tags=exchange,mechanism
@test "mechanism: popen-demo: the text goes through popen's pipe into the client's stdin" {
    trace_exchange --calls pipe2 -- 02-pipe/popen-demo hello
    carried popen-demo 'pipe2\(\[[0-9]+<pipe:\[[0-9]+\]>, [0-9]+<pipe:\[[0-9]+\]>\], O_CLOEXEC\) = 0' "popen(3) makes a pipe (pipe2)"
    carried popen-demo 'write\([0-9]+<pipe:\[[0-9]+\]>, "hello\\n"' "popen-demo writes the text into the pipe popen gave it (fputs/fwrite on the FILE*)"
    carried client 'read\(0<pipe:\[[0-9]+\]>, "hello\\n"' "the client, run by popen's /bin/sh -c, reads the text from its stdin, the pipe"
    carried client 'write\(1<stdout>, "HELLO\\n"' "the client writes the reply straight to the demo's stdout (popen is one direction)"
    carried_only_by hello 'popen-demo +write\([0-9]+<pipe:\[[0-9]+\]>, "hello\\n"' 'client +read\(0<pipe:\[[0-9]+\]>, "hello\\n"' \
        'client +write\(1<stdout>, "HELLO\\n"'
}

# bats test_tags=exchange
@test "README: every transcript shows what the programs print" {
    check_transcripts 02-pipe
}
