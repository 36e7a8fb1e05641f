#!/usr/bin/env python3
"""grade-report.py OUT_DIR PLAIN_JUNIT [VALGRIND_JUNIT]

Turns the JUnit reports of tools/grade into build/grade/junit.xml (both runs,
one file), build/grade/results.json (Gradescope) and a table on stdout.

Points: each chapter (and the common rules) is worth 10: 8 shared evenly by
its tests, 2 for a valgrind run of its tests with no failure.
"""
import json
import sys
import xml.etree.ElementTree as ET

CHAPTER_POINTS = 10.0
VALGRIND_POINTS = 2.0


def suites(path):
    root = ET.parse(path).getroot()
    return root.findall("testsuite") if root.tag == "testsuites" else [root]


def cases(path):
    """(chapter, name, passed, skipped, failure text) for every test case."""
    for suite in suites(path):
        chapter = suite.get("name", "").removesuffix(".bats")
        for case in suite.findall("testcase"):
            failure = case.find("failure")
            if failure is None:
                failure = case.find("error")
            skipped = case.find("skipped") is not None
            text = "" if failure is None else (failure.text or failure.get("message", ""))
            yield chapter, case.get("name", ""), failure is None, skipped, text


def main():
    out, plain = sys.argv[1], sys.argv[2]
    valgrind = sys.argv[3] if len(sys.argv) > 3 else None

    # One JUnit file with both runs; the valgrind suites are renamed.
    merged = ET.Element("testsuites")
    for suite in suites(plain):
        merged.append(suite)
    if valgrind:
        for suite in suites(valgrind):
            suite.set("name", "valgrind: " + suite.get("name", ""))
            for case in suite.findall("testcase"):
                case.set("classname", "valgrind: " + case.get("classname", ""))
            merged.append(suite)
    ET.ElementTree(merged).write(f"{out}/junit.xml", encoding="UTF-8", xml_declaration=True)

    plain_cases = list(cases(plain))
    valgrind_cases = list(cases(valgrind)) if valgrind else []
    chapters = sorted({c[0] for c in plain_cases})

    tests, rows, total, total_max = [], [], 0.0, 0.0
    for chapter in chapters:
        mine = [c for c in plain_cases if c[0] == chapter and not c[3]]
        test_points = CHAPTER_POINTS - VALGRIND_POINTS
        each = test_points / len(mine) if mine else 0.0
        passed = 0
        for number, (_, name, ok, _, text) in enumerate(mine, 1):
            passed += ok
            tests.append({
                "name": f"{chapter}: {name}",
                "number": f"{chapter}.{number}",
                "score": round(each if ok else 0.0, 4),
                "max_score": round(each, 4),
                "status": "passed" if ok else "failed",
                "output": text,
                "visibility": "visible",
            })
        vg = [c for c in valgrind_cases if c[0] == chapter and not c[3]]
        vg_clean = bool(vg) and all(c[2] for c in vg)
        if valgrind:
            tests.append({
                "name": f"{chapter}: valgrind clean (every test passes under memcheck)",
                "number": f"{chapter}.valgrind",
                "score": VALGRIND_POINTS if vg_clean else 0.0,
                "max_score": VALGRIND_POINTS,
                "status": "passed" if vg_clean else "failed",
                "output": "\n".join(f"{n}: {t}" for _, n, ok, _, t in vg if not ok),
                "visibility": "visible",
            })
        score = sum(t["score"] for t in tests if t["number"].startswith(chapter + "."))
        top = CHAPTER_POINTS if valgrind else test_points
        total, total_max = total + score, total_max + top
        vg_text = ("clean" if vg_clean else f"NOT clean ({sum(not c[2] for c in vg)} failed)") if valgrind else "not run"
        rows.append((chapter, f"{passed}/{len(mine)}", vg_text, f"{score:.1f}/{top:.0f}"))

    with open(f"{out}/results.json", "w", encoding="utf-8") as f:
        json.dump({"score": round(total, 2), "tests": tests,
                   "output": f"ipc-lab suite: {total:.1f} of {total_max:.0f} points"}, f, indent=2)

    widths = [max(len(r[i]) for r in rows + [("chapter", "tests", "valgrind", "points")]) for i in range(4)]
    line = lambda r: "  ".join(r[i].ljust(widths[i]) for i in range(4))
    print(line(("chapter", "tests", "valgrind", "points")))
    print(line(tuple("-" * w for w in widths)))
    for r in rows:
        print(line(r))
    print(f"\ntotal: {total:.1f} of {total_max:.0f} points")
    print(f"wrote {out}/junit.xml and {out}/results.json")


if __name__ == "__main__":
    main()
