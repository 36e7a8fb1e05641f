#!/usr/bin/env bats
# bench: ipc-bench - every mechanism measured, every message checked.
#
# Timing is never asserted here (the machine is shared): what is asserted is
# that every check passes, that a damaged message is caught, that the output
# has what it promises, and that nothing is left behind. Not graded: a
# rewrite without the benchmark loses no points.
# bats file_tags=ungraded

load lab

setup() { lab_setup; }
teardown() {
    if [[ -n ${BENCH_PID-} ]] && kill -0 "$BENCH_PID" 2>/dev/null; then
        kill -KILL "$BENCH_PID" 2>/dev/null || true
        wait "$BENCH_PID" 2>/dev/null || true
    fi
    lab_teardown
}

# Mechanisms with a latency figure, and those with a throughput figure.
LATENCY=(file-lock pipe fifo signal sysv-sem posix-sem sysv-msg posix-mq sysv-shm posix-shm
    shm-futex unix-stream unix-dgram tcp udp mmap-file eventfd)
THROUGHPUT=(pipe fifo sysv-msg posix-mq sysv-shm posix-shm shm-futex unix-stream unix-dgram tcp
    udp mmap-file memcpy)
NO_PAYLOAD=(file-lock sysv-sem posix-sem)

# bench ARGS...: `run` ipc-bench, stdout and stderr apart, with a bound of
# its own (a whole run takes longer than one client exchange).
bench() {
    run --separate-stderr timeout -k 2 $((60 * LAB_TIME_SCALE)) \
        "${LAB_WRAP[@]}" "$(bin bench/ipc-bench)" "$@"
}

# Asserts that every object named by --verbose ("made ...") is gone.
assert_objects_gone() {
    local log=$1 kind id path made=0
    declare -A listing=([semid]=-s [msqid]=-q [shmid]=-m)
    while read -r kind id; do
        made=$((made + 1))
        # (ipcs -i ID exits 0 even for an id that is gone: read the list)
        if ipcs "${listing[$kind]}" | awk -v id="$id" '$2 == id { found = 1 } END { exit !found }'; then
            echo "left behind: $kind $id" >&2
            return 1
        fi
    done < <(sed -n 's/^ipc-bench: made \(semid\|msqid\|shmid\) \([0-9]*\)$/\1 \2/p' "$log")
    while read -r path; do
        made=$((made + 1))
        if [[ -e $path ]]; then
            echo "left behind: $path" >&2
            return 1
        fi
    done < <(sed -n 's/^ipc-bench: made \(\/.*\)$/\1/p' "$log")
    ((made > 0)) || { echo "no 'made' line in $log" >&2; return 1; }
}

@test "--verify: every mechanism passes its checks, both metrics" {
    bench --verify --csv "$T/verify.csv"
    assert_success
    assert_equal "$stderr" ''
    local mechanism
    for mechanism in "${LATENCY[@]}"; do
        assert_line --regexp "^\| $mechanism \| [^|]+ \| [^|]+ \| checked \| 100 \|"
        grep -q "^$mechanism,latency," "$T/verify.csv"
    done
    for mechanism in "${THROUGHPUT[@]}"; do
        assert_line --regexp "^\| $mechanism \|.*\| checked \| [0-9]+ \|$"
        grep -q "^$mechanism,throughput," "$T/verify.csv"
    done
    refute_output --partial FAILED
}

@test "--verify --corrupt: a damaged message is caught by every mechanism that carries one" {
    bench --verify --corrupt
    assert_failure 1
    local mechanism
    for mechanism in "${LATENCY[@]}"; do
        if [[ " ${NO_PAYLOAD[*]} " == *" $mechanism "* ]]; then
            assert_line --regexp "^\| $mechanism \| [^|]+ \| [^|]+ \| no data to damage \|"
            continue
        fi
        grep -Eq "^ipc-bench: $mechanism latency: checksum mismatch in round trip [0-9]+ " \
            <<<"$stderr"
    done
    for mechanism in "${THROUGHPUT[@]}"; do
        grep -Eq "^ipc-bench: $mechanism throughput: checksum mismatch in chunk [0-9]+ " \
            <<<"$stderr"
    done
    # nothing but the mismatches: no side that merely saw the other one die
    assert_equal "$(grep -vc 'checksum mismatch' <<<"$stderr")" 0
    assert_output --partial "27 of 30 measurements FAILED"
}

@test "the output names the placement, the CPU model, the kernel and the load" {
    bench --verify --only pipe --metric latency
    assert_success
    local cpu
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
    assert_line --regexp '^- placement: same \(both sides on CPU [0-9]+\)$'
    assert_line --partial "- machine: $cpu ("
    assert_line --partial "Linux $(uname -r) $(uname -m)"
    assert_line --regexp '^- load average: [0-9.]+ [0-9.]+ [0-9.]+ at start, [0-9.]+ [0-9.]+ [0-9.]+ at end$'
}

