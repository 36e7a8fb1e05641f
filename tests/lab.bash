# lab.bash - what every chapter's tests share. In a .bats file:
#
#   load lab                      # this file; then setup/teardown below
#   setup()    { lab_setup; }
#   teardown() { lab_teardown; }
#
#   @test "..." {
#       start_server 03-fifo/server --name "$NAME"       # waits for `ready`
#       run_client 03-fifo/client --name "$NAME" hello   # `run` + timeout
#       assert_success; assert_output HELLO
#       echo "${READY[path]}"                           # ready line's pairs
#   }
#
# Each test gets its own short directory $T (IPC_LAB_DIR=$T/run) and its own
# instance name $NAME, so tests never see each other's objects - not even
# those of another run of the suite going on at the same time.
#
# Environment:
#   LAB_BIN_ROOT      where the chapters' programs are (default: this checkout;
#                     `make grade` and sanitizer builds point it elsewhere)
#   IPC_LAB_VALGRIND  1: every program the tests start runs under memcheck,
#                     one log per process, judged in teardown
#   LAB_TIME_SCALE    multiplies every bound (valgrind mode sets 4)
#   LAB_TRANSCRIPT_LIMIT  seconds a chapter's README transcripts may take
#                     (default 120, scaled); tools/handout-suite shortens it:
#                     against a handout a transcript may wait on a FIFO or a
#                     queue that no server will ever serve
#
# Stand-ins that a test writes for the other side of an exchange (a shell
# script posing as a client) go in $T/fake/: memcheck follows every child
# the lab's programs exec, but not those, nor system tools (/bin, /usr).

# The variables this file sets (NAME, READY, STOP_STATUS, ...) are read by
# the .bats files that load it, which shellcheck does not see.
# shellcheck disable=SC2034

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

LAB_ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
LAB_BIN_ROOT=${LAB_BIN_ROOT:-$LAB_ROOT}
if [[ ${IPC_LAB_VALGRIND-} == 1 ]]; then
    LAB_TIME_SCALE=${LAB_TIME_SCALE:-4}
else
    LAB_TIME_SCALE=${LAB_TIME_SCALE:-1}
fi

# Bounds, in seconds (already scaled).
CLIENT_LIMIT=$((10 * LAB_TIME_SCALE)) # a client that runs longer is killed
READY_LIMIT=$((5 * LAB_TIME_SCALE))   # a server that is not ready by then fails
STOP_LIMIT=$((5 * LAB_TIME_SCALE))    # a server that has not exited by then fails

# bin 03-fifo/client -> the program's path.
bin() { echo "$LAB_BIN_ROOT/$1"; }

lab_setup() {
    T=$(mktemp -d /tmp/ipl.XXXXXX) # short: Unix socket paths must fit 108 bytes
    export IPC_LAB_DIR=$T/run
    NAME=t${BATS_TEST_NUMBER}p$$
    SERVER_PIDS=()
    HELPER_PIDS=() # other processes a test started: SIGKILLed in teardown
    PLANTED_IPC=() # System V ids a test made ("-s ID"): removed in teardown
    LAB_WRAP=()
    if [[ ${IPC_LAB_VALGRIND-} == 1 ]]; then
        # shellcheck disable=SC2054 # the commas belong to valgrind's options
        LAB_WRAP=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
            --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect
            --track-fds=yes --trace-children=yes --trace-children-skip="/bin/*,/usr/*,$T/fake/*"
            --log-file="$T/vg.%p.log")
    fi
}

# lab_exec PROGRAM ARGS...: runs a lab program (under memcheck in valgrind
# mode), bounded by CLIENT_LIMIT. Use with `run`, or directly in a pipeline.
lab_exec() {
    local program=$1
    shift
    timeout -k 2 "$CLIENT_LIMIT" "${LAB_WRAP[@]}" "$(bin "$program")" "$@"
}

# run_client PROGRAM ARGS...: `run` with stdout and stderr kept apart
# ($output, $stderr), bounded like lab_exec.
run_client() {
    run --separate-stderr lab_exec "$@"
}

