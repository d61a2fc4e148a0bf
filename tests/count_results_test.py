#!/usr/bin/env python3
"""Tests for count_results.py: Bazel's verdict decides, skipped targets count nothing."""
import io
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import count_results  # noqa: E402

GTEST_XML = """<?xml version="1.0"?>
<testsuites><testsuite name="S" tests="{n}" failures="{f}">{cases}</testsuite></testsuites>"""


def case(name, kind=None):
    inner = {"fail": "<failure message='x'/>", "skip": "<skipped/>"}.get(kind, "")
    return f"<testcase name='{name}' status='run'>{inner}</testcase>"


class CountResultsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.bep = os.path.join(self.dir, "bep.json")
        self.events = []

    def target(self, label, verdict, cases=None, raw_xml=None):
        path = os.path.join(self.dir, label.lstrip("/").replace(":", "/"))
        os.makedirs(path, exist_ok=True)
        if raw_xml is not None or cases is not None:
            xml = raw_xml if raw_xml is not None else GTEST_XML.format(
                n=len(cases), f=sum("failure" in c for c in cases), cases="".join(cases))
            with open(os.path.join(path, "test.xml"), "w") as f:
                f.write(xml)
        if verdict is not None:
            self.events.append({"id": {"testSummary": {"label": label}},
                                "testSummary": {"overallStatus": verdict}})

    def run_tally(self, labels):
        with open(self.bep, "w") as f:
            f.write(json.dumps({"id": {"started": {}}, "started": {}}) + "\n")
            for e in self.events:
                f.write(json.dumps(e) + "\n")
        report = io.StringIO()
        return count_results.tally(self.dir, count_results.read_verdicts(self.bep), labels,
                                   report), report.getvalue()

    def test_passing_target_counts_its_cases(self):
        self.target("//a:t", "PASSED", [case("x"), case("y")])
        self.assertEqual(self.run_tally(["//a:t"])[0], (2, 0))

    def test_target_bazel_failed_with_all_cases_passing_is_a_failure(self):
        # A sanitizer report at exit, or a crash after the last case: gtest's XML says pass.
        self.target("//a:asan", "FAILED", [case("x"), case("y")])
        (p, f), report = self.run_tally(["//a:asan"])
        self.assertEqual((p, f), (0, 1))
        self.assertIn("//a:asan", report)

    def test_failed_cases_are_counted_each(self):
        self.target("//a:t", "FAILED", [case("x"), case("y", "fail"), case("z", "fail")])
        self.assertEqual(self.run_tally(["//a:t"])[0], (0, 2))

    def test_all_skipped_counts_nothing_and_is_reported(self):
        self.target("//a:skips", "PASSED", [case("x", "skip"), case("y", "skip")])
        (p, f), report = self.run_tally(["//a:skips"])
        self.assertEqual((p, f), (0, 0))
        self.assertIn("skipped", report)

    def test_no_verdict_or_no_xml_is_a_failure(self):
        self.target("//a:nobuild", None)
        self.target("//a:timeout", "TIMEOUT", raw_xml="not xml")
        self.assertEqual(self.run_tally(["//a:nobuild", "//a:timeout"])[0], (0, 2))

    def test_shell_test_is_one_case(self):
        self.target("//a:sh", "PASSED",
                    raw_xml="<testsuites><testsuite name='s' tests='1' failures='0'/></testsuites>")
        self.target("//a:shfail", "FAILED",
                    raw_xml="<testsuites><testsuite name='s' tests='1' failures='1'/></testsuites>")
        self.assertEqual(self.run_tally(["//a:sh", "//a:shfail"])[0], (1, 1))


if __name__ == "__main__":
    unittest.main()