@test "--pin cross and --pin none: the checks pass and the output says where" {
    if (($(nproc) < 2)); then
        skip "one CPU"
    fi
    bench --verify --pin cross --only pipe,shm-futex,sysv-sem
    assert_success
    assert_line --regexp '^- placement: cross \(side A on CPU [0-9]+, side B on CPU [0-9]+\)$'
    bench --verify --pin none --only pipe,shm-futex,sysv-sem
    assert_success
    assert_line '- placement: none (the scheduler places both sides)'
}

@test "--csv: the promised columns, a row per figure, numbers where numbers go" {
    bench --verify --csv "$T/out.csv"
    assert_success
    assert_equal "$(head -n 1 "$T/out.csv")" "mechanism,metric,size_bytes,count,median,p99,unit"
    assert_equal "$(wc -l <"$T/out.csv")" $((1 + ${#LATENCY[@]} + ${#THROUGHPUT[@]}))
    run awk -F, 'NR > 1 && !($2 == "latency" && $7 == "us" || $2 == "throughput" && $7 == "MiB/s") ||
                 NR > 1 && ($3 !~ /^[0-9]+$/ || $4 !~ /^[1-9][0-9]*$/ || $5 !~ /^[0-9.]+$/ || $6 !~ /^[0-9.]+$/ || $5 <= 0)' \
        "$T/out.csv"
    assert_output ''
    grep -q '^pipe,latency,64,100,' "$T/out.csv"
    grep -q '^pipe,throughput,65536,' "$T/out.csv"
}

@test "--quick: every figure, in a run of seconds" {
    if [[ ${IPC_LAB_VALGRIND-} == 1 ]]; then
        skip "hundreds of MiB under memcheck"
    fi
    bench --quick --csv "$T/quick.csv"
    assert_success
    assert_equal "$(wc -l <"$T/quick.csv")" $((1 + ${#LATENCY[@]} + ${#THROUGHPUT[@]}))
    grep -q '^pipe,latency,64,2000,' "$T/quick.csv"
}

@test "nothing is left behind: every object made is gone after the run" {
    bench --verify --verbose
    assert_success
    printf '%s\n' "$stderr" >"$T/made"
    grep -q '^ipc-bench: made semid ' "$T/made"
    grep -q '^ipc-bench: made msqid ' "$T/made"
    grep -q '^ipc-bench: made shmid ' "$T/made"
    grep -q "^ipc-bench: made $IPC_LAB_DIR/bench/.*\.fifo$" "$T/made"
    assert_objects_gone "$T/made"
    assert_equal "$(ls -A "$IPC_LAB_DIR/bench")" ''
}

# start_bench ARGS...: ipc-bench in the background; BENCH_PID, BENCH_ERR.
start_bench() {
    BENCH_ERR=$T/bench.err
    "${LAB_WRAP[@]}" "$(bin bench/ipc-bench)" "$@" >"$T/bench.out" 2>"$BENCH_ERR" </dev/null 3>&- &
    BENCH_PID=$!
}

interrupt_test() { # SIGNAL MECHANISM WHAT-IT-MAKES
    local signal=$1 mechanism=$2 made=$3
    start_bench --verbose --only "$mechanism" --metric latency --round-trips 10000000
    wait_for_line "$BENCH_ERR" "^ipc-bench: running $mechanism latency$" || fail "never ran"
    wait_for_line "$BENCH_ERR" "^ipc-bench: made $made" || fail "made nothing"
    # both sides up (a bounded wait: they exist once the run is under way)
    local sides=() deadline=$((SECONDS + READY_LIMIT))
    until ((${#sides[@]} == 2)) || ((SECONDS > deadline)); do
        mapfile -t sides < <(pgrep -P "$BENCH_PID")
        sleep 0.02
    done
    stop_server "$BENCH_PID" "$signal"
    assert_equal "$STOP_STATUS" 130
    grep -q '^ipc-bench: interrupted$' "$BENCH_ERR"
    local side
    for side in "${sides[@]}"; do
        if kill -0 "$side" 2>/dev/null; then
            fail "side $side still running"
        fi
    done
    assert_objects_gone "$BENCH_ERR"
}

@test "SIGINT mid-run: both sides killed, objects removed, exit 130" {
    interrupt_test INT sysv-sem semid
}

@test "SIGTERM mid-run: the same (System V queue, FIFOs)" {
    interrupt_test TERM sysv-msg msqid
    interrupt_test TERM fifo /
}

@test "--help, and bad options exit 2 with one line" {
    bench --help
    assert_success
    assert_output --partial "usage: ipc-bench"
    assert_output --partial "--pin WHERE"
    bench --pin sideways
    assert_failure 2
    assert_equal "$stderr" "ipc-bench: bad value 'sideways' for --pin: want same, cross or none"
    bench --only pipe,smoke-signals
    assert_failure 2
    assert_equal "$stderr" "ipc-bench: unknown mechanism 'smoke-signals' (try --list)"
    bench --frobnicate
    assert_failure 2
    bench --quick --verify
    assert_failure 2
}

@test "--list names every mechanism with its chapter" {
    bench --list
    assert_success
    local mechanism
    for mechanism in "${LATENCY[@]}" memcpy; do
        assert_line --regexp "^$mechanism +[0-9(]"
    done
}
