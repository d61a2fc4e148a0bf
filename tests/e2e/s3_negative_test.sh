#!/usr/bin/env bash
# End-to-end: wrong secret, expired / tampered presigned URLs (curl), tampered payload, truncated
# bodies, garbage HTTP, huge headers: the right errors, nothing partial stored, gateway stays up.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/s3_e2e_lib.sh"
require_aws_boto3
command -v curl >/dev/null || { echo "curl missing (setup.sh installs it)"; exit 1; }
use_s3_cluster
python3 "$HERE/s3_negative_test.py"
# The wrong secret through the aws CLI too.
if AWS_SECRET_ACCESS_KEY=wrong-secret-wrong-secret-wrong! aws $EP s3 ls 2> wrong.err; then
  echo "wrong secret accepted"; exit 1
fi
grep -q SignatureDoesNotMatch wrong.err
assert_server_alive
echo "e2e negative: PASS"
