#!/usr/bin/env bash
# End-to-end: boto3 (Debian python3-boto3) listing, conditionals, copy, multi-delete, checksums.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/s3_e2e_lib.sh"
require_aws_boto3
use_s3_cluster
python3 "$HERE/s3_boto3_test.py"
assert_server_alive
echo "e2e boto3: PASS"
