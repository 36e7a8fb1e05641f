#!/usr/bin/env python3
"""grade-report.py - scores the runs of tools/grade from tags in the .bats files.

  grade-report.py --list FILE.bats...
      checks every tag of the files (one line on stderr and exit 2 at the
      first bad one) and prints the files to run, one a line: the graded
      ones (an ungraded file is named on stderr and left out).
  grade-report.py --out DIR --plain JUNIT [--memcheck JUNIT]
                  [--build-log LOG] FILE.bats...
      reads the JUnit reports of the plain run and of the memcheck run
      (bats -F junit) of FILE.bats..., writes DIR/junit.xml (both runs, one
      file), DIR/results.json (Gradescope autograder format) and prints a
      table: chapter, tests passed/total, memcheck, points. --build-log is
      given when the build failed: its last 40 lines are printed and put in
      results.json's top-level output.

Why tags: the instructor says what a test is worth beside the test, and the
JUnit report of bats 1.8.2 does not carry tags, so they are read here from
the .bats files (the same way bats reads them) and the JUnit test cases are
matched to them by name (a name that does not match stops the grader: it
never guesses).

The tags (bats syntax: comma separated, no spaces, e.g. `points:3,hidden`):
  # bats test_tags=points:N   above a test: it is worth N points. A tag may
                              not hold a dot (bats 1.8.2 then refuses the
                              whole file), so a fraction is written with
                              `_`: points:0_5 is half a point.
  # bats file_tags=points:N   at the top of a file: the file is worth N
                              (default 10). Tests without points share
                              evenly what the tagged ones leave; if the
                              tagged ones sum to more, that sum is the
                              file's total (said once in the output).
  hidden                      the handout does not ship the test; it is
                              graded like any other, visibility
                              after_published unless visibility: says else.
  visibility:V                Gradescope visibility of the test: hidden,
                              after_due_date, after_published or visible
                              (default visible). Anything else is refused.
  # bats file_tags=ungraded   the file is not graded (not run, not in the
                              table, not in results.json): benchmarks, the
                              grader's own tests.
  anything else               (usage, exchange, ...) copied into the test's
                              `tags` list in results.json; no effect on
                              points.
A file_tags line holding points: or ungraded comes before the first @test.

Points of one test, worth P: 80 % for passing the plain run, 20 % for the
memcheck run, given only when the plain run passed and the memcheck run did
not fail the test (passed, or skipped on purpose). Without the memcheck run
(GRADE_VALGRIND=0) a test is worth 80 % of P. A skipped test scores 0 and
says why. A test is numbered CHAPTER.N, N its place among every @test of
its file as written, so numbers never move.
"""
import argparse
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

FILE_POINTS = 10.0
PLAIN_SHARE = 0.8
MEMCHECK_SHARE = 0.2
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
BUILD_LOG_LINES = 40

# bats-preprocess (1.8.2), the same patterns: what bats calls a test and a
# comment command, and what it accepts as a list of tags.
TEST_RE = re.compile(r"^[ \t]*@test[ \t]+(.*[^ \t])[ \t]+\{(.*)$")
TEST_COMMENT_RE = re.compile(r"^[ \t]*([^ \t()]+)[ \t]*\(?\)?[ \t]+\{[ \t]+#[ \t]*@test[ \t]*$")
COMMAND_RE = re.compile(r"^[ \t]*#[ \t]*bats[ \t]+(.*)$")
TAG = r"[-_:a-zA-Z0-9]+"
TAGS_RE = re.compile(rf"^ *({TAG})?( *, *{TAG})* *$")
POINTS_RE = re.compile(r"^[0-9]+(_[0-9]+)?$")


class Refused(Exception):
    """A tag the grader will not guess about: one line, naming the place."""


def test_name(raw):
    """The name bats gives a test (and writes in JUnit): one quote stripped at
    each end, then read as the inside of a double-quoted shell string."""
    name = raw[1:] if raw[:1] in "'\"" else raw
    name = name[:-1] if name[-1:] in "'\"" else name
    return re.sub(r'\\([$`"\\])', r"\1", name)


def split_tags(text, where):
    if not TAGS_RE.match(text):
        raise Refused(f"{where}: bad tags '{text}': bats accepts only [-_:a-zA-Z0-9], comma separated"
                      + (" (a fraction of a point is written 0_5, not 0.5)" if "." in text else ""))
    tags = [t.strip() for t in text.split(",")]
    if "" in tags:
        raise Refused(f"{where}: empty tag in '{text}'")
    return tags


def points_of(tags, where):
    values = [t.removeprefix("points:") for t in tags if t.startswith("points:")]
    if not values:
        return None
    if len(values) > 1 or not POINTS_RE.match(values[0]):
        raise Refused(f"{where}: bad points tag in '{','.join(tags)}' (one points:N, N like 3 or 0_5)")
    return float(values[0].replace("_", "."))


