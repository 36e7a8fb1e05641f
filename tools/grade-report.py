#!/usr/bin/env python3
"""grade-report.py - scores the runs of tools/grade from tags in the .bats files.

  grade-report.py --list FILE.bats...
      checks every tag of the files (one line on stderr and exit 2 at the
      first bad one) and prints the files to run, one a line: the graded
      ones (an ungraded file is named on stderr and left out).
  grade-report.py --points FILE.bats...
      checks the tags likewise and prints, for each graded file, its path, a
      tab and what it is worth in all (the total the report uses below;
      tools/classroom gives GitHub Classroom these). Ungraded files are
      named on stderr and left out.
  grade-report.py --out DIR [--plain JUNIT]... [--memcheck JUNIT]...
                  [--cut RUN FILE.bats TAP REASON]... [--memcheck-run]
                  [--memcheck-subset] [--build-log LOG [--build-limit N]]
                  [--note TEXT]...
                  [--quiet] FILE.bats...
      reads the JUnit reports of the plain run and of the memcheck run
      (bats -F junit; one report per file, or one for all) of FILE.bats...,
      writes DIR/junit.xml (both runs, one file), DIR/results.json
      (Gradescope autograder format), DIR/summary.json (what tools/grade-all
      puts in its CSV) and DIR/table.txt, and prints the table (not with
      --quiet): chapter, tests passed/total, memcheck, points. Every file is
      written to a temporary name and renamed: a reader never sees half.
      --cut: the RUN (plain or memcheck) of FILE.bats did not finish (its
      time bound, or the grade was stopped before or during it): the tests
      its TAP stream (bats --report-formatter tap; "" when it did not start)
      reported keep their result, the others fail with REASON as output.
      --memcheck-run: a memcheck run was asked for (implied by --memcheck).
      --memcheck-subset: the memcheck run is of the tests tagged memcheck
      only (bats --filter-tags memcheck, tools/grade's default): a test of
      the memcheck JUnit report that is not tagged so stops the report.
      Without it, the memcheck run is of every test.
      --build-log is given when the build failed (--build-limit N: it was
      stopped at its time bound of N s): its last 40 lines are printed and
      put in results.json's top-level output.
      --note TEXT: a line for results.json's top-level output, first
      (tools/grade says there how the student's code was confined).

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
  memcheck                    the test is in the memcheck subset: with
                              --memcheck-subset only these run under
                              valgrind, and only these split their points
                              80/20 (see below). Copied into `tags`.
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
(GRADE_VALGRIND=0) such a test is worth 80 % of P. With --memcheck-subset
that split is for the tests tagged memcheck; a test outside the subset is
worth all of P for passing the plain run (memcheck run or not). A skipped
test scores 0 and says why. A test is numbered CHAPTER.N, N its place among every @test of
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
                "memcheck": "memcheck" in own or "memcheck" in file_tags,
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


def file_total(info):
    """What a file is worth in all, and what its tagged tests sum to: its
    file_tags points (default 10), or that sum when it is more."""
    tagged = sum(t["points"] for t in info["tests"] if t["points"] is not None)
    return max(info["points"], tagged), tagged


def suites(path):
    root = ET.parse(path).getroot()
    return root.findall("testsuite") if root.tag == "testsuites" else [root]


def results(path, files, subset=False):
    """{(file path, test name): (status, text)} of one JUnit report, status
    passed / failed / skipped. Every test case must be a parsed test; with
    subset (the memcheck run of the tagged tests), a test tagged memcheck."""
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
            test = next((t for t in info["tests"] if t["name"] == name), None)
            if test is None:
                raise Refused(f"{path}: JUnit test case '{name}' is no @test of {info['path']}"
                              " (the grader read the name otherwise than bats did)")
            if subset and not test["memcheck"]:
                raise Refused(f"{path}: JUnit test case '{name}' of {info['path']} ran under memcheck"
                              " but is not tagged memcheck (the grader read the tags otherwise than bats did)")
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


TAP_RE = re.compile(r"^(ok|not ok) [0-9]+ (.*)$")


def tap_results(path, info):
    """{test name: (status, text)} of the tests a TAP stream reported (bats
    --report-formatter tap, cut short anywhere). A TAP line carries the name
    and then ' # ...' (time, skip reason): the longest test name that the
    line starts with, followed by nothing or ' #', is the test."""
    found, last = {}, None
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return found
    names = sorted((t["name"] for t in info["tests"]), key=len, reverse=True)
    for line in lines:
        match = TAP_RE.match(line)
        if match:
            rest = match.group(2)
            name = next((n for n in names if rest == n or rest.startswith(n + " #")), None)
            last = None
            if name is None:
                continue
            after = rest[len(name):]
            if match.group(1) == "not ok":
                found[name] = ("failed", "")
                last = name
            elif after.startswith(" # skip"):
                found[name] = ("skipped", after.removeprefix(" # skip").strip())
            else:
                found[name] = ("passed", "")
        elif last is not None and line.startswith("#"):
            status, text = found[last]
            found[last] = (status, text + line[2:] + "\n")
    return found


def in_run(test, kind, subset):
    """Whether the run KIND is of this test: the plain run is of every test,
    the memcheck run of the tagged ones when it is a subset."""
    return kind == "plain" or not subset or test["memcheck"]


def cut_results(args, kind, files, subset=False):
    """{(file path, test name): (status, text)} of the cut files of a run:
    what their TAP stream reported, every other test of the run failed with
    the reason; and the notes that say so."""
    by_path = {f["path"]: f for f in files}
    found, notes = {}, []
    for run, path, tap, reason in args.cut or []:
        if run != kind:
            continue
        info = by_path.get(path)
        if info is None:
            raise Refused(f"--cut {run} {path}: not one of the files given")
        if info["ungraded"]:
            continue
        reported = tap_results(tap, info) if tap else {}
        tests = [t for t in info["tests"] if in_run(t, kind, subset)]
        for test in tests:
            status, text = reported.get(test["name"], ("failed", ""))
            if test["name"] not in reported:
                text = reason
            found[(path, test["name"])] = (status, text)
        notes.append(f"{info['chapter']}, {kind} run: {reason}"
                     + (f" ({len(reported)} of {len(tests)} tests reported before)"
                        if reported else ""))
    return found, notes


def describe(status, text):
    if status == "skipped":
        return f"skipped: {text}" if text else "skipped"
    if status == "missing":
        return "no result (the file stopped before this test?)"
    return status + (f"\n{text.rstrip()}" if text.strip() else "")


def replace_file(path, write):
    """write(f) into a temporary file beside path, then rename it over path:
    a grade killed at any moment leaves the old file or the new one whole."""
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as f:
        write(f)
    os.replace(temporary, path)


def cut_suite(info, found, prefix):
    """A JUnit suite for a file whose run was cut: its results as counted."""
    suite = ET.Element("testsuite", name=prefix + os.path.basename(info["path"]))
    for test in (t for t in info["tests"] if (info["path"], t["name"]) in found):
        status, text = found[(info["path"], test["name"])]
        case = ET.SubElement(suite, "testcase", classname=prefix + info["chapter"], name=test["name"])
        if status != "passed":
            ET.SubElement(case, "failure" if status == "failed" else "skipped").text = text
    return suite


def write_junit(out, plain, memcheck, cut_args, cuts, files):
    """One JUnit file with both runs; the memcheck suites are renamed."""
    merged = ET.Element("testsuites")
    for kind, reports in (("plain", plain), ("memcheck", memcheck)):
        prefix = "memcheck: " if kind == "memcheck" else ""
        by_name = {}
        for report_path in reports:
            for suite in suites(report_path):
                by_name.setdefault(suite.get("name", ""), []).append(suite)
        cut_paths = {path for run, path, _, _ in cut_args if run == kind}
        for info in files:  # in the order of the files
            if info["path"] in cut_paths and not info["ungraded"]:
                merged.append(cut_suite(info, cuts[kind], prefix))
            for suite in by_name.pop(os.path.basename(info["path"]), []):
                suite.set("name", prefix + suite.get("name", ""))
                for case in suite.findall("testcase"):
                    case.set("classname", prefix + case.get("classname", ""))
                merged.append(suite)
    replace_file(f"{out}/junit.xml",
                 lambda f: ET.ElementTree(merged).write(f, encoding="unicode", xml_declaration=True))


def run_results(reports, files, subset=False):
    """The results of one run, from its JUnit reports (one per file or one
    for all): a test reported twice stops the report."""
    found = {}
    for report_path in reports:
        more = results(report_path, files, subset)
        for key in more:
            if key in found:
                raise Refused(f"{report_path}: test case '{key[1]}' of {key[0]} reported twice")
        found.update(more)
    return found


def shown(points):
    """Points as the table prints them: both sides of "9.47/9.47" rounded
    alike, to 2 places, without trailing zeros (10, 9.5, 9.47)."""
    return f"{points:.2f}".rstrip("0").rstrip(".")


def report(args, files):
    notes = list(args.note or [])
    if args.build_log:
        with open(args.build_log, encoding="utf-8", errors="replace") as f:
            tail = f.read().splitlines()[-BUILD_LOG_LINES:]
        why = (f"The build reached its time bound of {args.build_limit} s"
               if args.build_limit else "The build failed")
        notes.append(f"{why}; the last {len(tail)} lines of its log"
                     " (graded: what was built):\n" + "\n".join(tail))
    with_memcheck = bool(args.memcheck or args.memcheck_run)
    subset = args.memcheck_subset
    graded = [f for f in files if not f["ungraded"]]
    if subset:
        in_subset = sum(t["memcheck"] for f in graded for t in f["tests"])
        notes.append(f"Memcheck subset: the {in_subset} of {sum(len(f['tests']) for f in graded)} tests"
                     f" tagged memcheck give {PLAIN_SHARE:.0%} of their points for the plain run and"
                     f" {MEMCHECK_SHARE:.0%} for the memcheck run; the others give all of theirs"
                     " for the plain run.")
        notes += [f"{f['path']}: no test tagged memcheck: none of its tests runs under memcheck."
                  for f in graded if not any(t["memcheck"] for t in f["tests"])]
    if not with_memcheck:
        notes.append(f"No memcheck run (GRADE_VALGRIND=0): each test"
                     + (" of the memcheck subset" if subset else "")
                     + f" gives at most {PLAIN_SHARE:.0%} of its points.")

    plain = run_results(args.plain or [], files)
    memcheck = run_results(args.memcheck or [], files, subset)
    cuts = {}
    for kind, found in (("plain", plain), ("memcheck", memcheck)):
        cut, cut_notes = cut_results(args, kind, files, subset)
        for key in cut:
            if key in found:
                raise Refused(f"--cut {kind} {key[0]}: its JUnit report was given too")
        found.update(cut)
        cuts[kind] = cut
        notes += cut_notes
    write_junit(args.out, args.plain or [], args.memcheck or [], args.cut or [], cuts, files)

    tests, rows, total, total_max = [], [], 0.0, 0.0
    passed_all = count_all = 0
    for info in graded:
        worth, tagged = file_total(info)
        untagged = [t for t in info["tests"] if t["points"] is None]
        if tagged > info["points"]:
            notes.append(f"{info['path']}: its tagged tests sum to {tagged:g} points, more than"
                         f" the file's {info['points']:g}: the file is worth {tagged:g}.")
        each = (worth - tagged) / len(untagged) if untagged else 0.0
        score = top = 0.0
        passed = clean = checked = 0
        for test in info["tests"]:
            points = each if test["points"] is None else test["points"]
            key = (info["path"], test["name"])
            status, text = plain.get(key, ("missing", ""))
            split = in_run(test, "memcheck", subset)
            share = PLAIN_SHARE if split else 1.0
            got = points * share if status == "passed" else 0.0
            most = points * share
            output = "plain run: " + describe(status, text)
            if not split:
                output += ("\nmemcheck run: not of this test (not tagged memcheck):"
                           " the plain run gives all its points")
            elif with_memcheck:
                most += points * MEMCHECK_SHARE
                checked += status == "passed"
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
        passed_all, count_all = passed_all + passed, count_all + len(info["tests"])
        rows.append((info["chapter"], f"{passed}/{len(info['tests'])}",
                     f"{clean}/{checked}" if with_memcheck else "not run", f"{shown(score)}/{shown(top)}"))

    summary = f"ipc-lab suite: {shown(total)} of {shown(total_max)} points"
    replace_file(f"{args.out}/results.json", lambda f: json.dump(
        {"score": round(total, 2), "output": "\n\n".join(notes + [summary]), "tests": tests}, f, indent=2))
    replace_file(f"{args.out}/summary.json", lambda f: json.dump(
        {"score": round(total, 2), "max_score": round(total_max, 2), "passed": passed_all,
         "tests": count_all, "build_ok": not args.build_log,
         "build_timed_out": bool(args.build_log and args.build_limit),
         "cut": sorted({reason for _, _, _, reason in args.cut or []})}, f, indent=2))

    head = ("chapter", "tests", "memcheck", "points")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(4)]

    def line(row):
        return "  ".join(row[i].ljust(widths[i]) for i in range(4)).rstrip()

    text = "".join(note + "\n\n" for note in notes)
    text += "\n".join(line(row) for row in [head, tuple("-" * w for w in widths)] + rows)
    text += f"\n\ntotal: {shown(total)} of {shown(total_max)} points\n"
    replace_file(f"{args.out}/table.txt", lambda f: f.write(text))
    if not args.quiet:
        print(text, end="")
        print(f"wrote {args.out}/junit.xml and {args.out}/results.json")


def main():
    parser = argparse.ArgumentParser(prog="grade-report.py", description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="check the tags; print the graded files")
    parser.add_argument("--points", action="store_true", help="check the tags; print each graded file's total")
    parser.add_argument("--out")
    parser.add_argument("--plain", action="append")
    parser.add_argument("--memcheck", action="append")
    parser.add_argument("--memcheck-run", action="store_true")
    parser.add_argument("--memcheck-subset", action="store_true")
    parser.add_argument("--cut", nargs=4, action="append", metavar=("RUN", "FILE.bats", "TAP", "REASON"))
    parser.add_argument("--build-log")
    parser.add_argument("--build-limit")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--note", action="append")
    parser.add_argument("files", nargs="+", metavar="FILE.bats")
    args = parser.parse_args()
    listing = args.list or args.points
    if not listing and not (args.out and (args.plain or args.cut)):
        parser.error("--out and --plain (or --cut) are needed (or --list, --points)")
    try:
        files = [parse_bats(p) for p in dict.fromkeys(args.files)]
        if listing:
            for info in files:
                if info["ungraded"]:
                    print(f"grade: not graded (file_tags=ungraded): {info['path']}", file=sys.stderr)
                elif args.points:
                    print(f"{info['path']}\t{file_total(info)[0]:g}")
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