# start_server PROGRAM ARGS...: starts a server in the background and waits
# (bounded) for its `ready` line. Sets SERVER_PID, SERVER_LOG (stdout),
# SERVER_ERR (stderr), READY_LINE, and READY[key] for each key=value pair.
# The server's stdin is /dev/null; fd 3 is closed or bats would wait for it.
declare -gA READY # -g: bats sources this file inside a function
start_server() {
    local program=$1
    shift
    local n=${#SERVER_PIDS[@]}
    SERVER_LOG=$T/server.$n.out
    SERVER_ERR=$T/server.$n.err
    "${LAB_WRAP[@]}" "$(bin "$program")" "$@" >"$SERVER_LOG" 2>"$SERVER_ERR" </dev/null 3>&- &
    SERVER_PID=$!
    SERVER_PIDS+=("$SERVER_PID")
    # Over as soon as the server is gone without a ready line: one that stops
    # at an error (or at a handout's stub) is not waited for.
    local waited=0
    wait_for_line "$SERVER_LOG" '^ready ' "$READY_LIMIT" "$SERVER_PID" || waited=$?
    if ((waited != 0)); then
        if ((waited == 2)); then
            echo "server $program $* exited before its ready line; stderr:" >&2
        else
            echo "server $program $* not ready within ${READY_LIMIT}s; stderr:" >&2
        fi
        cat "$SERVER_ERR" >&2
        return 1
    fi
    READY_LINE=$(head -n 1 "$SERVER_LOG")
    READY=()
    local pair
    for pair in ${READY_LINE#ready }; do
        READY[${pair%%=*}]=${pair#*=}
    done
}

# start_server_expect_failure PROGRAM ARGS...: for servers that must refuse
# to start; `run` semantics ($status, $output, $stderr).
run_server() {
    run --separate-stderr timeout -k 2 "$READY_LIMIT" "${LAB_WRAP[@]}" "$(bin "$1")" "${@:2}" 3>&-
}

# wait_for_line FILE REGEX [SECONDS [PID]]: waits, bounded, until a line of
# FILE matches the extended REGEX. Returns 1 on timeout; given PID, returns
# 2 as soon as that process is gone without the line (no use waiting on).
wait_for_line() {
    local file=$1 regex=$2 limit=${3:-$READY_LIMIT} pid=${4-}
    local deadline=$((SECONDS + limit + 1))
    until grep -Eq -- "$regex" "$file" 2>/dev/null; do
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            grep -Eq -- "$regex" "$file" 2>/dev/null && return 0 # the line, then exit
            return 2
        fi
        ((SECONDS < deadline)) || return 1
        sleep 0.02
    done
}

# wait_for_lines FILE REGEX COUNT [SECONDS]: waits, bounded, until at least
# COUNT lines of FILE match the extended REGEX: before a test counts what a
# program logs, or stops it, every event it counts must have happened (the
# first of them is not enough). Returns 1 on timeout.
wait_for_lines() {
    local file=$1 regex=$2 count=$3 limit=${4:-$READY_LIMIT}
    local deadline=$((SECONDS + limit + 1))
    until (($(grep -Ec -- "$regex" "$file" 2>/dev/null) >= count)); do
        ((SECONDS < deadline)) || return 1
        sleep 0.02
    done
}

# wait_until COMMAND...: runs COMMAND until it succeeds, bounded by
# READY_LIMIT. Returns 1 on timeout. For conditions with no log line to wait
# for (a file appears, a lock shows in /proc/locks, a queue fills).
wait_until() {
    local deadline=$((SECONDS + READY_LIMIT + 1))
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.02
    done
}

# ---- A process's own state, from /proc: what a test waits for before it
# signals a process, instead of a pause that is long enough only on an idle
# machine (memcheck runs programs ~50 times slower, and the other core may be
# busy).

# proc_state PID: the one-letter state (R, S, D, T, t, Z) of process PID, or
# nothing when it is gone. Read after the ") " that closes the command name,
# which may itself hold spaces.
proc_state() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    echo "${stat%% *}"
}

# asleep_in PID REGEX: true when process PID sleeps in the kernel (state S or
# D) in a wait whose channel (/proc/PID/wchan: futex_wait_queue, wq_sleep,
# do_msgrcv, do_semtimedop, do_sys_poll...) matches the extended REGEX. For a
# client that has sent its request and waits for the reply: check what it
# wrote first, then this, and its next sleep can only be that wait.
asleep_in() {
    [[ $(proc_state "$1") == [SD] ]] && grep -Eq -- "$2" "/proc/$1/wchan" 2>/dev/null
}

# is_stopped PID: true when process PID is stopped (SIGSTOP).
is_stopped() { [[ $(proc_state "$1") == T ]]; }

# is_zombie PID: true when process PID has exited and nobody reaped it yet.
is_zombie() { [[ $(proc_state "$1") == Z ]]; }

# syscall_of PID: the number of the system call PID is in (/proc/PID/syscall,
# also while it is stopped inside one), -1 when it is in user space, or
# "running".
syscall_of() {
    local call
    read -r call _ <"/proc/$1/syscall" 2>/dev/null || return 0
    echo "$call"
}

# describe_process PID [FILE...]: prints to stderr (shown when the test
# fails) where process PID is - state, wait channel, system call - and then
# each FILE (its stderr, the exchange file): a bounded wait that runs out
# says what the process was doing instead of only that it did not get there.
describe_process() {
    local pid=$1 file
    echo "process $pid: state=$(proc_state "$pid") wchan=$(cat "/proc/$pid/wchan" 2>/dev/null) syscall=$(syscall_of "$pid")" >&2
    for file in "${@:2}"; do
        echo "--- $file:" >&2
        head -c 2000 "$file" >&2 2>/dev/null
    done
}

# stop_while_asleep PID REGEX: stops process PID (SIGSTOP) inside the wait
# that REGEX names (see asleep_in), bounded by READY_LIMIT. A server stopped
# anywhere else (right after its ready line, still setting up; between two
# ticks of its wait) runs on when it is continued, and may answer a request
# queued meanwhile before it sees a SIGTERM sent while it was stopped; one
# stopped inside its wait is interrupted at once (EINTR). So: wait until it
# sleeps there, stop it, and check that it stopped in that same system call;
# if it had moved on, continue it and try again. (It may still leave that
# call the moment it is continued, as if its wait had timed out: a timeout
# that expires while the stop is being delivered wins. So a test relies on
# this only for what does not depend on which of the two happened, and the
# program must do the same right thing after a timed-out wait.)
stop_while_asleep() {
    local pid=$1 regex=$2 call deadline=$((SECONDS + READY_LIMIT + 1))
    while ((SECONDS < deadline)); do
        # the call read between two looks that find it asleep in that wait
        if asleep_in "$pid" "$regex" && call=$(syscall_of "$pid") && asleep_in "$pid" "$regex"; then
            kill -STOP "$pid"
            wait_until is_stopped "$pid" || return 1
            if [[ $call =~ ^[0-9]+$ && $(syscall_of "$pid") == "$call" ]]; then
                return 0
            fi
            kill -CONT "$pid"
        fi
        sleep 0.02
    done
    echo "process $pid never stopped asleep in /$regex/ within ${READY_LIMIT}s" >&2
    return 1
}

# wait_for_exit PID [SECONDS]: waits, bounded, for a process to be gone.
wait_for_exit() {
    local pid=$1 limit=${2:-$STOP_LIMIT}
    local deadline=$((SECONDS + limit + 1))
    while kill -0 "$pid" 2>/dev/null; do
        ((SECONDS < deadline)) || return 1
        sleep 0.02
    done
}

# stop_server [PID] [SIGNAL]: sends SIGTERM (or SIGNAL) and waits, bounded,
# for the server to exit; sets STOP_STATUS to its exit status. Fails if it
# does not exit in time (it is then killed).
stop_server() {
    local pid=${1:-$SERVER_PID} signal=${2:-TERM}
    kill -CONT "$pid" 2>/dev/null || true # a test that stopped it may have failed
    kill "-$signal" "$pid" 2>/dev/null || true
    if ! wait_for_exit "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        echo "server $pid did not exit within ${STOP_LIMIT}s of SIG$signal" >&2
        return 1
    fi
    STOP_STATUS=0
    wait "$pid" 2>/dev/null || STOP_STATUS=$?
}

# Memcheck's verdict on every log of this test: errors (invalid accesses,
# uninitialised values, definite or indirect leaks) or a descriptor still
# open at exit that the program opened itself (one with a backtrace rather
# than "<inherited from parent>").
lab_check_valgrind_logs() {
    local log bad=0
    for log in "$T"/vg.*.log; do
        [[ -e $log ]] || continue
        if grep -Eq 'ERROR SUMMARY: [1-9]' "$log"; then
            echo "memcheck errors in $log:" >&2
            cat "$log" >&2
            bad=1
        fi
        if awk '/Open (file descriptor|AF_[A-Z0-9]+ socket) [0-9]+/ { entry = 1; next }
                entry && /<inherited from parent>/ { entry = 0; next }
                entry && /(at|by) 0x/ { leaked = 1 }
                { entry = 0 }
                END { exit !leaked }' "$log"; then
            echo "descriptor left open at exit in $log:" >&2
            cat "$log" >&2
            bad=1
        fi
    done
    return "$bad"
}

# check_transcripts CHAPTER [--session-bus]: every ```console block of the
# chapter's README, run in order against the programs under test, prints
# what the README shows (tests/transcript, on top of cram). Not under
# memcheck: the transcripts run the programs themselves, natively.
check_transcripts() {
    local chapter=$1
    shift
    if [[ ${IPC_LAB_VALGRIND-} == 1 ]]; then
        skip "README transcripts are checked by the plain and sanitizer runs"
    fi
    run timeout -k 2 "${LAB_TRANSCRIPT_LIMIT:-$((120 * LAB_TIME_SCALE))}" "$LAB_ROOT/tests/transcript" "$@" \
        "$LAB_ROOT/$chapter/README.md" "$LAB_BIN_ROOT/$chapter"
    if ((status == 3)); then
        skip "README transcripts need private namespaces (root and unshare; not in a chroot)"
    fi
    assert_success
}

# Mechanism checks: from a trace of one exchange, the data went through the
# chapter's mechanism, on the right side, and through nothing else.
#
#   trace_exchange --server "06-msgqueue/server --name $NAME" -- 06-msgqueue/client --name "$NAME" hello
#   carried client 'msgrcv\(msqid, \{mtype=<client>, mtext="HELLO' "the reply reached the client by msgrcv"
#   carried_only_by hello 'client +msgsnd\(msqid' ... '(server|client) +write\(1<stdout>'
#
# trace_exchange [--server 'CHAPTER/PROGRAM ARGS'] [tools/trace options] --
# CHAPTER/PROGRAM ARGS...: runs the programs under test once under strace
# (tools/trace --data: the options' calls, and every call that can carry
# bytes between processes), the server first; the trace's lines, labelled by
# role, go to $T/trace. Not under memcheck: strace and valgrind do not stack.
trace_exchange() {
    if [[ ${IPC_LAB_VALGRIND-} == 1 ]]; then
        skip "mechanism checks trace the programs with strace, which does not stack with memcheck; the plain, sanitizer and graded runs make them"
    fi
    local options=()
    while (($# > 0)) && [[ $1 != -- ]]; do
        if [[ $1 == --server ]]; then
            options+=(--server "$LAB_BIN_ROOT/$2")
            shift
        else
            options+=("$1")
        fi
        shift
    done
    shift
    run --separate-stderr timeout -k 2 $((3 * CLIENT_LIMIT)) "$LAB_ROOT/tools/trace" --data \
        --timeout "$CLIENT_LIMIT" "${options[@]}" -- "$(bin "$1")" "${@:2}" 3>&-
    printf '%s\n' "$output" >"$T/trace"
    if ((status != 0)); then
        fail "tools/trace failed (status $status): $stderr"
    fi
}

# carried ROLE REGEX WHAT: a line of ROLE in $T/trace matches the extended
# REGEX (after the role's label); otherwise the test fails with "missing:
# WHAT" and the lines that did carry the exchange's text.
carried() {
    grep -Eq -- "^$1 +$2" "$T/trace" && return 0
    fail "missing: $3
the lines of the trace that carried the exchange's text (hello, HELLO):
$(grep -i 'hello' "$T/trace" | sed 's/^/  /')"
}

# carried_only_by TEXT REGEX...: every line of $T/trace whose call holds
# TEXT (in any case) matches one of the extended REGEXes (role included);
# otherwise the test fails naming what else carried it.
carried_only_by() {
    local text=$1 line regex allowed extra=()
    shift
    while IFS= read -r line; do
        allowed=0
        for regex in "$@"; do
            [[ $line =~ ^$regex ]] && allowed=1 && break
        done
        ((allowed)) || extra+=("  $line")
    done < <(grep -i -- "$text" "$T/trace")
    ((${#extra[@]} == 0)) && return 0
    fail "the exchange's text also went another way than the chapter's mechanism:
$(printf '%s\n' "${extra[@]}")"
}

# carried_in_order ROLE WHAT REGEX...: ROLE's lines in $T/trace match the
# extended REGEXes (after the role's label) in this order, other lines
# between allowed (a post after the write, a read after the wait);
# otherwise the test fails with "missing: WHAT", the first REGEX not found
# in that order, and ROLE's lines.
carried_in_order() {
    local role=$1 what=$2 regex index=0 found lines=()
    shift 2
    mapfile -t lines < <(grep -E -- "^$role +" "$T/trace" | sed -E "s/^$role +//")
    for regex in "$@"; do
        found=0
        while ((index < ${#lines[@]})); do
            index=$((index + 1))
            if [[ ${lines[index - 1]} =~ ^$regex ]]; then
                found=1
                break
            fi
        done
        ((found)) && continue
        fail "missing: $what
not found, in this order: $regex
the lines of $role in the trace:
$(printf '  %s\n' "${lines[@]}")"
    done
}

# check_help_and_unknown_option CHAPTER PROGRAM...: each PROGRAM prints its
# usage on stdout with --help (exit 0, stderr empty) and refuses an unknown
# option with exit 2, nothing on stdout and the one line common/options
# writes. (tests/common.bats checks every server and client the same way;
# a chapter calls this for its own programs, demos included.)
check_help_and_unknown_option() {
    local chapter=$1 program
    shift
    for program in "$@"; do
        run_client "$chapter/$program" --help
        assert_success
        assert_line -n 0 --partial "usage: $program"
        assert_equal "$stderr" ''
        run_client "$chapter/$program" --frobnicate
        assert_failure 2
        assert_equal "$output" ''
        assert_equal "$stderr" "$program: unknown option '--frobnicate' (try --help)"
    done
}

# check_bad_names CHAPTER PROGRAM...: each PROGRAM refuses a --name the
# contract does not allow (empty, hidden, with a slash or a space, 41
# characters) with exit 2, nothing on stdout and one stderr line
# "PROGRAM: bad name 'NAME'...".
check_bad_names() {
    local chapter=$1 program bad
    shift
    for program in "$@"; do
        for bad in '' .hidden 'a/b' 'sp ace' "$(printf 'n%.0s' {1..41})"; do
            run_client "$chapter/$program" --name "$bad"
            assert_failure 2
            assert_equal "$output" ''
            assert_regex "$stderr" "^$program: bad name '"
            [[ $stderr != *$'\n'* ]] || fail "more than one line: $stderr"
        done
    done
}

# check_second_server_refused CHAPTER STDERR_REGEX: a server of $NAME runs; a
# second one of the same NAME exits 1 with one stderr line matching
# STDERR_REGEX (anchor it; @PID@ in it stands for the first server's pid),
# and the first still answers a client.
check_second_server_refused() {
    local chapter=$1 expected=$2
    start_server "$chapter/server" --name "$NAME"
    run_server "$chapter/server" --name "$NAME"
    assert_failure 1
    assert_regex "$stderr" "${expected//@PID@/$SERVER_PID}"
    run_client "$chapter/client" --name "$NAME" still
    assert_success
    assert_output STILL
}

# plant_key_file TOPIC LABEL=ID...: the NAME.key a killed System V server
# of TOPIC leaves (common/sysv_key.hpp): one record per LABEL=ID, the id
# right-aligned in ten columns ("semid=         7").
plant_key_file() {
    local topic=$1 record
    mkdir -m 700 "$IPC_LAB_DIR" "$IPC_LAB_DIR/$topic"
    for record in "${@:2}"; do
        printf '%s=%10s\n' "${record%%=*}" "${record#*=}"
    done >"$IPC_LAB_DIR/$topic/$NAME.key"
}

# plant_others_object TOPIC PROJECT LABEL: a leftover NAME.key (as
# plant_key_file) whose LABEL record (semid or msqid) names an object that
# has the very key ftok(NAME.key, PROJECT) gives, but was made by another
# user (nobody): not a killed server's, whatever its key says. Sets
# OTHERS_ID; the object is removed in teardown. Skips where this test
# cannot run a program as another user.
plant_others_object() {
    local topic=$1 project=$2 label=$3 key
    command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
    setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null ||
        skip "cannot run a program as another user (needs CAP_SETUID)"
    plant_key_file "$topic" "$label="
    key=$(python3 -c 'import ctypes, sys
print(ctypes.CDLL(None).ftok(sys.argv[1].encode(), ord(sys.argv[2])))' \
        "$IPC_LAB_DIR/$topic/$NAME.key" "$project")
    # shellcheck disable=SC2016 # perl code
    OTHERS_ID=$(setpriv --reuid=65534 --regid=65534 --clear-groups perl -MIPC::SysV=IPC_CREAT,IPC_EXCL -e '
        my ($label, $key) = @ARGV;
        my $flags = IPC_CREAT | IPC_EXCL | 0600;
        my $id = $label eq "semid" ? semget($key, 1, $flags) : msgget($key, $flags);
        print defined $id ? $id + 0 : -1' "$label" "$key")
    ((OTHERS_ID >= 0)) || fail "nobody could not make a $label under key $key"
    local flag=-q
    [[ $label != semid ]] || flag=-s
    PLANTED_IPC+=("$flag $OTHERS_ID")
    # really under NAME.key's key, and really nobody's
    assert_regex "$(ipcs "$flag" | awk -v id="$OTHERS_ID" '$2 == id')" "^$(printf '0x%08x' "$key") +$OTHERS_ID +nobody "
    # the record, rewritten in place: NAME.key keeps its inode, so its key
    printf '%s=%10s\n' "$label" "$OTHERS_ID" >"$IPC_LAB_DIR/$topic/$NAME.key"
}

# in_mq_view COMMAND...: COMMAND in a private mount namespace with the
# mqueue filesystem (the POSIX queues of our IPC namespace) mounted at
# $T/mq; nothing outside this test sees that mount. need_mq_view skips the
# test where it cannot be made.
in_mq_view() {
    mkdir -p "$T/mq"
    # shellcheck disable=SC2016 # $0 and $@ are the inner shell's
    unshare --mount sh -c 'mount -t mqueue mqueue "$0" && exec "$@"' "$T/mq" "$@"
}
need_mq_view() {
    in_mq_view true 2>/dev/null || skip "cannot mount the mqueue filesystem (needs root and unshare)"
}

# can_unshare_mount: a private mount namespace can be made here (root, or
# CAP_SYS_ADMIN in a user namespace that owns one).
can_unshare_mount() { unshare -m true 2>/dev/null; }

# set_sem_count FILE OFFSET VALUE / sem_count FILE OFFSET: a same-user
# program scribbling on a sem_t in a mapped object (07, 09). On x86-64
# glibc a sem_t's count is the low 32 bits of its first 8 bytes.
set_sem_count() {
    python3 -c 'import mmap, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDWR)
with mmap.mmap(fd, 0) as m:
    m[int(sys.argv[2]):int(sys.argv[2]) + 4] = struct.pack("<I", int(sys.argv[3], 0))' "$@"
}
sem_count() {
    python3 -c 'import mmap, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
with mmap.mmap(fd, 0, prot=mmap.PROT_READ) as m:
    print(struct.unpack("<I", m[int(sys.argv[2]):int(sys.argv[2]) + 4])[0])' "$@"
}

# lab_teardown [COMMAND...]: stops what the test started, then runs COMMAND
# (a chapter's removal of what a failed test left), then judges the
# valgrind logs and removes $T. COMMAND comes after the servers are gone: a
# server whose object is removed under it exits on its own (exit 1), and the
# SIGTERM meant to stop it would then land in the middle of its cleanup.
lab_teardown() {
    local pid failed=0
    for pid in "${HELPER_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    for pid in "${SERVER_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            stop_server "$pid" || failed=1
        fi
    done
    if (($# > 0)); then
        "$@" || failed=1
    fi
    local planted
    for planted in "${PLANTED_IPC[@]}"; do # "-s ID": made by plant_others_object or ipcmk
        # shellcheck disable=SC2086 # the option and the id, two words
        ipcrm $planted 2>/dev/null || true
    done
    if [[ ${IPC_LAB_VALGRIND-} == 1 ]]; then
        lab_check_valgrind_logs || failed=1
    fi
    rm -rf "$T"
    return "$failed"
}

# grade_cgroup: the cpu cgroup a tools/grade run says it had, read from its
# output on stdin ("grade: CPU: a cgroup of its own (PATH), ..."); nothing
# when it had none.
grade_cgroup() { sed -n 's/^grade: CPU: a cgroup of its own (\([^)]*\)),.*/\1/p' | head -n 1; }

# ---- pid reuse, on purpose: a private pid namespace ------------------------
# In a new pid namespace pids start at 1 and are handed out in order, and
# root there may write N-1 to /proc/sys/kernel/ns_last_pid so that the next
# process gets pid N. A dead process's pid can so be given to a new one at
# once, where the host would need the whole pid space to wrap.

# Skips the test unless this user can make such a namespace and set its
# ns_last_pid (a capability question: root in the initial user namespace).
require_pid_namespace() {
    unshare --pid --fork --mount-proc sh -c 'echo 1 >/proc/sys/kernel/ns_last_pid' 2>/dev/null ||
        skip "needs a private pid namespace with a writable ns_last_pid (root: unshare --pid --fork --mount-proc)"
}

# in_pid_namespace SCRIPT: runs the bash SCRIPT as pid 1 of a new pid (and
# mount, for its own /proc) namespace, bounded; when it ends the kernel kills
# whatever is left in the namespace. The script sees $T, $NAME, $IPC_LAB_DIR,
# LAB_BIN_ROOT and READY_LIMIT, and can call bin, wait_for_line, wait_until,
# wait_for_exit and next_pid_is. Its programs run without memcheck (pids are
# the point here). Use with `run`.
in_pid_namespace() {
    export T NAME IPC_LAB_DIR LAB_BIN_ROOT READY_LIMIT STOP_LIMIT
    export -f bin wait_for_line wait_until wait_for_exit next_pid_is
    timeout -k 2 "$((30 * LAB_TIME_SCALE))" \
        unshare --pid --fork --mount-proc --kill-child bash -euo pipefail -c "$1"
}

# next_pid_is N: (inside in_pid_namespace) the next process made gets pid N,
# if nothing else forks first: start it right after, with no $(...) between.
# It starts at least two clock ticks after any process before it: a program
# tells a pid's reuse by /proc/PID/stat's start time, in ticks (1/100 s),
# and a real reuse comes once the pid counter has gone round, far later.
# Reused within the dead process's own tick, its start time was the same:
# 05's posix-server took the new process for the dead holder in 1 run of 20.
next_pid_is() {
    sleep 0.02
    echo "$(($1 - 1))" >/proc/sys/kernel/ns_last_pid
}
