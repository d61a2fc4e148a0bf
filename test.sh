#!/usr/bin/env bash
# Runs every test: the whole tree at -O2, then base/ and storage/ again under ASan+UBSan.
# Prints "N passed, N failed" (test cases, from the JUnit XML Bazel writes) as its last line and
# exits non-zero on any failure.   ./test.sh [--quick]   (--quick skips the sanitizer pass)
set -uo pipefail
cd "$(dirname "$0")"

status=0
tally=$(mktemp)
trap 'rm -f "$tally"' EXIT

# run_pass NAME FLAGS PATTERN...: runs the tests, then tallies their test cases.
run_pass() {
  local name="$1" flags="$2"; shift 2
  echo "== $name: bazel test $flags $*"
  # Bazel's own verdict per target (build event protocol), so a target it failed is never
  # counted as passed from its XML alone.
  local bep
  bep=$(mktemp)
  # shellcheck disable=SC2086
  bazel test $flags --build_event_json_file="$bep" "$@"
  local rc=$?
  # Exit code 4 means the patterns held no test; anything else non-zero is a failure.
  if [ $rc -ne 0 ] && [ $rc -ne 4 ]; then status=1; fi
  local logs targets
  # shellcheck disable=SC2086
  logs=$(bazel info $flags bazel-testlogs 2>/dev/null)
  targets=$(bazel query "tests(set($*))" 2>/dev/null)
  python3 tests/count_results.py "$logs" "$bep" $targets >> "$tally"
  rm -f "$bep"
}

# run_check NAME COMMAND...: a repository-wide check that counts as one test case.
run_check() {
  local name="$1"; shift
  echo "== check: $name"
  if "$@"; then echo "1 0" >> "$tally"; else echo "0 1" >> "$tally"; status=1; fi
}

format_check() {
  local files
  files=$(git ls-files '*.h' '*.cc')
  [ -z "$files" ] && return 0
  # shellcheck disable=SC2086
  clang-format --dry-run --Werror $files
}

run_check "layering (api, base -> storage, p2p -> services)" python3 tests/layering_check.py .
run_check "clang-format" format_check
run_check "test result counting" python3 tests/count_results_test.py
run_pass "all tests" "" //...
if [ "${1:-}" != "--quick" ]; then
  # libFuzzer over request parsing, SigV4 canonicalisation, aws-chunked bodies and XML.
  run_check "fuzzers (10 s each)" env FUZZ_OUT="$(mktemp -d)" tests/fuzz/run_fuzzers.sh 10
fi
if [ "${1:-}" != "--quick" ]; then
  sanitized=()
  for dir in base storage; do
    if [ -n "$(find "$dir" -name BUILD.bazel 2>/dev/null)" ]; then sanitized+=("//$dir/..."); fi
  done
  run_pass "sanitizers (ASan+UBSan)" "--config=asan" "${sanitized[@]}"
fi

read -r passed failed < <(awk '{p+=$1; f+=$2} END {print p+0, f+0}' "$tally")
if [ "$failed" -gt 0 ]; then status=1; fi
if [ $status -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi  # a build failure counts too
echo "$passed passed, $failed failed"
exit $status
