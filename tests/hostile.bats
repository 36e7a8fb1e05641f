#!/usr/bin/env bats
# hostile: the grader survives hostile submissions (tools/grade's sandbox).
# Not itself graded.
#
# tests/hostile/make-submission makes a copy of this checkout in which seven
# chapters are hostile plants (a fork bomb, an endless loop, kill -9 -1, a
# writer into the grader's files, a daemon keeping the grader's descriptors,
# leftover IPC objects and files, a flood of output), each built by the
# chapter's own Makefile. Every plant first checks that it runs as the
# sandbox's unprivileged user with a process limit (tests/hostile/guard.hpp)
# and otherwise does nothing: the first test proves that check, the second
# grades the submission. Both skip where the sandbox cannot be made.
# bats file_tags=ungraded

load lab

setup() {
    lab_setup
    HOSTILE=$LAB_ROOT/tests/hostile
    IDS=524288 # tools/grade's GRADE_SANDBOX_IDS (default)
}
teardown() { lab_teardown; }

# The grade below runs the plants in tools/grade's namespaces sandbox, or
# not at all.
require_sandbox() {
    [[ ${IPC_LAB_VALGRIND-} != 1 && $LAB_BIN_ROOT == "$LAB_ROOT" ]] ||
        skip "the grader's hostile submissions are tried in the plain run only (they grade their own build)"
    ((EUID == 0)) || skip "needs root: the sandbox's user namespace maps uids $IDS and up"
    unshare "--map-users=$IDS,0,65536" "--map-groups=$IDS,0,65536" --setuid 0 --setgid 0 -- \
        bwrap --ro-bind / / --unshare-pid --unshare-ipc true 2>/dev/null ||
        skip "no namespaces sandbox here (tools/grade --setup-sandbox, packages bubblewrap and uidmap)"
}

@test "a hostile plant run outside the sandbox says so and does nothing" {
    chmod 755 "$T" # reachable by the sandbox's uid
    g++ -std=c++20 -o "$T/kill-all" "$HOSTILE/kill-all.cpp"
    g++ -std=c++20 -o "$T/fork-bomb" "$HOSTILE/fork-bomb.cpp"
    chmod 755 "$T/kill-all" "$T/fork-bomb" # run by the sandbox's uid too, whatever the umask
    # As this user (root in the CI), no limit.
    run --separate-stderr timeout 10 "$T/fork-bomb"
    assert_equal "$status" 3
    assert_equal "$stderr" "hostile fork-bomb: not in the grader's sandbox (uid $(id -u) outside, process limit not set): doing nothing"
    ((EUID == 0)) || return 0
    # As the sandbox's uid, but no process limit; then with one but outside
    # a PID namespace (kill -9 -1 would reach every process of that uid).
    run --separate-stderr timeout 10 setpriv "--reuid=$IDS" "--regid=$IDS" --clear-groups "$T/fork-bomb"
    assert_equal "$status" 3
    assert_equal "$stderr" "hostile fork-bomb: not in the grader's sandbox (uid $IDS outside, process limit not set): doing nothing"
    run --separate-stderr timeout 10 setpriv "--reuid=$IDS" "--regid=$IDS" --clear-groups \
        prlimit --nproc=64 "$T/kill-all"
    assert_equal "$status" 3
    assert_equal "$stderr" "hostile kill-all: not in the grader's sandbox (uid $IDS outside, process limit set, no PID namespace): doing nothing"
}

# IPC objects, POSIX names, files and processes a plant could have left on
# this machine, one a line (none: empty).
leftovers() {
    local kind
    for kind in msg sem shm; do
        # the plant's key 0x1ab0de (decimal here), or owned or made by the
        # sandbox's user
        awk -v ids="$IDS" 'NR > 1 { for (i = 2; i <= NF; i++) if ($1 == 1749214 || $i == ids) { print; next } }' \
            "/proc/sysvipc/$kind"
    done
    find /tmp /dev/shm -maxdepth 1 -name '*ipc-lab-hostile*' 2>/dev/null
    # shellcheck disable=SC2016 # expanded by that shell
    unshare --mount sh -c 'mount -t mqueue mqueue "$1" && ls "$1"' sh "$T/mq" 2>/dev/null | grep hostile
    pgrep -u "$IDS" -a || true
}
no_leftovers() { [[ -z $(leftovers) ]]; }

# chapter_of score|status CHAPTER: in $T/out/results.json, the sum of the
# chapter's test scores, or its tests' statuses (one of each, sorted).
chapter_of() {
    local pick='add'
    [[ $1 == status ]] && pick='unique | join(",")'
    jq -r --arg c "$2." "[.tests[] | select(.number | startswith(\$c)) | .$1] | $pick" "$T/out/results.json"
}

