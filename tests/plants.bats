#!/usr/bin/env bats
# plants: the mechanism checks bite. Each tests/plants/NN-*.patch rewrites a
# chapter so that what the exchange tests see stays the same while the data
# goes another way (a reply by a POSIX queue in the System V pair, a server
# that uppercases the text itself instead of its child...). Applied to a copy
# of the chapter and built there, the chapter's tests named on the patch's
# `Passes:` line pass, and those on its `Fails:` line (its mechanism tests)
# fail, saying what is missing. Not itself graded.
# bats file_tags=ungraded

load lab

setup() { lab_setup; }
teardown() { lab_teardown; }

# plant PATCH: copies what a chapter builds from (mk/, common/, the chapter)
# to $T/lab, applies PATCH there and builds the chapter; sets CHAPTER,
# PASSES, FAILS from the patch's header.
plant() {
    local patch=$LAB_ROOT/tests/plants/$1
    [[ ${IPC_LAB_VALGRIND-} != 1 && $LAB_BIN_ROOT == "$LAB_ROOT" ]] ||
        skip "plants are built and tried in the plain run only"
    CHAPTER=${1%%-[a-z]*}
    CHAPTER=$(cd "$LAB_ROOT" && echo "$CHAPTER"-*/)
    CHAPTER=${CHAPTER%/}
    PASSES=$(sed -n 's/^Passes: //p' "$patch")
    FAILS=$(sed -n 's/^Fails: //p' "$patch")
    [[ -n $PASSES && -n $FAILS && -d $LAB_ROOT/$CHAPTER ]] || fail "$1: no Passes:/Fails: line, or no chapter $CHAPTER"
    mkdir -p "$T/lab"
    (cd "$LAB_ROOT" && tar -c --exclude=.build --exclude="*.o" mk common tools/need tools/packages "$CHAPTER") | tar -x -C "$T/lab"
    (cd "$T/lab" && patch -s -p1 <"$patch") || fail "$1 does not apply"
    run timeout 300 make -s -C "$T/lab/$CHAPTER" -j2
    assert_success
}

# tried: the exchange tests pass on the plant, its mechanism tests fail
# naming what is missing or what else carried the data.
tried() {
    run timeout 300 env LAB_BIN_ROOT="$T/lab" bats --tap -f "$PASSES" "$LAB_ROOT/tests/$CHAPTER.bats"
    assert_success
    assert_output --regexp $'\nok '
    run timeout 300 env LAB_BIN_ROOT="$T/lab" bats --tap -f "$FAILS" "$LAB_ROOT/tests/$CHAPTER.bats"
    assert_failure
    assert_output --regexp $'\nnot ok '
    assert_output --regexp '# (missing: |the exchange.s text also went another way)'
    refute_output --regexp $'\nok '
}

@test "plant 06: System V replies by a POSIX queue: exchange tests pass, the mechanism check fails" {
    plant 06-sysv-reply-by-posix-queue.patch
    tried
}

@test "plant 02: the server prints its own uppercase copy, the child's reply dropped: exchange tests pass, the mechanism check fails" {
    plant 02-server-uppercases-itself.patch
    tried
}

@test "plant 07: System V replies by a FIFO beside the segment: exchange tests pass, the mechanism check fails" {
    plant 07-sysv-reply-by-fifo.patch
    tried
}

@test "plant 08: TCP replies by a Unix datagram: exchange tests pass, the mechanism check fails" {
    plant 08-tcp-reply-by-unix-datagram.patch
    tried
}
