#!/usr/bin/env bash
# End-to-end: unmodified aws CLI and boto3 against s3_dev_server (6 real nodes, k=4 m=2).
set -euo pipefail
SERVER="$(realpath "$1")"
T="${TEST_TMPDIR:-$(mktemp -d)}"
cd "$T"
# The clients are Debian's packages (setup.sh installs awscli and python3-boto3); put their
# directory first so a user-level Python or aws install cannot change what is tested.
export PATH="/usr/bin:$PATH"
if ! command -v aws >/dev/null || ! python3 -c "import boto3" 2>/dev/null; then
  echo "aws CLI / boto3 missing (setup.sh installs them)"; exit 1
fi
printf '[alice]\naccess_key = AKIAALICE00000000001\nsecret_key = alicesecretalicesecret0123456789\n' > creds.ini
chmod 600 creds.ini
"$SERVER" --credentials_file=creds.ini --port_file=port < /dev/null > server.out 2> server.err &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 300); do [ -f port ] && break; kill -0 $PID || { cat server.err; exit 1; }; sleep 0.1; done
PORT=$(cat port)
export AWS_ACCESS_KEY_ID=AKIAALICE00000000001 AWS_SECRET_ACCESS_KEY=alicesecretalicesecret0123456789
export AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
EP="--endpoint-url http://127.0.0.1:$PORT"
aws $EP s3 mb s3://e2e-bucket
head -c 40000000 /dev/urandom > big
aws $EP s3 cp --only-show-errors big s3://e2e-bucket/big          # multipart (5 parts)
aws $EP s3 cp --only-show-errors s3://e2e-bucket/big big.back
cmp big big.back
aws $EP s3api head-object --bucket e2e-bucket --key big | grep -q -- '-5\\"'
URL=$(aws $EP s3 presign s3://e2e-bucket/big --expires-in 60)
python3 - "$URL" <<'PY'
import sys, urllib.request, hashlib
data = urllib.request.urlopen(sys.argv[1]).read()
assert data == open('big', 'rb').read(), 'presigned download differs'
PY
PORT=$PORT python3 - <<'PY'
import os, boto3, botocore
from botocore.config import Config
s3 = boto3.client('s3', endpoint_url='http://127.0.0.1:' + os.environ['PORT'],
                  config=Config(s3={'addressing_style': 'path'}))
s3.put_object(Bucket='e2e-bucket', Key='k', Body=b'hello world', Metadata={'a': 'b'},
              ContentType='text/plain')
r = s3.get_object(Bucket='e2e-bucket', Key='k')
assert r['Body'].read() == b'hello world' and r['Metadata'] == {'a': 'b'}
assert s3.get_object(Bucket='e2e-bucket', Key='k', Range='bytes=-5')['Body'].read() == b'world'
etag = r['ETag']
try:
    s3.get_object(Bucket='e2e-bucket', Key='k', IfNoneMatch=etag); raise AssertionError('304')
except botocore.exceptions.ClientError as e:
    assert e.response['ResponseMetadata']['HTTPStatusCode'] == 304
try:
    s3.get_object(Bucket='e2e-bucket', Key='missing'); raise AssertionError('404')
except botocore.exceptions.ClientError as e:
    assert e.response['Error']['Code'] == 'NoSuchKey', e.response
s3.copy_object(Bucket='e2e-bucket', Key='k2', CopySource={'Bucket': 'e2e-bucket', 'Key': 'k'})
assert s3.get_object(Bucket='e2e-bucket', Key='k2')['Body'].read() == b'hello world'
up = s3.create_multipart_upload(Bucket='e2e-bucket', Key='mp')['UploadId']
s3.upload_part(Bucket='e2e-bucket', Key='mp', UploadId=up, PartNumber=1, Body=b'x' * 100)
assert [u['UploadId'] for u in s3.list_multipart_uploads(Bucket='e2e-bucket')['Uploads']] == [up]
assert len(s3.list_parts(Bucket='e2e-bucket', Key='mp', UploadId=up)['Parts']) == 1
s3.abort_multipart_upload(Bucket='e2e-bucket', Key='mp', UploadId=up)
assert 'Uploads' not in s3.list_multipart_uploads(Bucket='e2e-bucket')
bad = boto3.client('s3', endpoint_url='http://127.0.0.1:' + os.environ['PORT'],
                   aws_access_key_id=os.environ['AWS_ACCESS_KEY_ID'],
                   aws_secret_access_key='wrongwrongwrongwrongwrong')
try:
    bad.list_buckets(); raise AssertionError('wrong secret accepted')
except botocore.exceptions.ClientError as e:
    assert e.response['Error']['Code'] == 'SignatureDoesNotMatch', e.response
print('boto3 checks passed')
PY
aws $EP s3 rm s3://e2e-bucket --recursive --only-show-errors
aws $EP s3 rb s3://e2e-bucket
kill -0 $PID  # the gateway is still up
echo "e2e: PASS"
