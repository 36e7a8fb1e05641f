#!/usr/bin/env bash
# setup.sh - Gradescope runs this once, as root, when it builds the
# autograder's image (Ubuntu 22.04 is its default base image). It installs
# what grading needs, from the list `make setup` uses (tools/packages,
# through tools/need, which runs apt-get update itself), and prepares the
# grader's sandbox. Run from the unpacked zip (Gradescope's
# /autograder/source); it stops with one line naming what is missing.
#
# Ubuntu 22.04 differs from Debian 12 (the lab's own machine) in three
# packages; this is the one place that knows:
#   dbus-daemon, dbus-bin   one package there: dbus
#   bats                    1.2.1 there, and the suite needs 1.8 (tags,
#   bats-support,           bats_load_library); the helpers are not
#   bats-assert             packaged there at all
# so on 22.04 those come from vendor/ in the zip: the bats, bats-support
# and bats-assert of the machine that ran `make autograder` (Debian's
# packages: bash scripts, no binaries), installed under /usr/local and
# /usr/lib/bats. Any other release whose bats is missing or older than 1.8
# after the install gets them too. LAB_RELEASE=ID-VERSION (a test) stands
# for /etc/os-release.
set -uo pipefail
lab=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# What grading needs: building a submission, the suite, memcheck, the
# grader. Not demo, bench or the static checks (clang, clang-tidy...).
purposes=(build test valgrind grade)
started=$SECONDS

release=${LAB_RELEASE-}
if [[ -z $release && -r /etc/os-release ]]; then
    release=$(. /etc/os-release && echo "${ID-}-${VERSION_ID-}")
fi
echo "setup: installing what grading needs on ${release:-an unknown release}"
if [[ $release == ubuntu-22.04 ]]; then
    export LAB_APT_SUBSTITUTE="dbus-daemon=dbus dbus-bin=dbus bats= bats-support= bats-assert="
fi
"$lab/tools/need" --install "${purposes[@]}" || { echo "setup: installing packages failed" >&2; exit 1; }

# bats_usable: a bats of 1.8 or later on PATH, and its helpers.
bats_usable() {
    local version
    version=$(bats --version 2>/dev/null) || return 1
    version=${version#Bats }
    [[ $(printf '%s\n' 1.8.0 "$version" | sort -V | head -n 1) == 1.8.0 ]] &&
        [[ -f /usr/lib/bats/bats-support/load.bash && -f /usr/lib/bats/bats-assert/load.bash ]]
}
if ! bats_usable; then
    if [[ ! -x $lab/vendor/bats/bin/bats ]]; then
        echo "setup: no bats 1.8 or later here, and none in the zip (vendor/bats)" >&2
        exit 1
    fi
    echo "setup: bats from the zip: $("$lab/vendor/bats/bin/bats" --version), into /usr/local and /usr/lib/bats"
    mkdir -p /usr/local /usr/lib/bats &&
        cp -R "$lab/vendor/bats/." /usr/local/ &&
        cp -R "$lab/vendor/bats-lib/." /usr/lib/bats/ || exit 1
    hash -r
    bats_usable || { echo "setup: the bats from the zip does not run here" >&2; exit 1; }
fi

# The grader's sandbox (an unprivileged user, namespaces): root's
# subordinate ids (tools/grade's header).
"$lab/tools/grade" --setup-sandbox || { echo "setup: tools/grade --setup-sandbox failed" >&2; exit 1; }

"$lab/tools/need" "${purposes[@]}" || exit 1
echo "setup: ready in $((SECONDS - started)) s"
