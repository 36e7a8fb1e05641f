#!/usr/bin/env bats
# setup: the README's two commands on a machine that lacks tools. `make`
# names every missing tool at once; as root, `make demo` and `make test`
# install what is missing themselves.
#
# Nothing is uninstalled: tools/need is run with a PATH of its own ($T/bin,
# holding only the tools a test says are there) and LAB_NEED_ROOT, which is
# put in front of every file it checks. apt-get is a stand-in that records
# its arguments and "installs" by making the missing tools appear.
#
# Not graded: these test the lab's own tools/need, not a student's programs.
# bats file_tags=ungraded

load lab

setup() {
    lab_setup
    mkdir -p "$T/bin" "$T/root"
    # What tools/need itself runs on, and make for the Makefile's own line:
    # scripts that exec the real tool, never links to it, so that nothing a
    # test writes into $T/bin can reach the real file.
    local tool
    for tool in bash grep dirname sort flock make; do
        printf '#!/bin/sh\nexec %s "$@"\n' "$(command -v "$tool")" >"$T/bin/$tool"
        chmod 755 "$T/bin/$tool"
    done
}
teardown() { lab_teardown; }

# present TOOL...: TOOL is on the scratch PATH (a stand-in that does nothing).
present() {
    local tool
    for tool in "$@"; do
        rm -f "$T/bin/$tool"
        printf '#!/bin/sh\nexit 0\n' >"$T/bin/$tool"
        chmod 755 "$T/bin/$tool"
    done
}
# present_file PATH...: PATH exists as far as tools/need can tell.
present_file() {
    local file
    for file in "$@"; do
        mkdir -p "$T/root${file%/*}"
        : >"$T/root$file"
    done
}
need() {
    run --separate-stderr env PATH="$T/bin" LAB_NEED_ROOT="$T/root" "$LAB_ROOT/tools/need" "$@"
}

# A build machine that has the compiler and headers but none of the test tools.
build_only_machine() {
    present g++ pkg-config
    present_file /usr/include/systemd/sd-bus.h
}

# present_all_but PURPOSE NAME...: every tool and file tools/packages lists
# for PURPOSE is there but those NAMEs (a command, or a file's path).
present_all_but() {
    local purpose=$1 want check
    shift
    while read -r want check _; do
        [[ $want == "$purpose" ]] || continue
        [[ " $* " == *" ${check#*:} "* ]] && continue
        case $check in
        cmd:*) [[ -e $T/bin/${check#cmd:} ]] || present "${check#cmd:}" ;;
        file:*) present_file "${check#file:}" ;;
        esac
    done < <(grep -v '^[[:space:]]*\(#\|$\)' "$LAB_ROOT/tools/packages")
}

@test "need: one line names every missing tool, its package, and 'sudo make setup'" {
    build_only_machine
    present_all_but test /usr/lib/bats/bats-assert/load.bash socat nc dbus-send busctl
    need test
    assert_failure 1
    assert_equal "${#lines[@]}" 1
    assert_output "missing /usr/lib/bats/bats-assert/load.bash, socat, nc, dbus-send, busctl (Debian packages: bats-assert socat netcat-openbsd dbus-bin systemd): run 'sudo make setup' to install everything the lab uses"
}

@test "need: nothing missing for the purpose: silent, exit 0" {
    build_only_machine
    need build
    assert_success
    assert_output ''
}

@test "need --packages: the missing packages, each once, for apt-get" {
    build_only_machine
    present_all_but test socat dbus-send dbus-monitor # the last two: both dbus-bin
    present_all_but demo
    need --packages demo test
    assert_success
    assert_equal "$(tr '\n' ' ' <<<"$output")" "dbus-bin socat "
}

@test "make test without the test tools stops at once with the one line" {
    build_only_machine
    run env PATH="$T/bin" LAB_NEED_ROOT="$T/root" LAB_AUTO_INSTALL=0 make -n -C "$LAB_ROOT" test
    assert_failure
    assert_output --partial "*** missing bats, /usr/lib/bats/bats-support/load.bash, /usr/lib/bats/bats-assert/load.bash, timeout, socat, nc,"
    assert_output --partial "run 'sudo make setup' to install everything the lab uses.  Stop."
    refute_output --partial 'installing'
}

# A stand-in apt-get that logs each call and, for `install`, makes every
# tool of the lab appear (so the check after it passes).
fake_apt() {
    cat >"$T/bin/apt-get" <<APT
#!$BASH
PATH=/usr/bin:/bin # the system's tools, for the stand-in itself
echo "apt-get \$*" >>"$T/apt.log"
[[ \$1 == install ]] || exit 0
while read -r _ check _; do
    case \$check in
    cmd:*) rm -f "$T/bin/\${check#cmd:}"; printf '#!/bin/sh\nexit 0\n' >"$T/bin/\${check#cmd:}"; chmod 755 "$T/bin/\${check#cmd:}" ;;
    file:*) mkdir -p "\$(dirname "$T/root\${check#file:}")"; : >"$T/root\${check#file:}" ;;
    esac
done < <(grep -v '^[[:space:]]*\(#\|\$\)' "$LAB_ROOT/tools/packages")
APT
    chmod 755 "$T/bin/apt-get"
}

