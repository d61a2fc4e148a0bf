#!/usr/bin/env bash
# End-to-end: aws CLI `s3 cp` of a large file (multipart, 8 MiB parts) both ways byte-exact.
# 1 GiB by default (about 30 s here); S3_E2E_BIG_MIB=256 for a quicker run.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/s3_e2e_lib.sh"
require_aws_boto3
MIB="${S3_E2E_BIG_MIB:-1024}"
use_s3_cluster
aws $EP s3 mb s3://big-bucket
head -c $((MIB << 20)) /dev/urandom > big
aws $EP s3 cp --only-show-errors big s3://big-bucket/big
aws $EP s3 cp --only-show-errors s3://big-bucket/big big.back
cmp big big.back
PARTS=$(( (MIB + 7) / 8 ))
aws $EP s3api head-object --bucket big-bucket --key big > head.json
grep -q -- "-$PARTS\\\\\"" head.json || { cat head.json; exit 1; }
grep -q "\"ContentLength\": $((MIB << 20))" head.json
# A ranged read across a part boundary (parts are 8 MiB).
aws $EP s3api get-object --bucket big-bucket --key big --range "bytes=8388000-8389000" part.bin \
  > /dev/null
cmp part.bin <(tail -c +8388001 big | head -c 1001)
rm -f big.back
aws $EP s3 rm --only-show-errors s3://big-bucket/big
aws $EP s3 rb s3://big-bucket
assert_server_alive
echo "e2e aws CLI ${MIB} MiB cp: PASS"
