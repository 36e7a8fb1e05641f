#!/usr/bin/env bats
# grade: the grader scores what the tags beside the tests say
# (tools/grade-report.py, tools/grade). Not itself graded.
#
# Each test writes a tiny chapter $T/t/07-tiny.bats, runs it with bats twice
# as tools/grade does (plainly, then with IPC_LAB_VALGRIND=1 standing for the
# memcheck run: FAIL_PLAIN and FAIL_MEMCHECK name the tests that fail in
# each) and reads the results.json the report writes, with jq. The last
# tests give `make classroom` a handout of two chapters, and tools/classroom
# a handout of two tiny ones, and read what GitHub Classroom would get
# (autograding.json with jq, the workflow with yq).
# bats file_tags=ungraded

load lab

setup() {
    lab_setup
    REPORT=$LAB_ROOT/tools/grade-report.py
    # These tests are about scores, bounds and reports, with stand-in files
    # that talk to the test through $T (pids, marks): no sandbox between
    # them. tests/hostile.bats grades through the sandbox.
    export GRADE_SANDBOX=none
    mkdir -p "$T/t" "$T/out"
}
teardown() { lab_teardown; }

# unbar: stdin without the `|` that starts each line. The .bats files
# written here are kept behind `|`: bats (and the grader) would otherwise
# take their `@test` and `# bats` lines as this file's own.
unbar() { sed 's/^|//'; }

# tiny [FIRST_TAGS]: the tiny chapter. Five tests: "first" (tags FIRST_TAGS,
# default points:4), "second", "third" (hidden, usage), "fourth" (always
# skipped), "fifth" (skipped in the memcheck run, as the README transcripts
# are). File tags: exchange.
tiny() {
    unbar >"$T/t/07-tiny.bats" <<EOF
|# bats file_tags=exchange
|tried() {
|    local list=\${FAIL_PLAIN-}
|    if [[ \${IPC_LAB_VALGRIND-} == 1 ]]; then list=\${FAIL_MEMCHECK-}; fi
|    [[ " \$list " != *" \$1 "* ]]
|}
|
|# bats test_tags=${1-points:4}
|@test "first" { tried first; }
|
|@test "second" { tried second; }
|
|# bats test_tags=hidden,usage
|@test "third" { tried third; }
|
|@test "fourth" { skip "not on this machine"; }
|
|@test "fifth" {
|    [[ \${IPC_LAB_VALGRIND-} != 1 ]] || skip "not under memcheck"
|    tried fifth
|}
EOF
}

