#!/usr/bin/env bash
# Bazel test: deploy/prometheus/check_monitoring.py over the alert rules and the dashboard.
set -euo pipefail
root="${TEST_SRCDIR}/${TEST_WORKSPACE}/deploy"
exec python3 "$root/prometheus/check_monitoring.py" "$root"