@test "as root, make's check installs every missing package in one apt-get and goes on" {
    ((EUID == 0)) || skip "installing is done only as root (this is uid $EUID)"
    build_only_machine
    present clang++
    fake_apt
    need --make test
    assert_success
    assert_output '' # nothing for make to stop on
    assert_regex "$stderr" "^need: installing .*\\bbats\\b"
    run cat "$T/apt.log"
    assert_line --index 0 'apt-get update -qq'
    assert_line --index 1 --regexp '^apt-get install -y -qq .*\bbats-assert\b'
    assert_line --index 1 --regexp '\bvalgrind\b' # everything the lab uses, not only the tests' part
    assert_equal "${#lines[@]}" 2
}

@test "need --install PURPOSE: those purposes' packages only, under LAB_APT_SUBSTITUTE's names" {
    ((EUID == 0)) || skip "installing is done only as root (this is uid $EUID)"
    build_only_machine
    fake_apt
    # Gradescope's setup.sh on Ubuntu 22.04: one dbus package, no bats helpers.
    run --separate-stderr env PATH="$T/bin" LAB_NEED_ROOT="$T/root" \
        LAB_APT_SUBSTITUTE="dbus-daemon=dbus dbus-bin=dbus bats-assert=" "$LAB_ROOT/tools/need" --install test
    assert_success
    run cat "$T/apt.log"
    assert_line --index 0 'apt-get update -qq'
    assert_line --index 1 --regexp '^apt-get install -y -qq .*\bbats-support\b'
    assert_equal "$(grep -ow 'dbus' <<<"${lines[1]}" | wc -l)" 1
    refute_line --index 1 --regexp '\b(dbus-daemon|dbus-bin|bats-assert|valgrind|clang)\b'
    assert_equal "${#lines[@]}" 2
}

@test "as root with LAB_AUTO_INSTALL=0, or as another user, nothing is installed: the line is printed" {
    build_only_machine
    fake_apt
    run env PATH="$T/bin" LAB_NEED_ROOT="$T/root" LAB_AUTO_INSTALL=0 "$LAB_ROOT/tools/need" --make test
    assert_success # make stops on the text it prints
    assert_output --partial "missing bats, "
    [[ ! -e $T/apt.log ]]
    if ((EUID == 0)); then
        # a copy nobody can read, wherever the checkout is (/root is 0700)
        mkdir "$T/tools"
        cp "$LAB_ROOT/tools/need" "$LAB_ROOT/tools/packages" "$T/tools/"
        chmod -R a+rX "$T"
        run setpriv --reuid=65534 --regid=65534 --clear-groups \
            env PATH="$T/bin" LAB_NEED_ROOT="$T/root" "$T/tools/need" --make test
        assert_output --partial "missing bats, "
        [[ ! -e $T/apt.log ]]
    fi
}

@test "make demo: every chapter's demo ends 0, each server's log shown from its ready line" {
    [[ ${IPC_LAB_VALGRIND-} != 1 && $LAB_BIN_ROOT == "$LAB_ROOT" ]] ||
        skip "the demos run the lab's own build"
    # The demos use the default name (demo): in IPC and mount namespaces of
    # their own, with their own /dev/shm, no other run's objects are met.
    unshare --ipc --mount true 2>/dev/null || skip "needs root for private IPC and mount namespaces"
    # shellcheck disable=SC2016 # expanded by that shell
    run timeout -k 5 300 unshare --ipc --mount --propagation private \
        sh -c 'mount -t tmpfs -o mode=1777 tmpfs /dev/shm && exec make -s --no-print-directory -C "$1" demo' sh "$LAB_ROOT"
    assert_success
    local started ready
    started=$(grep -c '^\$ .*server.* &$' <<<"$output")
    ready=$(grep -c '^\[server\] ready ' <<<"$output")
    ((started >= 11)) || fail "only $started servers started by the demos"
    assert_equal "ready lines: $ready" "ready lines: $started"
}