def visibility_of(tags, where):
    values = [t.removeprefix("visibility:") for t in tags if t.startswith("visibility:")]
    if len(values) > 1:
        raise Refused(f"{where}: two visibility tags")
    if values and values[0] not in VISIBILITIES:
        raise Refused(f"{where}: unknown visibility '{values[0]}' (one of {', '.join(VISIBILITIES)})")
    return values[0] if values else None


def parse_bats(path):
    """The file's settings and its tests, in order, each with its own tags."""
    info = {"path": path, "chapter": os.path.basename(path).removesuffix(".bats"),
            "points": FILE_POINTS, "ungraded": False, "tests": []}
    file_tags, test_tags, test_tags_line = [], None, 0
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for number, line in enumerate(lines, 1):
        line = line.replace("\r", "")
        where = f"{path}:{number}"
        match = TEST_RE.match(line) or TEST_COMMENT_RE.match(line)
        if match:
            name = test_name(match.group(1))
            where = f'{path}:{number}: test "{name}"'
            if any(t["name"] == name for t in info["tests"]):
                raise Refused(f"{where}: two tests of this name (JUnit could not tell them apart)")
            own = test_tags or []
            file_vis = visibility_of(file_tags, where)
            vis = visibility_of(own, where) or file_vis
            hidden = "hidden" in own or "hidden" in file_tags
            info["tests"].append({
                "name": name, "number": len(info["tests"]) + 1,
                "points": points_of(own, where),
                "visibility": vis or ("after_published" if hidden else "visible"),
                "tags": [t for t in dict.fromkeys(own + file_tags)
                         if t not in ("hidden", "ungraded") and not t.startswith(("points:", "visibility:"))],
            })
            test_tags = None
            continue
        match = COMMAND_RE.match(line)
        if not match:
            continue
        command = match.group(1)
        if command.startswith("test_tags="):
            if test_tags is not None:
                raise Refused(f"{where}: a second test_tags line for one test (bats keeps only the last;"
                              f" the first is line {test_tags_line}): put them on one line")
            test_tags, test_tags_line = split_tags(command.removeprefix("test_tags="), where), number
        elif command.startswith("file_tags="):
            file_tags = split_tags(command.removeprefix("file_tags="), where)
            points = points_of(file_tags, where)
            if (points is not None or "ungraded" in file_tags) and info["tests"]:
                raise Refused(f"{where}: file_tags with points: or ungraded must come before the first @test")
            visibility_of(file_tags, where)
            if not info["tests"]:
                info["points"] = FILE_POINTS if points is None else points
                info["ungraded"] = "ungraded" in file_tags
    if test_tags is not None:
        raise Refused(f"{path}:{test_tags_line}: test_tags with no @test after them")
    return info


def suites(path):
    root = ET.parse(path).getroot()
    return root.findall("testsuite") if root.tag == "testsuites" else [root]


def results(path, files):
    """{(file path, test name): (status, text)} of one JUnit report, status
    passed / failed / skipped. Every test case must be a parsed test."""
    by_suite = {os.path.basename(f["path"]): f for f in files}
    found = {}
    for suite in suites(path):
        info = by_suite.get(suite.get("name", ""))
        if info is None:
            raise Refused(f"{path}: JUnit suite '{suite.get('name')}' is none of the files given")
        if info["ungraded"]:
            continue
        for case in suite.findall("testcase"):
            name = case.get("name", "")
            if not any(t["name"] == name for t in info["tests"]):
                raise Refused(f"{path}: JUnit test case '{name}' is no @test of {info['path']}"
                              " (the grader read the name otherwise than bats did)")
            key = (info["path"], name)
            if key in found:
                raise Refused(f"{path}: test case '{name}' of {info['path']} reported twice")
            failure = case.find("failure")
            if failure is None:
                failure = case.find("error")
            skipped = case.find("skipped")
            if failure is not None:
                found[key] = ("failed", failure.text or failure.get("message", ""))
            elif skipped is not None:
                found[key] = ("skipped", (skipped.text or skipped.get("message", "")).strip())
            else:
                found[key] = ("passed", "")
    return found


def describe(status, text):
    if status == "skipped":
        return f"skipped: {text}" if text else "skipped"
    if status == "missing":
        return "no result (the file stopped before this test?)"
    return status + (f"\n{text.rstrip()}" if text.strip() else "")


