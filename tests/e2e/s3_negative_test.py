"""Hostile and broken requests against the S3 gateway: each gets the AWS error, the gateway stays
up, and nothing partial is stored. Run by s3_negative_test.sh (PORT, AWS_* set)."""
import datetime
import hashlib
import os
import socket
import subprocess

import boto3
import botocore
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

PORT = int(os.environ['PORT'])
EP = 'http://127.0.0.1:%d' % PORT
CFG = Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1}, signature_version='s3v4')
s3 = boto3.client('s3', endpoint_url=EP, config=CFG)
CREDS = Credentials(os.environ['AWS_ACCESS_KEY_ID'], os.environ['AWS_SECRET_ACCESS_KEY'])
B = 'neg-' + os.urandom(4).hex()
checks = 0


def check(cond, what):
    global checks
    if not cond:
        raise AssertionError(what)
    checks += 1


def error_of(fn, **kw):
    try:
        fn(**kw)
    except botocore.exceptions.ClientError as e:
        return e.response['Error'].get('Code'), e.response['ResponseMetadata']['HTTPStatusCode']
    raise AssertionError('%s(%s) succeeded' % (fn.__name__, kw))


def alive():
    """The gateway still serves, and no partial object is visible."""
    keys = [o['Key'] for o in s3.list_objects_v2(Bucket=B).get('Contents', [])]
    check(keys == ['ok'], 'bucket holds exactly the good object: %r' % keys)
    check(s3.get_object(Bucket=B, Key='ok')['Body'].read() == b'good', 'good object intact')
    check('Uploads' not in s3.list_multipart_uploads(Bucket=B) or
          all(len(s3.list_parts(Bucket=B, Key=u['Key'], UploadId=u['UploadId']).get('Parts', []))
              == 0 for u in s3.list_multipart_uploads(Bucket=B)['Uploads']), 'no partial parts')


def signed_headers(method, path, body_hash, extra=None):
    """SigV4 headers for a request whose payload hash is `body_hash`."""
    headers = {'x-amz-content-sha256': body_hash}
    headers.update(extra or {})
    req = AWSRequest(method=method, url=EP + path, headers=headers)
    req.context['payload_signing_enabled'] = True
    auth = botocore.auth.S3SigV4Auth(CREDS, 's3', 'us-east-1')
    auth.payload_signing_enabled = True
    auth.add_auth(req)
    return dict(req.headers.items())


def raw(data, read=True, shutdown=False):
    """Sends raw bytes on a fresh connection; returns the response head (or b'')."""
    with socket.create_connection(('127.0.0.1', PORT), timeout=30) as c:
        c.sendall(data)
        if shutdown:
            c.shutdown(socket.SHUT_WR)
        if not read:
            return b''
        out = b''
        try:
            while b'\r\n\r\n' not in out:
                piece = c.recv(65536)
                if not piece:
                    break
                out += piece
        except (ConnectionResetError, socket.timeout):
            pass
        return out


def status_of(head):
    line = head.split(b'\r\n', 1)[0].split()
    return int(line[1]) if len(line) >= 2 and line[0].startswith(b'HTTP/') else None


def request_bytes(method, path, headers, body=b''):
    h = ''.join('%s: %s\r\n' % (k, v) for k, v in headers.items())
    return ('%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n' % (method, path, PORT, h)).encode() + body


s3.create_bucket(Bucket=B)
s3.put_object(Bucket=B, Key='ok', Body=b'good')

# 1. Wrong secret.
bad = boto3.client('s3', endpoint_url=EP, config=CFG,
                   aws_access_key_id=os.environ['AWS_ACCESS_KEY_ID'],
                   aws_secret_access_key='wrong-secret-wrong-secret-wrong!')
check(error_of(bad.put_object, Bucket=B, Key='w', Body=b'x') == ('SignatureDoesNotMatch', 403),
      'wrong secret')
unknown = boto3.client('s3', endpoint_url=EP, config=CFG, aws_access_key_id='AKIANOBODY0000000000',
                       aws_secret_access_key='whatever-whatever-whatever-12345')
check(error_of(unknown.list_buckets) == ('InvalidAccessKeyId', 403), 'unknown access key')
alive()

# 2. Presigned URLs with curl: a valid one works, an expired one is AccessDenied, a tampered one
# is SignatureDoesNotMatch.
url = s3.generate_presigned_url('get_object', Params={'Bucket': B, 'Key': 'ok'}, ExpiresIn=300)
out = subprocess.run(['curl', '-s', url], check=True, capture_output=True).stdout
check(out == b'good', 'presigned GET with curl')
real_datetime = botocore.auth.datetime.datetime


class TwoHoursAgo(real_datetime):
    @classmethod
    def utcnow(cls):
        return real_datetime.utcnow() - datetime.timedelta(hours=2)


botocore.auth.datetime.datetime = TwoHoursAgo
try:
    expired = s3.generate_presigned_url('get_object', Params={'Bucket': B, 'Key': 'ok'},
                                        ExpiresIn=60)
finally:
    botocore.auth.datetime.datetime = real_datetime
r = subprocess.run(['curl', '-s', '-w', '\n%{http_code}', expired], check=True,
                   capture_output=True).stdout.decode()
check(r.endswith('\n403') and '<Code>AccessDenied</Code>' in r and 'expired' in r.lower(),
      'expired presign: %s' % r)
r = subprocess.run(['curl', '-s', '-w', '\n%{http_code}', url.replace('/ok?', '/ok2?')],
                   check=True, capture_output=True).stdout.decode()
