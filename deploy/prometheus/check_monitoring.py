#!/usr/bin/env python3
"""Checks Tessera's monitoring files with the real Prometheus tools.

  check_monitoring.py DIR [--exposition FILE ...]

DIR is deploy/. Checks, each failing the run:
  1. `promtool check rules` on prometheus/tessera-alerts.yaml (syntax, PromQL, templates);
  2. `promtool test rules` on prometheus/tessera-alerts_test.yaml (the alerts fire when they should);
  3. the Grafana dashboard (grafana/tessera-dashboard.json): panel ids unique, panels inside the
     24-column grid, every target has an expression and a refId and uses the ${datasource}
     variable, and every expression is valid PromQL (promtool parses them as recording rules,
     with Grafana's $__rate_interval replaced by 5m);
  4. with --exposition: every tessera_* metric the alerts or the dashboard name is exported by
     one of the given /metrics bodies (so a renamed metric cannot leave a dead panel or alert).
"""
import json
import os
import re
import subprocess
import sys
import tempfile

METRIC = re.compile(r"\btessera_[a-z0-9_]+\b")
SUFFIXES = ("_bucket", "_sum", "_count")


def run(args):
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(f"FAILED: {' '.join(args)}\n{result.stdout}{result.stderr}\n")
    return result.returncode == 0


def dashboard_exprs(path, errors):
    with open(path) as f:
        dash = json.load(f)
    exprs, ids = [], set()
    for panel in dash.get("panels", []):
        pid, title = panel.get("id"), panel.get("title")
        if pid in ids:
            errors.append(f"panel id {pid} repeated ({title})")
        ids.add(pid)
        grid = panel.get("gridPos", {})
        if grid.get("x", 0) + grid.get("w", 0) > 24:
            errors.append(f"panel {title!r} extends past the 24-column grid")
        if panel.get("type") == "row":
            continue
        if not panel.get("targets"):
            errors.append(f"panel {title!r} has no query")
        for t in panel.get("targets", []):
            if not t.get("expr") or not t.get("refId"):
                errors.append(f"panel {title!r}: a target without expr or refId")
                continue
            if t.get("datasource", {}).get("uid") != "${datasource}":
                errors.append(f"panel {title!r}: target not on the ${{datasource}} variable")
            exprs.append(t["expr"])
    return exprs


def exported_families(paths):
    families = set()
    for p in paths:
        with open(p) as f:
            for line in f:
                if line.startswith("# TYPE "):
                    families.add(line.split()[2])
    return families


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    root = argv[1]
    expositions = argv[argv.index("--exposition") + 1:] if "--exposition" in argv else []
    alerts = os.path.join(root, "prometheus", "tessera-alerts.yaml")
    alert_tests = os.path.join(root, "prometheus", "tessera-alerts_test.yaml")
    dashboard = os.path.join(root, "grafana", "tessera-dashboard.json")

    ok = run(["promtool", "check", "rules", alerts])
    # promtool resolves rule_files relative to the working directory.
    ok &= subprocess.run(["promtool", "test", "rules", os.path.basename(alert_tests)],
                         cwd=os.path.dirname(alert_tests)).returncode == 0

    errors = []
    exprs = dashboard_exprs(dashboard, errors)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as rules:
        rules.write("groups:\n  - name: dashboard\n    rules:\n")
        for i, e in enumerate(exprs):
            e = e.replace("$__rate_interval", "5m")
            rules.write(f"      - record: dashboard:expr_{i}\n        expr: {json.dumps(e)}\n")
    ok &= run(["promtool", "check", "rules", rules.name])
    os.unlink(rules.name)

    if expositions:
        families = exported_families(expositions)
        with open(alerts) as f:
            named = set(METRIC.findall(f.read()))
        for e in exprs:
            named |= set(METRIC.findall(e))
        for name in sorted(named):
            base = next((name[: -len(s)] for s in SUFFIXES if name.endswith(s)), name)
            if name not in families and base not in families:
                errors.append(f"{name} is named by an alert or panel but no daemon exports it")

    for e in errors:
        sys.stderr.write(f"FAILED: {e}\n")
    ok &= not errors
    print(f"monitoring: {len(exprs)} dashboard queries, alerts and tests checked: "
          f"{'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
