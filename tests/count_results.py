#!/usr/bin/env python3
"""Counts passed and failed test cases of Bazel test targets from their JUnit XML.

usage: count_results.py TESTLOGS_DIR //pkg:target...
Prints "PASSED FAILED". A target without a readable test.xml (it failed to build, crashed before
writing results, or timed out) counts as one failed case, so nothing is silently skipped.
"""
import os
import sys
import xml.etree.ElementTree as ET


def count(xml_path):
    root = ET.parse(xml_path).getroot()
    passed = failed = 0
    for case in root.iter("testcase"):
        if case.get("status") == "notrun" or case.find("skipped") is not None:
            continue
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        else:
            passed += 1
    if passed == 0 and failed == 0:
        # A non-gtest test (a shell script) yields a single case described by the suite.
        suite_failures = sum(int(s.get("failures", 0)) + int(s.get("errors", 0))
                             for s in root.iter("testsuite"))
        return (0, 1) if suite_failures else (1, 0)
    return passed, failed


def main():
    logs, targets = sys.argv[1], sys.argv[2:]
    total_passed = total_failed = 0
    for target in targets:
        path = target.lstrip("/").replace(":", "/")
        xml_path = os.path.join(logs, path, "test.xml")
        try:
            p, f = count(xml_path)
        except (OSError, ET.ParseError):
            p, f = 0, 1
            print(f"no results for {target}", file=sys.stderr)
        total_passed += p
        total_failed += f
    print(total_passed, total_failed)


if __name__ == "__main__":
    main()
