#!/usr/bin/env bash
# End-to-end: aws CLI (Debian awscli) `s3 sync` of a nested tree up and back byte-exact, and
# `s3 ls` / `s3api list-objects-v2` pagination over 5,000 keys.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/s3_e2e_lib.sh"
require_aws_boto3
use_s3_cluster
aws $EP s3 mb s3://sync-bucket
# A tree of 50 files in nested directories, sizes from 0 bytes to ~9 MiB (multipart threshold is
# 8 MiB), names with spaces and non-ASCII characters.
mkdir -p tree
for i in $(seq 0 49); do
  d="tree/d$((i % 4))/sub $((i % 3))"
  [ $((i % 5)) -eq 0 ] && d="tree/d$((i % 4))/sub $((i % 3))/deeper/ü"
  mkdir -p "$d"
  case $((i % 10)) in
    0) size=0 ;;
    1) size=$((9 * 1024 * 1024 + i)) ;;
    *) size=$((i * 997)) ;;
  esac
  head -c "$size" /dev/urandom > "$d/file $i.bin"
done
[ "$(find tree -type f | wc -l)" -eq 50 ]
# S3 times have one-second granularity: files written in the same second as their upload could
# look newer than the copy and be synced again. Date them an hour back.
find tree -type f -exec touch -d '1 hour ago' {} +
if ! aws $EP s3 sync --only-show-errors --debug tree s3://sync-bucket/tree 2> sync.debug; then
  echo "--- aws --debug (last request/response lines) ---"
  grep -E "Sending http request|Response headers|Response body|Exception|Error|Traceback" \
    sync.debug | tail -n 60
  exit 1
fi
N=$(aws $EP s3 ls --recursive s3://sync-bucket/tree/ | wc -l)
[ "$N" -eq 50 ] || { echo "FAIL: $N objects after sync"; exit 1; }
# A second sync uploads nothing (sizes and times match).
AGAIN=$(aws $EP s3 sync tree s3://sync-bucket/tree)
[ -z "$AGAIN" ] || { echo "FAIL: second sync copied: $AGAIN"; exit 1; }
aws $EP s3 sync --only-show-errors s3://sync-bucket/tree back
diff -r tree back
echo "sync: 50 files up and back byte-exact"
# Change one file, delete one, sync --delete: the bucket follows.
head -c 1234 /dev/urandom > "tree/d1/sub 1/file 1.bin" 2>/dev/null || true
rm "tree/d2/sub 2/file 2.bin"
aws $EP s3 sync --only-show-errors --delete tree s3://sync-bucket/tree
rm -rf back2 && aws $EP s3 sync --only-show-errors s3://sync-bucket/tree back2
diff -r tree back2

# 5,000 keys, created in parallel with boto3, then listed with pagination.
python3 - <<'PY'
import os, boto3
from concurrent.futures import ThreadPoolExecutor
from botocore.config import Config
s3 = boto3.client('s3', endpoint_url='http://127.0.0.1:' + os.environ['PORT'],
                  config=Config(max_pool_connections=16, s3={'addressing_style': 'path'}))
s3.create_bucket(Bucket='many')
def put(i):
    s3.put_object(Bucket='many', Key='k/%05d' % i, Body=b'%d' % i)
with ThreadPoolExecutor(16) as pool:
    list(pool.map(put, range(5000)))
PY
aws $EP s3 ls --page-size 1000 s3://many/k/ > ls.out
[ "$(wc -l < ls.out)" -eq 5000 ] || { echo "s3 ls listed $(wc -l < ls.out) keys"; exit 1; }
awk '{print $4}' ls.out > names
seq -f '%05g' 0 4999 | diff - names
aws $EP s3 ls --page-size 1000 --recursive s3://many | wc -l | grep -qx 5000
# list-objects-v2 --max-items pages through NextToken.
aws $EP s3api list-objects-v2 --bucket many --page-size 300 --max-items 1234 > p1.json
python3 - <<'PY'
import json, subprocess, os
p1 = json.load(open('p1.json'))
keys = [o['Key'] for o in p1['Contents']]
assert keys == ['k/%05d' % i for i in range(1234)], (len(keys), keys[:3], keys[-3:])
tok = p1['NextToken']
out = subprocess.run(['aws', '--endpoint-url', 'http://127.0.0.1:' + os.environ['PORT'],
                      's3api', 'list-objects-v2', '--bucket', 'many', '--page-size', '1000',
                      '--starting-token', tok], check=True, capture_output=True).stdout
rest = [o['Key'] for o in json.loads(out)['Contents']]
assert keys + rest == ['k/%05d' % i for i in range(5000)], (len(rest), rest[:3])
PY
aws $EP s3api list-objects-v2 --bucket many --delimiter / --query 'CommonPrefixes[].Prefix' \
  --output text | grep -qx 'k/'
aws $EP s3 rm --recursive --only-show-errors s3://many
[ -z "$(aws $EP s3 ls s3://many)" ]
aws $EP s3 rb s3://many
aws $EP s3 rb --force s3://sync-bucket > /dev/null
assert_server_alive
echo "e2e aws CLI sync/ls: PASS"
