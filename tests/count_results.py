#!/usr/bin/env python3
"""Counts passed and failed test cases of Bazel test targets.

usage: count_results.py TESTLOGS_DIR BEP_JSON //pkg:target...
Prints "PASSED FAILED" on stdout and a line per target that did not simply pass on stderr.

Bazel's verdict for a target comes first (the build event protocol file written by
`bazel test --build_event_json_file=BEP_JSON`): its test cases are then counted from the JUnit
XML. So:
  * a target Bazel failed is never counted as passed, even when its XML lists only passing
    cases (a sanitizer report at exit, a crash after the last case, a SetUpTestSuite failure):
    it counts max(1, failed cases) failures;
  * a target Bazel passed counts its passing cases; one whose cases were all skipped counts
    nothing (it is reported as skipped, not passed);
  * a target with no verdict (it did not build, or the run was cut short) counts one failure.
"""
import json
import os
import sys
import xml.etree.ElementTree as ET

PASSING = {"PASSED", "FLAKY"}


def read_verdicts(bep_path):
    """label -> overall status (PASSED, FAILED, TIMEOUT, FLAKY, NO_STATUS, ...)."""
    verdicts = {}
    try:
        with open(bep_path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                summary = event.get("testSummary")
                label = event.get("id", {}).get("testSummary", {}).get("label")
                if summary is not None and label:
                    verdicts[label] = summary.get("overallStatus", "NO_STATUS")
    except OSError:
        pass
    return verdicts


def count_cases(xml_path):
    """(passed, failed, skipped) cases of one test.xml."""
    root = ET.parse(xml_path).getroot()
    passed = failed = skipped = 0
    cases = 0
    for case in root.iter("testcase"):
        cases += 1
        if case.get("status") == "notrun" or case.find("skipped") is not None:
            skipped += 1
        elif case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        else:
            passed += 1
    if cases == 0:
        # A non-gtest test (a shell script) yields a single case described by the suite.
        suite_failures = sum(int(s.get("failures", 0)) + int(s.get("errors", 0))
                             for s in root.iter("testsuite"))
        return (0, 1, 0) if suite_failures else (1, 0, 0)
    return passed, failed, skipped


def tally(logs, verdicts, targets, report=sys.stderr):
    total_passed = total_failed = 0
    for target in targets:
        verdict = verdicts.get(target, "NO_STATUS")
        path = target.lstrip("/").replace(":", "/")
        xml_path = os.path.join(logs, path, "test.xml")
        try:
            p, f, s = count_cases(xml_path)
        except (OSError, ET.ParseError):
            p, f, s = 0, 0, 0
        if verdict in PASSING:
            if f > 0:  # Bazel passed a target whose XML lists failures: trust the failures
                print(f"{target}: {f} failed case(s) in a target Bazel passed", file=report)
            elif p == 0:
                print(f"{target}: every case skipped (counted as nothing)", file=report)
            total_passed += p
            total_failed += f
        else:
            failed = max(1, f)
            print(f"{target}: {verdict} ({failed} counted as failed)", file=report)
            total_failed += failed
    return total_passed, total_failed


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    logs, bep, targets = sys.argv[1], sys.argv[2], sys.argv[3:]
    passed, failed = tally(logs, read_verdicts(bep), targets)
    print(passed, failed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
