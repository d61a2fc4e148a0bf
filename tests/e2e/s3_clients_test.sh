#!/usr/bin/env bash
# End-to-end: unmodified aws CLI and boto3 against tessera-s3 over 6 real nodes (k=4 m=2).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/s3_e2e_lib.sh"
require_aws_boto3
use_s3_cluster
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
assert_server_alive  # every server is still up
echo "e2e: PASS"