def write_junit(out, plain, memcheck):
    """One JUnit file with both runs; the memcheck suites are renamed."""
    merged = ET.Element("testsuites")
    for suite in suites(plain):
        merged.append(suite)
    if memcheck:
        for suite in suites(memcheck):
            suite.set("name", "memcheck: " + suite.get("name", ""))
            for case in suite.findall("testcase"):
                case.set("classname", "memcheck: " + case.get("classname", ""))
            merged.append(suite)
    ET.ElementTree(merged).write(f"{out}/junit.xml", encoding="UTF-8", xml_declaration=True)


def report(args, files):
    notes = []
    if args.build_log:
        with open(args.build_log, encoding="utf-8", errors="replace") as f:
            tail = f.read().splitlines()[-BUILD_LOG_LINES:]
        notes.append(f"The build failed; the last {len(tail)} lines of its log"
                     " (graded: what was built):\n" + "\n".join(tail))
    if not args.memcheck:
        notes.append(f"No memcheck run (GRADE_VALGRIND=0): each test gives at most"
                     f" {PLAIN_SHARE:.0%} of its points.")

    plain = results(args.plain, files)
    memcheck = results(args.memcheck, files) if args.memcheck else {}
    write_junit(args.out, args.plain, args.memcheck)

    tests, rows, total, total_max = [], [], 0.0, 0.0
    for info in (f for f in files if not f["ungraded"]):
        tagged = sum(t["points"] for t in info["tests"] if t["points"] is not None)
        untagged = [t for t in info["tests"] if t["points"] is None]
        file_total = info["points"]
        if tagged > file_total:
            notes.append(f"{info['path']}: its tagged tests sum to {tagged:g} points, more than"
                         f" the file's {file_total:g}: the file is worth {tagged:g}.")
            file_total = tagged
        each = (file_total - tagged) / len(untagged) if untagged else 0.0
        score = top = 0.0
        passed = clean = 0
        for test in info["tests"]:
            points = each if test["points"] is None else test["points"]
            key = (info["path"], test["name"])
            status, text = plain.get(key, ("missing", ""))
            got = points * PLAIN_SHARE if status == "passed" else 0.0
            most = points * PLAIN_SHARE
            output = "plain run: " + describe(status, text)
            if args.memcheck:
                most += points * MEMCHECK_SHARE
                vg_status, vg_text = memcheck.get(key, ("missing", ""))
                if status != "passed":
                    output += "\nmemcheck run: not counted (the plain run did not pass)"
                else:
                    if vg_status in ("passed", "skipped"):
                        got += points * MEMCHECK_SHARE
                        clean += 1
                    output += "\nmemcheck run: " + describe(vg_status, vg_text)
            passed += status == "passed"
            score, top = score + got, top + most
            tests.append({
                "name": f"{info['chapter']}: {test['name']}",
                "number": f"{info['chapter']}.{test['number']}",
                "score": round(got, 4),
                "max_score": round(most, 4),
                "status": "passed" if got == most else "failed",
                "output": output,
                "visibility": test["visibility"],
                "tags": test["tags"],
            })
        total, total_max = total + score, total_max + top
        rows.append((info["chapter"], f"{passed}/{len(info['tests'])}",
                     f"{clean}/{passed}" if args.memcheck else "not run", f"{score:.1f}/{top:g}"))

    summary = f"ipc-lab suite: {total:.1f} of {total_max:g} points"
    with open(f"{args.out}/results.json", "w", encoding="utf-8") as f:
        json.dump({"score": round(total, 2), "output": "\n\n".join(notes + [summary]),
                   "tests": tests}, f, indent=2)

    for note in notes:
        print(note + "\n")
    head = ("chapter", "tests", "memcheck", "points")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(4)]

    def line(row):
        return "  ".join(row[i].ljust(widths[i]) for i in range(4)).rstrip()

    print(line(head))
    print(line(tuple("-" * w for w in widths)))
    for row in rows:
        print(line(row))
    print(f"\ntotal: {total:.1f} of {total_max:g} points")
    print(f"wrote {args.out}/junit.xml and {args.out}/results.json")


def main():
    parser = argparse.ArgumentParser(prog="grade-report.py", description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="check the tags; print the graded files")
    parser.add_argument("--out")
    parser.add_argument("--plain")
    parser.add_argument("--memcheck")
    parser.add_argument("--build-log")
    parser.add_argument("files", nargs="+", metavar="FILE.bats")
    args = parser.parse_args()
    if not args.list and not (args.out and args.plain):
        parser.error("--out and --plain are needed (or --list)")
    try:
        files = [parse_bats(p) for p in dict.fromkeys(args.files)]
        if args.list:
            for info in files:
                if info["ungraded"]:
                    print(f"grade: not graded (file_tags=ungraded): {info['path']}", file=sys.stderr)
                else:
                    print(info["path"])
            return 0
        report(args, files)
    except Refused as refused:
        print(f"grade-report: {refused}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