# grade [--no-memcheck] [--subset] FILE.bats...: both runs, then the report
# (`run`). --subset: the memcheck run is of the tests tagged memcheck, as
# tools/grade's default (bats --filter-tags memcheck, --memcheck-subset).
grade() {
    local memcheck=(--memcheck "$T/memcheck.xml") filter=() subset=()
    while [[ $1 == --* ]]; do
        case $1 in
        --no-memcheck) memcheck=() ;;
        --subset) filter=(--filter-tags memcheck) subset=(--memcheck-subset) ;;
        esac
        shift
    done
    IPC_LAB_VALGRIND='' bats -F junit "$@" >"$T/plain.xml" || true
    if ((${#memcheck[@]})); then
        IPC_LAB_VALGRIND=1 bats -F junit "${filter[@]}" "$@" >"$T/memcheck.xml" || true
    fi
    run python3 "$REPORT" --out "$T/out" --plain "$T/plain.xml" "${memcheck[@]}" "${subset[@]}" "$@"
}

# field NUMBER KEY: a key of the results.json test numbered NUMBER, compact.
field() { jq -c --arg n "$1" ".tests[] | select(.number == \$n) | .$2" "$T/out/results.json"; }
total() { jq -c .score "$T/out/results.json"; }
# memcheck_cases FILE.bats: the test cases of its memcheck suite in
# $T/out/junit.xml, one name a line.
memcheck_cases() {
    python3 -c 'import sys, xml.etree.ElementTree as ET
for suite in ET.parse(sys.argv[1]).getroot().iter("testsuite"):
    if suite.get("name") == "memcheck: " + sys.argv[2]:
        print("\n".join(case.get("name") for case in suite.iter("testcase")))' "$T/out/junit.xml" "$1"
}

@test "a points tag sets the test's score and max_score; the others share the rest of 10" {
    tiny
    grade "$T/t/07-tiny.bats"
    assert_success
    assert_equal "$(field 07-tiny.1 score),$(field 07-tiny.1 max_score)" "4,4"
    assert_equal "$(field 07-tiny.2 max_score)" "1.5"
    tiny points:2
    grade "$T/t/07-tiny.bats"
    assert_success
    assert_equal "$(field 07-tiny.1 score),$(field 07-tiny.1 max_score)" "2,2"
    assert_equal "$(field 07-tiny.2 max_score)" "2"
    # A fraction: bats refuses a dot in a tag, so it is written 0_5.
    tiny points:0_5
    grade "$T/t/07-tiny.bats"
    assert_success
    assert_equal "$(field 07-tiny.1 score),$(field 07-tiny.1 max_score)" "0.5,0.5"
    assert_equal "$(field 07-tiny.2 max_score)" "2.375"
}

@test "an untagged file splits 10 points evenly" {
    unbar >"$T/t/03-even.bats" <<'EOF'
|@test "a" { true; }
|@test "b" { true; }
|@test "c" { true; }
|@test "d" { false; }
EOF
    grade "$T/t/03-even.bats"
    assert_success
    assert_line --regexp '^03-even +3/4 +3/3 +7\.5/10$'
    run jq -c '[.tests[].max_score], .score' "$T/out/results.json"
    assert_output $'[2.5,2.5,2.5,2.5]\n7.5'
}

@test "a file_tags points total; tagged tests over it raise it, said once" {
    tiny
    sed -i '1s/.*/# bats file_tags=exchange,points:20/' "$T/t/07-tiny.bats"
    grade "$T/t/07-tiny.bats"
    assert_success
    assert_equal "$(field 07-tiny.2 max_score)" "4"
    tiny points:12
    grade "$T/t/07-tiny.bats"
    assert_success
    assert_equal "$(field 07-tiny.2 max_score)" "0"
    assert_equal "$(total)" "12"
    run grep -c 'more than the file.s 10: the file is worth 12' <<<"$output"
    assert_output 1
}

@test "a functional failure costs that test's points only; memcheck shares of the others stay" {
    tiny
    FAIL_PLAIN=second grade "$T/t/07-tiny.bats"
    assert_success
    # first 4 + third 1.5 + fifth 1.5 (skipped under memcheck: clean); fourth skips.
    assert_equal "$(field 07-tiny.2 score),$(field 07-tiny.2 max_score)" "0,1.5"
    assert_equal "$(field 07-tiny.1 score)" "4"
    assert_equal "$(field 07-tiny.5 score)" "1.5"
    assert_equal "$(total)" "7"
    assert_line --regexp '^07-tiny +3/5 +3/3 +7/10$'
    # A memcheck failure costs that test's 20 % only.
    FAIL_MEMCHECK=third grade "$T/t/07-tiny.bats"
    assert_success
    assert_equal "$(field 07-tiny.3 score),$(field 07-tiny.3 status)" '1.2,"failed"'
    assert_equal "$(total)" "8.2"
    assert_line --regexp '^07-tiny +4/5 +3/4 +8\.2/10$'
}

@test "without the memcheck run a test gives 80 % of its points, and the output says so" {
    tiny
    grade --no-memcheck "$T/t/07-tiny.bats"
    assert_success
    assert_equal "$(field 07-tiny.1 score),$(field 07-tiny.1 max_score)" "3.2,3.2"
    assert_output --partial "No memcheck run (GRADE_VALGRIND=0): each test gives at most 80% of its points."
    assert_line --regexp '^07-tiny +4/5 +not run +6\.8/8$'
    run jq -r .output "$T/out/results.json"
    assert_output --partial "No memcheck run"
}

@test "memcheck subset: a tagged test keeps its 80/20 split; an untagged one gives all its points plainly" {
    tiny points:4,memcheck
    FAIL_MEMCHECK="first second" grade --subset "$T/t/07-tiny.bats"
    assert_success
    # first (tagged): its memcheck failure costs its 20 %.
    assert_equal "$(field 07-tiny.1 score),$(field 07-tiny.1 max_score)" "3.2,4"
    run field 07-tiny.1 output
    assert_output --partial 'memcheck run: failed'
    # second (untagged): not in the memcheck run, so that run cannot fail
    # it; its plain pass gives all of its 1.5.
    assert_equal "$(field 07-tiny.2 score),$(field 07-tiny.2 max_score)" "1.5,1.5"
    run field 07-tiny.2 output
    assert_output --partial 'memcheck run: not of this test (not tagged memcheck)'
    assert_equal "$(field 07-tiny.1 tags)" '["memcheck","exchange"]'
    # 3.2 + 1.5 + 1.5 + 0 (fourth skips) + 1.5; memcheck: 0 of the 1 tagged.
    run cat "$T/out/table.txt"
    assert_line --regexp '^07-tiny +4/5 +0/1 +7\.7/10$'
    assert_line --partial 'Memcheck subset: the 1 of 5 tests tagged memcheck give 80% of their points'
    # The JUnit of both runs: the memcheck suite holds the tagged test only.
    assert_equal "$(memcheck_cases 07-tiny.bats)" first
    # An untagged test failing its plain run loses all its points.
    FAIL_PLAIN=second grade --subset "$T/t/07-tiny.bats"
    assert_success
    assert_equal "$(field 07-tiny.2 score),$(field 07-tiny.2 max_score)" "0,1.5"
    assert_equal "$(total)" "7"
    # No memcheck run: the tagged test gives 80 %, the others all of theirs.
    grade --no-memcheck --subset "$T/t/07-tiny.bats"
    assert_success
    assert_equal "$(field 07-tiny.1 score),$(field 07-tiny.1 max_score)" "3.2,3.2"
    assert_equal "$(field 07-tiny.2 score),$(field 07-tiny.2 max_score)" "1.5,1.5"
    assert_output --partial 'No memcheck run (GRADE_VALGRIND=0): each test of the memcheck subset gives at most 80% of its points.'
    # A memcheck run cut before it began fails the tagged test only.
    run python3 "$REPORT" --out "$T/out" --plain "$T/plain.xml" --cut memcheck "$T/t/07-tiny.bats" "" "not run: cut" \
        --memcheck-run --memcheck-subset "$T/t/07-tiny.bats"
    assert_success
    assert_equal "$(field 07-tiny.1 score),$(field 07-tiny.2 score)" "3.2,1.5"
    run field 07-tiny.1 output
    assert_output --partial 'memcheck run: failed\nnot run: cut'
    assert_equal "$(memcheck_cases 07-tiny.bats)" first
}

@test "memcheck subset: a test in the memcheck report that is not tagged memcheck stops the report" {
    tiny points:4,memcheck
    # The memcheck run of every test, reported as if it were the subset.
    grade "$T/t/07-tiny.bats"
    assert_success
    run python3 "$REPORT" --out "$T/out" --plain "$T/plain.xml" --memcheck "$T/memcheck.xml" \
        --memcheck-subset "$T/t/07-tiny.bats"
    assert_failure 2
    assert_output "grade-report: $T/memcheck.xml: JUnit test case 'second' of $T/t/07-tiny.bats ran under memcheck but is not tagged memcheck (the grader read the tags otherwise than bats did)"
}

@test "a skipped test keeps its number, scores 0 and gives its reason" {
    tiny
    grade "$T/t/07-tiny.bats"
    assert_success
    run jq -r '[.tests[].number] | join(" ")' "$T/out/results.json"
    assert_output "07-tiny.1 07-tiny.2 07-tiny.3 07-tiny.4 07-tiny.5"
    assert_equal "$(field 07-tiny.4 score),$(field 07-tiny.4 max_score)" "0,1.5"
    assert_equal "$(field 07-tiny.4 name)" '"07-tiny: fourth"'
    run field 07-tiny.4 output
    assert_output --partial 'skipped: not on this machine'
    # Numbers are places in the file, also when a test is left out of the run.
    sed -i 's/^@test "second".*//' "$T/t/07-tiny.bats"
    IPC_LAB_VALGRIND='' bats -F junit "$T/t/07-tiny.bats" >"$T/plain.xml" || true
    sed -i 's/^\(# bats test_tags=hidden\)/@test "second" { true; }\n\1/' "$T/t/07-tiny.bats"
    run python3 "$REPORT" --out "$T/out" --plain "$T/plain.xml" "$T/t/07-tiny.bats"
    assert_success
    assert_equal "$(field 07-tiny.3 name),$(field 07-tiny.3 score)" '"07-tiny: third",1.2'
    run field 07-tiny.2 output
    assert_output --partial 'no result'
}

@test "hidden is visibility after_published; visibility: overrides; other tags are carried" {
    tiny
    grade "$T/t/07-tiny.bats"
    assert_success
    assert_equal "$(field 07-tiny.3 visibility)" '"after_published"'
    assert_equal "$(field 07-tiny.3 tags)" '["usage","exchange"]'
    assert_equal "$(field 07-tiny.1 visibility),$(field 07-tiny.1 tags)" '"visible",["exchange"]'
    sed -i 's/test_tags=hidden,usage/test_tags=hidden,usage,visibility:after_due_date/' "$T/t/07-tiny.bats"
    tiny points:4,visibility:hidden
    sed -i 's/test_tags=hidden,usage/test_tags=hidden,usage,visibility:after_due_date/' "$T/t/07-tiny.bats"
    grade "$T/t/07-tiny.bats"
    assert_success
    assert_equal "$(field 07-tiny.3 visibility)" '"after_due_date"'
    assert_equal "$(field 07-tiny.1 visibility)" '"hidden"'
}

@test "an ungraded file is not listed to run, and is absent from the table and results.json" {
    tiny
    unbar >"$T/t/bench.bats" <<'EOF'
|# bats file_tags=ungraded
|@test "slow" { false; }
EOF
    run --separate-stderr python3 "$REPORT" --list "$T/t/07-tiny.bats" "$T/t/bench.bats"
    assert_success
    assert_output "$T/t/07-tiny.bats"
    assert_equal "$stderr" "grade: not graded (file_tags=ungraded): $T/t/bench.bats"
    grade "$T/t/07-tiny.bats" "$T/t/bench.bats"
    assert_success
    refute_output --partial bench
    run jq -r '[.tests[].name | select(startswith("bench"))] | length' "$T/out/results.json"
    assert_output 0
    assert_equal "$(total)" "8.5"
}

@test "a bad tag is refused in one line naming the file and the test" {
    tiny points:4,visibility:public
    run python3 "$REPORT" --list "$T/t/07-tiny.bats"
    assert_failure 2
    assert_output "grade-report: $T/t/07-tiny.bats:9: test \"first\": unknown visibility 'public' (one of hidden, after_due_date, after_published, visible)"
    tiny points:0.5
    run python3 "$REPORT" --list "$T/t/07-tiny.bats"
    assert_failure 2
    assert_output --partial "(a fraction of a point is written 0_5, not 0.5)"
    tiny points:many
    run python3 "$REPORT" --list "$T/t/07-tiny.bats"
    assert_failure 2
    assert_output --partial "bad points tag"
}

@test "a JUnit test case that is no @test of the file stops the report" {
    tiny
    grade "$T/t/07-tiny.bats"
    assert_success
    sed -i 's/name="third"/name="third (renamed)"/' "$T/plain.xml"
    run python3 "$REPORT" --out "$T/out" --plain "$T/plain.xml" "$T/t/07-tiny.bats"
    assert_failure 2
    assert_output --partial "JUnit test case 'third (renamed)' is no @test of $T/t/07-tiny.bats"
}

@test "tools/grade: a failed build's last 40 lines go to results.json and stdout; what was built is graded" {
    tiny
    mkdir "$T/student"
    printf 'all:\n\t@seq 1 100\n\t@echo "oops: it does not build" >&2\n\t@false\n' >"$T/student/Makefile"
    GRADE_DIR=$T/student GRADE_OUT=$T/out GRADE_VALGRIND=0 GRADE_TESTS="$T/t/07-tiny.bats" \
        IPC_LAB_VALGRIND='' run timeout 60 "$LAB_ROOT/tools/grade"
    assert_success
    assert_line "grade: the build failed (see $T/out/build.log); grading what was built"
    local log=$T/out/build.log count
    count=$(wc -l <"$log")
    ((count > 41))
    # The last 40 lines, printed in order, and the line before them not.
    assert_output --partial "$(tail -n 40 "$log")"
    assert_output --partial "oops: it does not build"
    refute_line "$(sed -n "$((count - 40))p" "$log")"
    run jq -r .output "$T/out/results.json"
    assert_output --partial $'The build failed; the last 40 lines of its log (graded: what was built):\n'"$(tail -n 40 "$log")"
    refute_line "$(sed -n "$((count - 40))p" "$log")"
    # No test of tiny is tagged memcheck: each gives all its points plainly.
    assert_equal "$(total)" "8.5"
}

@test "tools/grade: the memcheck run is of the tests tagged memcheck; GRADE_MEMCHECK=all runs every test, 80/20 each" {
    tiny points:4,memcheck
    unbar >"$T/t/03-even.bats" <<'EOF2'
|@test "a" { true; }
|@test "b" { true; }
EOF2
    submission "$T/student"
    # second fails under memcheck: that costs it nothing when it is not run there.
    GRADE_DIR=$T/student GRADE_OUT=$T/out GRADE_TESTS="$T/t/03-even.bats $T/t/07-tiny.bats" \
        FAIL_MEMCHECK=second IPC_LAB_VALGRIND='' run timeout 60 "$LAB_ROOT/tools/grade"
    assert_success
    assert_line "== grade: the tests tagged memcheck, under valgrind"
    assert_line --regexp '^grade: 07-tiny \(memcheck run\): [0-9]+ s$'
    assert_line --regexp '^grade: the memcheck run took [0-9]+ s$'
    assert_line "$T/t/03-even.bats: no test tagged memcheck: none of its tests runs under memcheck."
    assert_line --regexp '^03-even +2/2 +0/0 +10/10$'
    assert_line --regexp '^07-tiny +4/5 +1/1 +8\.5/10$'
    assert_equal "$(field 07-tiny.2 score),$(field 07-tiny.2 max_score)" "1.5,1.5"
    assert_equal "$(memcheck_cases 07-tiny.bats)" first
    assert_equal "$(memcheck_cases 03-even.bats)" ''
    # GRADE_MEMCHECK=all: every test runs under memcheck and splits 80/20.
    GRADE_MEMCHECK=all GRADE_DIR=$T/student GRADE_OUT=$T/out GRADE_TESTS="$T/t/03-even.bats $T/t/07-tiny.bats" \
        FAIL_MEMCHECK=second IPC_LAB_VALGRIND='' run timeout 60 "$LAB_ROOT/tools/grade"
    assert_success
    assert_line "== grade: the same suite under valgrind"
    refute_output --partial 'Memcheck subset'
    assert_line --regexp '^03-even +2/2 +2/2 +10/10$'
    assert_line --regexp '^07-tiny +4/5 +3/4 +8\.2/10$'
    assert_equal "$(field 07-tiny.2 score),$(field 07-tiny.2 max_score)" "1.2,1.5"
    assert_equal "$(memcheck_cases 07-tiny.bats | wc -l)" 5
    # Anything else is refused before anything runs.
    GRADE_MEMCHECK=some GRADE_OUT=$T/out2 GRADE_TESTS="$T/t/07-tiny.bats" run "$LAB_ROOT/tools/grade"
    assert_failure 2
    assert_output "grade: GRADE_MEMCHECK must be tagged or all, not 'some'"
}

@test "every graded file of the suite has tests tagged memcheck; bats and the grader count the same" {
    local file count tagged
    while read -r file; do
        count=$(bats --count --filter-tags memcheck "$file")
        tagged=$(python3 -c 'import importlib.util, sys
spec = importlib.util.spec_from_file_location("report", sys.argv[1])
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)
print(sum(t["memcheck"] for t in report.parse_bats(sys.argv[2])["tests"]))' "$REPORT" "$file")
        echo "# $file: bats $count, grade-report $tagged" # shown if this fails
        ((count > 0))
        assert_equal "$count" "$tagged"
    done < <(python3 "$REPORT" --list "$LAB_ROOT"/tests/*.bats 2>/dev/null)
}

# within SECONDS COMMAND...: waits until COMMAND succeeds; fails after SECONDS.
within() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.05
    done
}

# gone PID: PID has ended. A killed orphan is reaped by init when init gets to
# it, and kill -0 still finds it until then: a zombie counts as gone.
gone() { ! kill -0 "$1" 2>/dev/null || is_zombie "$1"; }

# submission DIR: a tiny student checkout whose make does nothing.
submission() {
    mkdir -p "$1"
    printf 'all:\n\t@echo built\n' >"$1/Makefile"
}

@test "tools/grade: a file that hangs is stopped at its bound, its tests fail saying so; the other files score" {
    tiny
    # A test reported before the hang keeps its result; the hung one and the
    # one after it fail with the bound. HANG_PID tells the test the sleeper.
    unbar >"$T/t/02-hang.bats" <<'EOF2'
|@test "quick" { true; }
|@test "hangs" { sleep 120 & echo $! >"$HANG_PID"; wait; }
|@test "after" { true; }
EOF2
    submission "$T/student"
    HANG_PID=$T/hang.pid GRADE_DIR=$T/student GRADE_OUT=$T/out GRADE_VALGRIND=0 GRADE_FILE_LIMIT=8 \
        GRADE_TESTS="$T/t/02-hang.bats $T/t/07-tiny.bats" IPC_LAB_VALGRIND='' run timeout 60 "$LAB_ROOT/tools/grade"
    assert_success
    assert_line "grade: 02-hang (plain run): time bound of 8 s reached (GRADE_FILE_LIMIT)"
    assert_equal "$(field 02-hang.1 status),$(field 02-hang.1 score)" '"passed",3.3333'
    for n in 2 3; do
        assert_equal "$(field 02-hang.$n status),$(field 02-hang.$n score)" '"failed",0'
        run field 02-hang.$n output
        assert_output --partial "time bound of 8 s reached"
    done
    assert_equal "$(total)" "11.83"
    # The hung test's process group was killed with it.
    local pid
    pid=$(cat "$T/hang.pid")
    within 20 gone "$pid" || {
        describe_process "$pid"
        false
    }
}

@test "tools/grade: killed after its first file, it leaves a valid results.json with that file's scores" {
    tiny
    # The second file says it started, then waits (bounded) for $T/go.
    unbar >"$T/t/08-wait.bats" <<'EOF2'
|@test "waits" { touch "$WAIT_DIR/started"; timeout 60 sh -c 'until [ -e "$1" ]; do sleep 0.1; done' sh "$WAIT_DIR/go"; }
EOF2
    submission "$T/student"
    WAIT_DIR=$T GRADE_DIR=$T/student GRADE_OUT=$T/out GRADE_VALGRIND=0 \
        GRADE_TESTS="$T/t/07-tiny.bats $T/t/08-wait.bats" IPC_LAB_VALGRIND='' \
        "$LAB_ROOT/tools/grade" >"$T/grade.log" 2>&1 3>&- &
    local grader=$! runner
    within 60 test -e "$T/started"
    # Killed with no warning: no trap runs. What it had started (timeout,
    # running the second file) is left; $T/go lets it end, within its bound.
    runner=$(pgrep -P "$grader" -x timeout)
    kill -KILL "$grader"
    wait "$grader" || true
    touch "$T/go"
    within 60 gone "$runner"
    run jq -e . "$T/out/results.json"
    assert_success
    assert_equal "$(field 07-tiny.1 score)" "4"
    assert_equal "$(field 07-tiny.2 score)" "1.5"
    run field 08-wait.1 output
    assert_output --partial "not run"
    assert_equal "$(field 08-wait.1 score)" "0"
    # As root, its cpu cgroup is left (empty: no trap ran); the next grade
    # removes it.
    local cgroup
    cgroup=$(grade_cgroup <"$T/grade.log")
    [[ -n $cgroup ]] || return 0
    [[ -d $cgroup ]] || fail "the killed grade's cgroup $cgroup is already gone: nothing to show"
    GRADE_OUT=$T/out2 GRADE_VALGRIND=0 GRADE_TESTS="$T/t/07-tiny.bats" IPC_LAB_VALGRIND='' run "$LAB_ROOT/tools/grade"
    assert_success
    [[ ! -e $cgroup ]] || fail "$cgroup is left after the next grade"
}

@test "tools/grade-all: a directory and a zip, two at a time: a results.json each and a CSV row each" {
    tiny
    mkdir "$T/in"
    submission "$T/in/alice"
    submission "$T/zip/bob"
    (cd "$T/zip" && zip -qr "$T/in/bob.zip" bob)
    GRADE_ALL_OUT=$T/all GRADE_VALGRIND=0 GRADE_TESTS="$T/t/07-tiny.bats" FAIL_PLAIN=second \
        IPC_LAB_VALGRIND='' run timeout 120 "$LAB_ROOT/tools/grade-all" -j 2 "$T/in"
    assert_success
    assert_line "alice: 7/10 points, tests 3/5, build ok: ok"
    assert_line "bob: 7/10 points, tests 3/5, build ok: ok"
    for who in alice bob; do
        run jq -e .score "$T/all/$who/results.json"
        assert_output 7
    done
    run cat "$T/all/summary.csv"
    assert_output $'student,score,max_score,passed,tests,build,status\nalice,7.0,10.0,3,5,ok,ok\nbob,7.0,10.0,3,5,ok,ok'
}

@test "tools/grade-all: a zip with an entry outside its directory is refused, nothing of it unpacked" {
    tiny
    mkdir -p "$T/in/deep"
    python3 -c 'import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("Makefile", "all:\n\ttrue\n")
    z.writestr("../../escaped", "out\n")' "$T/in/deep/mallory.zip"
    mv "$T/in/deep/mallory.zip" "$T/in/"
    rmdir "$T/in/deep"
    GRADE_ALL_OUT=$T/all GRADE_VALGRIND=0 GRADE_TESTS="$T/t/07-tiny.bats" \
        IPC_LAB_VALGRIND='' run timeout 120 "$LAB_ROOT/tools/grade-all" "$T/in"
    assert_success
    assert_line --partial "mallory: refused: entry '../../escaped' would land outside the submission"
    [[ ! -e $T/escaped && ! -e $T/in/escaped ]]
    run cat "$T/all/summary.csv"
    assert_line "mallory,0,,0,,,refused"
}

@test "grade-report.py --points: each graded file's total, as the report counts it; ungraded files left out" {
    tiny
    cp "$T/t/07-tiny.bats" "$T/t/03-even.bats"
    sed -i '1s/.*/# bats file_tags=exchange,points:20/' "$T/t/03-even.bats"
    unbar >"$T/t/bench.bats" <<'EOF2'
|# bats file_tags=ungraded
|@test "slow" { false; }
EOF2
    run --separate-stderr python3 "$REPORT" --points "$T/t/07-tiny.bats" "$T/t/03-even.bats" "$T/t/bench.bats"
    assert_success
    assert_output "$T/t/07-tiny.bats"$'\t10\n'"$T/t/03-even.bats"$'\t20'
    assert_equal "$stderr" "grade: not graded (file_tags=ungraded): $T/t/bench.bats"
    # Tagged tests over the file's total raise it, as in the report: the
    # sum of results.json's max_score is the same figure.
    tiny points:12
    run python3 "$REPORT" --points "$T/t/07-tiny.bats"
    assert_output "$T/t/07-tiny.bats"$'\t12'
    grade "$T/t/07-tiny.bats"
    run jq '[.tests[].max_score] | add' "$T/out/results.json"
    assert_output 12
}

# classroom_check HANDOUT: what GitHub Classroom gets in HANDOUT, checked
# against the handout itself: one autograding.json entry per chapter there,
# in order, each running that chapter's tests, worth what grade-report.py
# says its shipped test file is worth, with a bounded timeout; the workflow
# runs the same entries through the command grader, then the reporter.
classroom_check() {
    local handout=$1 json=$1/.github/classroom/autograding.json yml=$1/.github/workflows/classroom.yml
    local chapters=() dir chapter
    for dir in "$handout"/[0-9][0-9]-*/; do chapters+=("$(basename "$dir")"); done
    run jq -r '.tests[].name' "$json"
    assert_success
    assert_output "$(printf '%s\n' "${chapters[@]}")"
    for chapter in "${chapters[@]}"; do
        run jq -c --arg c "$chapter" '.tests[] | select(.name == $c) | [keys, .setup, .run, .input, .output, .comparison]' "$json"
        assert_output '[["comparison","input","name","output","points","run","setup","timeout"],"","make -C '"$chapter"' test","","","included"]'
        [[ -f $handout/$chapter/Makefile && -f $handout/tests/$chapter.bats ]]
        run jq --arg c "$chapter" '.tests[] | select(.name == $c) | .points' "$json"
        assert_output "$(python3 "$REPORT" --points "$handout/tests/$chapter.bats" | cut -f2)"
    done
    run jq '[.tests[].timeout | numbers | select(. >= 1 and . <= 60)] | length' "$json"
    assert_output "${#chapters[@]}"
    # The workflow: checkout, the lab's install, one command grader per entry
    # (the same name, command, timeout, points), the reporter reading each.
    run yq -c '[.jobs[].steps[] | .uses // .run]' "$yml"
    assert_success
    assert_output --regexp '^\["actions/checkout@v4","sudo make setup",("classroom-resources/autograding-command-grader@v1",){'"${#chapters[@]}"'}"classroom-resources/autograding-grading-reporter@v1"\]$'
    run yq -c '[.jobs[].steps[] | select(.uses // "" | contains("command-grader")) | .with
        | {name: ."test-name", setup: ."setup-command", run: .command, timeout, points: ."max-score"}]' "$yml"
    assert_output "$(jq -c '[.tests[] | {name, setup, run, timeout, points}]' "$json")"
    run yq -r '.jobs[].steps[-1] | .with.runners, (.env | to_entries[] | "\(.key)=\(.value)")' "$yml"
    local ids
    ids=$(jq -r '[.tests[] | "test-\(.name)"] | join(",")' "$json")
    assert_line --index 0 "$ids"
    for id in ${ids//,/ }; do
        assert_line "${id^^}_RESULTS=\${{steps.$id.outputs.result}}"
    done
}

@test "make classroom: an entry per handed-out chapter, points from the tags, and the workflow; practice feedback, said" {
    run timeout 120 make -C "$LAB_ROOT" --no-print-directory classroom HANDOUT_OUT="$T/h" \
        HANDOUT_SOLUTIONS="$T/s" CHAPTERS="03-fifo 06-msgqueue"
    assert_success
    assert_line --partial "classroom: $T/h/.github/classroom/autograding.json and workflows/classroom.yml: 2 chapters,"
    classroom_check "$T/h"
    run jq -r '.tests[].name' "$T/h/.github/classroom/autograding.json"
    assert_output $'03-fifo\n06-msgqueue'
    # The students are told, once, however often it is run.
    run timeout 120 make -C "$LAB_ROOT" --no-print-directory classroom HANDOUT_OUT="$T/h" CLASSROOM_TIMEOUT=30
    assert_success
    run jq '[.tests[].timeout] | unique' "$T/h/.github/classroom/autograding.json"
    assert_output $'[\n  30\n]'
    run grep -c '^## GitHub Classroom: practice feedback$' "$T/h/README.md"
    assert_output 1
    run grep -A8 '^## GitHub Classroom: practice feedback$' "$T/h/README.md"
    assert_output --partial '**not your grade**'
    for chapter in 03-fifo 06-msgqueue; do
        run grep -c '^practice feedback, not your grade' "$T/h/$chapter/README.md"
        assert_output 1
    done
    # Not from a handout; not a bound past the command grader's hour.
    run timeout 60 make -C "$T/h" --no-print-directory classroom
    assert_failure
    assert_output --partial "make classroom: only in the master tree, not in a handout"
    run timeout 60 make -C "$LAB_ROOT" --no-print-directory classroom HANDOUT_OUT="$T/h" CLASSROOM_TIMEOUT=61
    assert_failure
    assert_output --partial "classroom: --timeout 61: a chapter's bound is 1 to 60 minutes"
}

@test "tools/classroom: a chapter is worth what its shipped test file is; a fraction, a chapter without tests are refused" {
    # A handout of two tiny chapters: 03-even's file says 20 points, and
    # 07-tiny's tagged tests (12) are more than its default 10.
    tiny points:12
    mkdir -p "$T/h/tests" "$T/h/03-even" "$T/h/07-tiny"
    mv "$T/t/07-tiny.bats" "$T/h/tests/"
    unbar >"$T/h/tests/03-even.bats" <<'EOF2'
|# bats file_tags=points:20
|@test "a" { true; }
EOF2
    printf 'all:\n' | tee "$T/h/03-even/Makefile" >"$T/h/07-tiny/Makefile"
    printf '# tiny\n\n## Two commands\n\nmake\n\n## Chapters\n' >"$T/h/README.md"
    run timeout 60 "$LAB_ROOT/tools/classroom" "$T/h"
    assert_success
    classroom_check "$T/h"
    run jq -c '[.tests[] | [.name, .points]]' "$T/h/.github/classroom/autograding.json"
    assert_output '[["03-even",20],["07-tiny",12]]'
    run sed -n '/^## /p' "$T/h/README.md"
    assert_output $'## Two commands\n## GitHub Classroom: practice feedback\n## Chapters'
    sed -i '1s/.*/# bats file_tags=points:7_5/' "$T/h/tests/03-even.bats"
    run timeout 60 "$LAB_ROOT/tools/classroom" "$T/h"
    assert_failure 1
    assert_output "classroom: 03-even: tests/03-even.bats is worth 7.5 points; GitHub Classroom takes whole points: make its total whole (file_tags=points:N)"
    rm "$T/h/tests/03-even.bats"
    run timeout 60 "$LAB_ROOT/tools/classroom" "$T/h"
    assert_failure 1
    assert_output "classroom: 03-even: no tests/03-even.bats in $T/h"
}

# --- Gradescope: make autograder's zip, run_autograder against a fake root

# autograder_zip [NAME=VALUE...]: the zip, built with those settings, in $T.
autograder_zip() {
    run env "$@" "$LAB_ROOT/tools/autograder" "$T/autograder.zip"
    assert_success
}

# fake_root: a scratch /autograder laid out as Gradescope does: the zip
# unpacked into source/, run_autograder copied to the top, submission/ empty.
fake_root() {
    mkdir -p "$T/root/source" "$T/root/submission"
    unzip -q "$T/autograder.zip" -d "$T/root/source"
    cp -p "$T/root/source/run_autograder" "$T/root/"
}

# reference DEST: this checkout as a student hands it in (no .git, build/
# or bench/), built once per run of this file (copied from then on: make
# finds it up to date).
reference() {
    local built=$BATS_FILE_TMPDIR/reference
    if [[ ! -d $built ]]; then
        mkdir -p "$built.tmp"
        tar -C "$LAB_ROOT" --exclude=./.git --exclude=./build --exclude=./bench -cf - . | tar -C "$built.tmp" -xf -
        timeout 900 make -j2 -C "$built.tmp" LAB_AUTO_INSTALL=0 >"$BATS_FILE_TMPDIR/reference.log" 2>&1 </dev/null 3>&- ||
            { tail -n 20 "$BATS_FILE_TMPDIR/reference.log"; return 1; }
        mv "$built.tmp" "$built"
    fi
    mkdir -p "$1"
    cp -a "$built/." "$1/"
}

# autograde [NAME=VALUE...]: run_autograder against the fake root (`run`).
autograde() {
    run env AUTOGRADER_ROOT="$T/root" IPC_LAB_VALGRIND='' "$@" timeout 900 "$T/root/run_autograder"
}

# results_check: results.json is what Gradescope reads: a score, and each
# test with every field of its schema; prints "score max passed tests".
results_check() {
    python3 - "$T/root/results/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert isinstance(r["score"], (int, float)), r
fields = {"score": (int, float), "max_score": (int, float), "status": str, "name": str,
          "number": str, "output": str, "visibility": str}
for t in r["tests"]:
    for key, kind in fields.items():
        assert isinstance(t.get(key), kind), (key, t)
    assert t["status"] in ("passed", "failed"), t
    assert t["visibility"] in ("hidden", "after_due_date", "after_published", "visible"), t
    assert 0 <= t["score"] <= t["max_score"], t
assert abs(r["score"] - sum(t["score"] for t in r["tests"])) < 0.01, r["score"]
print(f'{r["score"]:g} {sum(t["max_score"] for t in r["tests"]):g}',
      sum(t["status"] == "passed" for t in r["tests"]), len(r["tests"]))
PY
}

@test "make autograder: setup.sh and run_autograder at the top, executable; the grading tree; no .git, build/, bench/ or program source" {
    autograder_zip
    run unzip -Z1 "$T/autograder.zip"
    assert_success
    local entry
    for entry in setup.sh run_autograder Makefile mk/lab.mk common/lab.hpp tests/lab.bash tests/02-pipe.bats \
        tools/grade tools/grade-report.py tools/copy-submission tools/need tools/packages 02-pipe/README.md \
        10-dbus/README.md vendor/bats/bin/bats vendor/bats-lib/bats-assert/load.bash autograder.env; do
        assert_line "$entry"
    done
    refute_line --regexp '(^|/)\.git(/|$)'
    refute_line --regexp '^(build|bench|tools/gradescope)/'
    refute_line --regexp '^[0-9][0-9]-[^/]+/.+\.(cpp|hpp)$'
    refute_line --regexp '^[0-9][0-9]-[^/]+/(Makefile|server|client)$'
    run unzip -Z "$T/autograder.zip" setup.sh run_autograder
    assert_line --regexp '^-rwxr-xr-x .* setup\.sh$'
    assert_line --regexp '^-rwxr-xr-x .* run_autograder$'
}

@test "run_autograder: the reference, in a top folder, scores full marks for the files graded; the submission is only read" {
    # The settings given when the zip is made are run_autograder's defaults.
    autograder_zip GRADE_TESTS=tests/02-pipe.bats GRADE_VALGRIND=0
    fake_root
    run cat "$T/root/source/autograder.env"
    assert_output $'GRADE_TESTS=tests/02-pipe.bats\nGRADE_VALGRIND=0'
    reference "$T/root/submission/ipc-lab"
    # A source newer than its program: a build in place would show.
    touch "$T/root/submission/ipc-lab/02-pipe/client.cpp"
    local before
    before=$(cd "$T/root/submission" && find . -printf '%p %s %T@\n' | sort)
    autograde
    assert_success
    # Without the memcheck run, the 5 tests of 02's memcheck subset give 80 %.
    assert_line "02-pipe  19/19  not run   9.47/9.47"
    run results_check
    assert_success
    assert_output "9.47 9.4737 19 19" # the score is rounded to 2 places
    run jq -r '[.tests[].number | split(".")[0]] | unique | join(" ")' "$T/root/results/results.json"
    assert_output "02-pipe"
    assert_equal "$(cd "$T/root/submission" && find . -printf '%p %s %T@\n' | sort)" "$before"
}

@test "run_autograder: a submission whose client prints nothing scores lower, each failed test saying why" {
    autograder_zip
    fake_root
    reference "$T/root/submission"
    printf 'int main() { return 0; }\n' >"$T/root/submission/02-pipe/client.cpp"
    autograde GRADE_TESTS=tests/02-pipe.bats GRADE_VALGRIND=0
    assert_success
    run results_check
    assert_success
    local score max passed tests
    read -r score max passed tests <<<"$output"
    assert_equal "$max,$tests" "9.4737,19"
    assert_not_equal "$score" "$max"
    ((passed < tests))
    # The server's own usage tests do not need the client: not all is lost.
    ((passed > 0))
    run jq -r '.tests[] | select(.status == "failed") | .output' "$T/root/results/results.json"
    assert_output --partial "plain run: failed"
    assert_output --partial "HELLO"
}

@test "run_autograder: when tools/grade leaves no results (no submission; the grader stops), results.json still says why, score 0" {
    autograder_zip
    fake_root
    rmdir "$T/root/submission"
    mkdir -p "$T/root/results"
    echo "not json" >"$T/root/results/results.json"
    autograde GRADE_VALGRIND=0
    assert_success
    run jq -r '.score, .output' "$T/root/results/results.json"
    assert_line --index 0 0
    assert_output --partial "could not be graded"
    assert_output --partial "refused: no submission at $T/root/submission"
    # A grader that stops before its first report (here: no graded file).
    mkdir "$T/root/submission"
    printf 'all:\n\t@true\n' >"$T/root/submission/Makefile"
    autograde GRADE_TESTS=tests/bench.bats
    assert_success
    run jq -r '.score, (.tests | length), .output' "$T/root/results/results.json"
    assert_line --index 0 0
    assert_line --index 1 0
    assert_output --partial "tools/grade exited with status 2"
    assert_output --partial "grade: no graded file among: tests/bench.bats"
}