@test "a hostile submission: bounded, the grader's files unchanged, nothing left, only its chapters lose" {
    require_sandbox
    chmod 755 "$T" # the sandbox's uid reaches its copy and scratch under it
    "$HOSTILE/make-submission" "$LAB_ROOT" "$T/sub" >/dev/null
    mkdir -p "$T/mq"
    (cd "$LAB_ROOT" && find tests tools -type f -print0 | sort -z | xargs -0 sha256sum) >"$T/before"
    wait_until no_leftovers || true # the probe's sandbox is on its way out
    assert_equal "$(leftovers)" ""
    local files=() chapter
    for chapter in 01-file-locking 02-pipe 03-fifo 04-signal 05-semaphore 06-msgqueue 07-shm 09-mmap 10-dbus \
        11-namespaces; do
        files+=("$LAB_ROOT/tests/$chapter.bats")
    done
    # A smaller address space and file size (128 MiB: 02's tests write 100
    # MiB files) for the flood; fewer processes for the fork bomb to spin on.
    run timeout -k 10 900 env GRADE_DIR="$T/sub" GRADE_OUT="$T/out" GRADE_VALGRIND=0 \
        GRADE_FILE_LIMIT=30 GRADE_NPROC=128 GRADE_AS=1073741824 GRADE_FSIZE=134217728 GRADE_TESTS="${files[*]}" \
        "$LAB_ROOT/tools/grade"
    assert_success
    assert_line --partial "Sandbox: namespaces"
    # Every planted chapter scores 0; the others pass every test.
    for chapter in 01-file-locking 03-fifo 04-signal 05-semaphore 06-msgqueue 07-shm 09-mmap; do
        assert_equal "$chapter: $(chapter_of score "$chapter")" "$chapter: 0"
    done
    for chapter in 02-pipe 10-dbus 11-namespaces; do
        assert_equal "$chapter: $(chapter_of status "$chapter")" "$chapter: passed"
    done
    # Every test of those files is in results.json, none lost.
    run jq '.tests | length' "$T/out/results.json"
    assert_output "$(cat "${files[@]}" | grep -c '^@test ')"
    # The grader's tree and reports are as they were, nothing planted in them.
    (cd "$LAB_ROOT" && find tests tools -type f -print0 | sort -z | xargs -0 sha256sum) >"$T/after"
    run diff "$T/before" "$T/after"
    assert_success
    # The writer (05) tried the grader's tests and reports, and each was
    # refused; what it could write was its own run's scratch. It says which
    # on stderr, which the tests print when its server fails.
    local said=$T/out/runs/plain/05-semaphore.xml
    run grep -c -F "hostile writer: refused $LAB_ROOT/tests/05-semaphore.bats (" "$said"
    assert_success
    run grep -c -F "hostile writer: refused $T/out/results.json (" "$said"
    assert_success
    run grep -E "hostile writer: wrote ($LAB_ROOT/|$T/out/[a-z]+\.|$T/out/runs/(plain|memcheck)/)" "$said"
    assert_failure 1
    assert_equal "$(find "$LAB_ROOT" "$T/out" -name planted)" ""
    # Nothing left behind once the grade is over (the daemons and bombs went
    # with their PID namespaces).
    wait_until no_leftovers || true
    assert_equal "$(leftovers)" ""
}

# probe_grade: grades a probe chapter through the sandbox, under script(1)
# so that the grade has a controlling terminal, as one run from a shell
# has. Its tests: a program cannot open that terminal (/dev/tty), and it
# runs in the grade's own cpu cgroup. `run` holds what the grade printed.
# That shell is /bin/sh with root's hardened umask 077, here as everywhere
# (script runs $SHELL, or /bin/sh where it is unset): what this bats
# exports reaches the grade without its functions, and what the grade makes
# is closed to others unless it opens it.
probe_grade() {
    require_sandbox
    command -v script >/dev/null || skip "needs script (bsdutils)"
    chmod 755 "$T"
    # In the grade's output directory: the sandbox's /tmp is its own, and
    # that directory is bound into it (read-only).
    mkdir -p "$T/out/probe"
    # printf, not a here-document: bats would take its @test lines as this file's.
    printf '%s\n' '@test "no terminal" {' \
        '    if (exec 3<>/dev/tty) 2>/dev/null; then echo "opened the terminal"; false; fi' \
        '}' \
        '@test "own cgroup" {' \
        '    grep -E "^([0-9]+:([a-z,]*,)?cpu(,[a-z,]*)?|0:):/ipc-lab-grade\.[0-9]+$" /proc/self/cgroup' \
        '}' >"$T/out/probe/07-probe.bats"
    chmod -R a+rX "$T/out"
    run timeout -k 10 120 env SHELL=/bin/sh script -qec "umask 077; GRADE_OUT='$T/out' GRADE_VALGRIND=0 GRADE_TESTS='$T/out/probe/07-probe.bats' '$LAB_ROOT/tools/grade'" /dev/null </dev/null
    assert_success
    assert_line --partial "Sandbox: namespaces"
    assert_equal "$(jq -r '.tests | length' "$T/out/results.json")" 2
}

@test "a program in the sandbox cannot open the grader's terminal (no TIOCSTI into its shell)" {
    probe_grade
    # The grade itself had one: script gave it a terminal.
    run timeout 10 script -qec 'exec 3<>/dev/tty && echo has a terminal' /dev/null </dev/null
    assert_output --partial "has a terminal"
    run jq -r '.tests[] | select(.number == "07-probe.1") | "\(.status) \(.output)"' "$T/out/results.json"
    assert_output --partial "passed plain run: passed"
}

@test "a grade shares the CPU as one cgroup of its own (a fork bomb beside it gets one grade's share), removed after" {
    probe_grade
    local cgroup
    cgroup=$(grade_cgroup <<<"$output")
    [[ -n $cgroup ]] || skip "no cgroup here: $(grep -o 'CPU: .*' <<<"$output" | head -1)"
    [[ $cgroup == /sys/fs/cgroup/*/ipc-lab-grade.* || $cgroup == /sys/fs/cgroup/ipc-lab-grade.* ]] ||
        fail "not a grade's cgroup: '$cgroup'"
    run jq -r '.tests[] | select(.number == "07-probe.2") | "\(.status) \(.output)"' "$T/out/results.json"
    assert_output --partial "passed plain run: passed"
    [[ ! -e $cgroup ]] || fail "$cgroup is left after the grade"
}