check(r.endswith('\n403') and '<Code>SignatureDoesNotMatch</Code>' in r, 'tampered presign: %s' % r)
put_url = s3.generate_presigned_url('put_object', Params={'Bucket': B, 'Key': 'pp'}, ExpiresIn=300)
subprocess.run(['curl', '-sf', '-X', 'PUT', '--data-binary', 'presigned put', put_url], check=True)
check(s3.get_object(Bucket=B, Key='pp')['Body'].read() == b'presigned put', 'presigned PUT')
s3.delete_object(Bucket=B, Key='pp')
alive()

# 3. Tampered payload: the signed x-amz-content-sha256 does not match the body sent.
body = b'the body that was signed'
h = signed_headers('PUT', '/%s/tampered' % B, hashlib.sha256(body).hexdigest(),
                   {'Content-Length': str(len(body))})
resp = raw(request_bytes('PUT', '/%s/tampered' % B, h, b'the body that was SIGNED'))
check(status_of(resp) == 400 and b'XAmzContentSHA256Mismatch' in resp or
      status_of(resp) == 403, 'tampered payload: %r' % resp[:300])
# A signed header changed after signing.
h2 = dict(h)
h2['Content-Length'] = str(len(body))
h2['x-amz-content-sha256'] = hashlib.sha256(b'other').hexdigest()
resp = raw(request_bytes('PUT', '/%s/tampered' % B, h2, b'other'))
check(status_of(resp) == 403 and b'SignatureDoesNotMatch' in resp, 'tampered header: %r' % resp)
alive()

# 4. Truncated bodies: Content-Length larger than what is sent, then the connection closes.
for key, unsigned in (('trunc-signed', False), ('trunc-unsigned', True)):
    full = os.urandom(1 << 20)
    digest = 'UNSIGNED-PAYLOAD' if unsigned else hashlib.sha256(full).hexdigest()
    h = signed_headers('PUT', '/%s/%s' % (B, key), digest, {'Content-Length': str(len(full))})
    raw(request_bytes('PUT', '/%s/%s' % (B, key), h, full[:300000]), read=False, shutdown=True)
# Truncated aws-chunked body (STREAMING-UNSIGNED-PAYLOAD-TRAILER framing cut mid-chunk).
h = signed_headers('PUT', '/%s/trunc-chunked' % B, 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
                   {'Content-Encoding': 'aws-chunked', 'x-amz-decoded-content-length': '100000',
                    'x-amz-trailer': 'x-amz-checksum-crc32', 'Content-Length': '100100'})
raw(request_bytes('PUT', '/%s/trunc-chunked' % B, h, b'186a0\r\n' + b'z' * 5000), read=False,
    shutdown=True)
# A truncated multipart part.
up = s3.create_multipart_upload(Bucket=B, Key='mp')['UploadId']
path = '/%s/mp?partNumber=1&uploadId=%s' % (B, up)
h = signed_headers('PUT', path, 'UNSIGNED-PAYLOAD', {'Content-Length': str(6 << 20)})
raw(request_bytes('PUT', path, h, b'p' * (1 << 20)), read=False, shutdown=True)
# The server has answered later requests on other connections; by then the truncated ones are
# either aborted or still waiting for bytes that never come: neither is visible.
for key in ('trunc-signed', 'trunc-unsigned', 'trunc-chunked'):
    check(error_of(s3.head_object, Bucket=B, Key=key)[1] == 404, '%s stored nothing' % key)
check(len(s3.list_parts(Bucket=B, Key='mp', UploadId=up).get('Parts', [])) == 0,
      'truncated part not listed')
s3.abort_multipart_upload(Bucket=B, Key='mp', UploadId=up)
alive()

# 5. Garbage bytes instead of HTTP.
for garbage in (os.urandom(200), b'\x00\x01\x02 GARBAGE\r\n\r\n', b'GET\r\n\r\n',
                b'PUT /x HTTP/1.1\r\nContent-Length: -5\r\n\r\n',
                b'GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n',
                b'GET / HTTP/9.9\r\nHost: x\r\n\r\n'):
    resp = raw(garbage, shutdown=True)
    # (The bad chunked body may be answered 403 from the headers alone, before it is read.)
    check(resp == b'' or status_of(resp) in (400, 403, 505),
          'garbage %r -> %r' % (garbage[:20], resp[:80]))
resp = raw(b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' + os.urandom(100), shutdown=True)
check(resp == b'' or status_of(resp) == 400, 'TLS hello on the HTTP port -> %r' % resp[:60])
alive()

# 6. Huge headers: 100 KiB in one header, and 2,000 small headers.
resp = raw(b'GET /%s/ok HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n' % (B.encode(), b'a' * 102400))
check(status_of(resp) in (400, 431), 'huge header -> %r' % resp[:80])
many = b''.join(b'X-H%d: v\r\n' % i for i in range(2000))
resp = raw(b'GET /%s/ok HTTP/1.1\r\nHost: x\r\n%s\r\n' % (B.encode(), many))
check(status_of(resp) in (400, 431), 'many headers -> %r' % resp[:80])
resp = raw(b'GET /' + b'a' * 200000 + b' HTTP/1.1\r\nHost: x\r\n\r\n')
check(status_of(resp) in (400, 414, 431), 'huge target -> %r' % resp[:80])
alive()

# 7. Every response (errors included) carries a request id; anonymous requests are refused.
r = subprocess.run(['curl', '-s', '-D', '-', '-o', '/dev/null', '%s/%s/ok' % (EP, B)],
                   check=True, capture_output=True).stdout.decode().lower()
check(' 403 ' in r.split('\r\n')[0] and 'x-amz-request-id:' in r, 'anonymous GET: %s' % r)
resp = raw(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n' + os.urandom(0))
check(b'x-amz-request-id' in resp.lower(), 'anonymous ListBuckets has a request id')

s3.delete_object(Bucket=B, Key='ok')
s3.delete_bucket(Bucket=B)
print('negative: %d checks passed' % checks)
