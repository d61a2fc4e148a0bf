"""boto3 (Debian python3-boto3) against the S3 gateway: listing, conditionals, copy, multi-delete,
checksums, digests. Run by s3_boto3_test.sh with PORT set to a fresh cluster's tessera-s3."""
import base64
import datetime
import hashlib
import os
import sys
import zlib

import boto3
import botocore
from botocore.config import Config

EP = 'http://127.0.0.1:' + os.environ['PORT']
s3 = boto3.client('s3', endpoint_url=EP, config=Config(s3={'addressing_style': 'path'},
                                                        retries={'max_attempts': 1}))
B = 'boto-' + os.urandom(4).hex()
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


s3.create_bucket(Bucket=B)

# --- list_objects_v2 paginator with Prefix and Delimiter -------------------------------------
keys = []
for d in range(7):
    for f in range(6):
        keys.append('logs/d%02d/f%02d' % (d, f))
keys += ['logs/top%02d' % i for i in range(5)] + ['other/x', 'logsx']
for k in keys:
    s3.put_object(Bucket=B, Key=k, Body=k.encode())
pag = s3.get_paginator('list_objects_v2')
prefixes, contents, pages = [], [], 0
for page in pag.paginate(Bucket=B, Prefix='logs/', Delimiter='/', PaginationConfig={'PageSize': 3}):
    pages += 1
    prefixes += [p['Prefix'] for p in page.get('CommonPrefixes', [])]
    contents += [o['Key'] for o in page.get('Contents', [])]
    check(page['KeyCount'] == len(page.get('CommonPrefixes', [])) + len(page.get('Contents', [])),
          'KeyCount counts keys and prefixes')
    check(page['KeyCount'] <= 3, 'page size respected')
check(prefixes == ['logs/d%02d/' % d for d in range(7)], 'common prefixes %r' % prefixes)
check(contents == ['logs/top%02d' % i for i in range(5)], 'contents %r' % contents)
check(pages == 4, 'pages %d' % pages)
allkeys = []
for page in pag.paginate(Bucket=B, PaginationConfig={'PageSize': 7}):
    allkeys += [o['Key'] for o in page.get('Contents', [])]
check(allkeys == sorted(keys), 'v2 full listing')
r = s3.list_objects_v2(Bucket=B, StartAfter='logs/d06/f03', MaxKeys=4)
check([o['Key'] for o in r['Contents']] == ['logs/d06/f04', 'logs/d06/f05', 'logs/top00',
                                            'logs/top01'], 'StartAfter')
# encoding-type=url: botocore decodes only when it asked itself (the default), so an explicit
# EncodingType shows the encoded key.
s3.put_object(Bucket=B, Key='sp ace/ü+&', Body=b'1')
r = s3.list_objects_v2(Bucket=B, Prefix='sp ace/', EncodingType='url')
check([o['Key'] for o in r['Contents']] == ['sp%20ace/%C3%BC%2B%26'], 'url encoding %r' % r)
r = s3.list_objects_v2(Bucket=B, Prefix='sp ace/')
check([o['Key'] for o in r['Contents']] == ['sp ace/ü+&'], 'decoded key %r' % r)
s3.delete_object(Bucket=B, Key='sp ace/ü+&')

# --- list_objects v1 with Marker -----------------------------------------------------------
seen, marker = [], ''
while True:
    r = s3.list_objects(Bucket=B, Prefix='logs/', Delimiter='/', Marker=marker, MaxKeys=4)
    seen += [p['Prefix'] for p in r.get('CommonPrefixes', [])] + [o['Key'] for o in r.get('Contents', [])]
    if not r['IsTruncated']:
        break
    marker = r['NextMarker']
check(sorted(seen) == ['logs/d%02d/' % d for d in range(7)] + ['logs/top%02d' % i for i in range(5)],
      'v1 delimiter paging %r' % seen)
seen, marker = [], ''
while True:
    r = s3.list_objects(Bucket=B, Marker=marker, MaxKeys=10)
    seen += [o['Key'] for o in r.get('Contents', [])]
    if not r['IsTruncated']:
        break
    check('NextMarker' not in r, 'no NextMarker without delimiter')
    marker = r['Contents'][-1]['Key']
check(seen == sorted(keys), 'v1 marker paging')
pag1 = s3.get_paginator('list_objects')
n = sum(len(p.get('Contents', [])) for p in pag1.paginate(Bucket=B, PaginationConfig={'PageSize': 9}))
check(n == len(keys), 'v1 paginator')

# --- head_object / conditionals / response overrides ---------------------------------------
body = b'conditional body'
put = s3.put_object(Bucket=B, Key='c', Body=body, ContentType='text/x-test',
                    Metadata={'Color': 'Blue', 'n': '1'}, CacheControl='max-age=5',
                    ContentDisposition='inline', ContentLanguage='en')
etag = put['ETag']
check(etag == '"%s"' % hashlib.md5(body).hexdigest(), 'PUT ETag is the MD5')
h = s3.head_object(Bucket=B, Key='c')
check(h['ContentType'] == 'text/x-test' and h['ContentLength'] == len(body), 'head type/length')
check(h['Metadata'] == {'color': 'Blue', 'n': '1'}, 'metadata %r' % h['Metadata'])
check(h['CacheControl'] == 'max-age=5' and h['ContentDisposition'] == 'inline' and
      h['ContentLanguage'] == 'en', 'stored headers')
check(h['ResponseMetadata']['HTTPHeaders'].get('x-amz-request-id'), 'request id')
lm = h['LastModified']
past = lm - datetime.timedelta(hours=1)
future = lm + datetime.timedelta(hours=1)
check(s3.get_object(Bucket=B, Key='c', IfMatch=etag)['Body'].read() == body, 'If-Match ok')
check(error_of(s3.get_object, Bucket=B, Key='c', IfMatch='"0000"') == ('PreconditionFailed', 412),
      'If-Match mismatch')
check(error_of(s3.head_object, Bucket=B, Key='c', IfMatch='"0000"')[1] == 412, 'HEAD If-Match')
check(error_of(s3.get_object, Bucket=B, Key='c', IfUnmodifiedSince=past) ==
      ('PreconditionFailed', 412), 'If-Unmodified-Since past')
check(s3.get_object(Bucket=B, Key='c', IfUnmodifiedSince=future)['Body'].read() == body,
      'If-Unmodified-Since future')
check(error_of(s3.get_object, Bucket=B, Key='c', IfModifiedSince=future)[1] == 304,
      'If-Modified-Since future -> 304')
check(s3.get_object(Bucket=B, Key='c', IfModifiedSince=past)['Body'].read() == body,
      'If-Modified-Since past')
# If-Match true + If-Unmodified-Since false -> 200 (RFC 7232 / AWS).
check(s3.get_object(Bucket=B, Key='c', IfMatch=etag, IfUnmodifiedSince=past)['Body'].read() == body,
      'If-Match wins over If-Unmodified-Since')
# If-None-Match false + If-Modified-Since true -> 304.
check(error_of(s3.get_object, Bucket=B, Key='c', IfNoneMatch=etag, IfModifiedSince=past)[1] == 304,
      'If-None-Match wins over If-Modified-Since')
r = s3.get_object(Bucket=B, Key='c', ResponseContentType='application/x-over',
                  ResponseContentDisposition='attachment; filename="a.txt"',
                  ResponseCacheControl='no-cache', ResponseContentLanguage='de',
                  ResponseContentEncoding='identity', ResponseExpires=future)
check(r['ContentType'] == 'application/x-over', 'response-content-type')
check(r['ContentDisposition'] == 'attachment; filename="a.txt"', 'response-content-disposition')
check(r['CacheControl'] == 'no-cache' and r['ContentLanguage'] == 'de', 'response overrides')
check(r['ContentEncoding'] == 'identity', 'response-content-encoding')
check(r['Body'].read() == body, 'override body')
r = s3.get_object(Bucket=B, Key='c', Range='bytes=2-5')
check(r['Body'].read() == body[2:6] and r['ContentRange'] == 'bytes 2-5/%d' % len(body), 'range')
check(error_of(s3.get_object, Bucket=B, Key='c', Range='bytes=100-200') == ('InvalidRange', 416),
      'InvalidRange')

# --- CopyObject ------------------------------------------------------------------------------
r = s3.copy_object(Bucket=B, Key='c2', CopySource={'Bucket': B, 'Key': 'c'},
                   MetadataDirective='REPLACE', Metadata={'new': 'v'}, ContentType='text/new')
check(r['CopyObjectResult']['ETag'] == etag, 'copy ETag')
h = s3.head_object(Bucket=B, Key='c2')
check(h['Metadata'] == {'new': 'v'} and h['ContentType'] == 'text/new', 'REPLACE metadata %r' % h)
check('CacheControl' not in h, 'REPLACE drops the old headers')
s3.copy_object(Bucket=B, Key='c3', CopySource={'Bucket': B, 'Key': 'c'})
h = s3.head_object(Bucket=B, Key='c3')
check(h['Metadata'] == {'color': 'Blue', 'n': '1'} and h['ContentType'] == 'text/x-test', 'COPY')
s3.copy_object(Bucket=B, Key='c4', CopySource={'Bucket': B, 'Key': 'c'}, CopySourceIfMatch=etag)
check(error_of(s3.copy_object, Bucket=B, Key='c5', CopySource={'Bucket': B, 'Key': 'c'},
               CopySourceIfMatch='"00"') == ('PreconditionFailed', 412), 'CopySourceIfMatch')
check(error_of(s3.copy_object, Bucket=B, Key='c5', CopySource={'Bucket': B, 'Key': 'c'},
               CopySourceIfNoneMatch=etag) == ('PreconditionFailed', 412), 'CopySourceIfNoneMatch')
check(error_of(s3.copy_object, Bucket=B, Key='c5', CopySource={'Bucket': B, 'Key': 'c'},
               CopySourceIfModifiedSince=future) == ('PreconditionFailed', 412),
      'CopySourceIfModifiedSince in the future')
check(error_of(s3.copy_object, Bucket=B, Key='c5', CopySource={'Bucket': B, 'Key': 'c'},
               CopySourceIfUnmodifiedSince=past) == ('PreconditionFailed', 412),
      'CopySourceIfUnmodifiedSince in the past')
s3.copy_object(Bucket=B, Key='c4', CopySource={'Bucket': B, 'Key': 'c'},
               CopySourceIfModifiedSince=past, CopySourceIfUnmodifiedSince=future)
check(error_of(s3.head_object, Bucket=B, Key='c5')[1] == 404, 'failed copy stored nothing')
check(error_of(s3.copy_object, Bucket=B, Key='c', CopySource={'Bucket': B, 'Key': 'c'})[0] ==
      'InvalidRequest', 'copy to itself without REPLACE')
s3.copy_object(Bucket=B, Key='c', CopySource={'Bucket': B, 'Key': 'c'},
               MetadataDirective='REPLACE', Metadata={'self': 'y'})
check(s3.head_object(Bucket=B, Key='c')['Metadata'] == {'self': 'y'}, 'copy onto itself REPLACE')
check(error_of(s3.copy_object, Bucket=B, Key='c6', CopySource={'Bucket': B, 'Key': 'nope'}) ==
      ('NoSuchKey', 404), 'copy missing source')

# --- DeleteObjects ---------------------------------------------------------------------------
for k in ['d1', 'd2', 'd3']:
    s3.put_object(Bucket=B, Key=k, Body=b'x')
r = s3.delete_objects(Bucket=B, Delete={'Objects': [{'Key': 'd1'}, {'Key': 'd2'},
                                                    {'Key': 'never-existed'}]})
check(sorted(d['Key'] for d in r['Deleted']) == ['d1', 'd2', 'never-existed'], 'verbose %r' % r)
check('Errors' not in r, 'no errors')
r = s3.delete_objects(Bucket=B, Delete={'Objects': [{'Key': 'd3'}], 'Quiet': True})
check('Deleted' not in r and 'Errors' not in r, 'quiet %r' % r)
check(error_of(s3.head_object, Bucket=B, Key='d3')[1] == 404, 'quiet delete deleted')

# --- upload_part_copy with ranges ----------------------------------------------------------
src = os.urandom(6 << 20) + b'tail-bytes'
s3.put_object(Bucket=B, Key='src', Body=src)
up = s3.create_multipart_upload(Bucket=B, Key='upc')['UploadId']
p1 = s3.upload_part_copy(Bucket=B, Key='upc', UploadId=up, PartNumber=1,
                         CopySource={'Bucket': B, 'Key': 'src'},
                         CopySourceRange='bytes=0-%d' % ((5 << 20) - 1))
p2 = s3.upload_part_copy(Bucket=B, Key='upc', UploadId=up, PartNumber=2,
                         CopySource={'Bucket': B, 'Key': 'src'},
                         CopySourceRange='bytes=%d-%d' % (5 << 20, len(src) - 1))
check(p1['CopyPartResult']['ETag'] == '"%s"' % hashlib.md5(src[:5 << 20]).hexdigest(), 'part etag')
check(error_of(s3.upload_part_copy, Bucket=B, Key='upc', UploadId=up, PartNumber=3,
               CopySource={'Bucket': B, 'Key': 'src'},
               CopySourceRange='bytes=0-%d' % len(src)) == ('InvalidRange', 416),
      'range past the end')
check(error_of(s3.upload_part_copy, Bucket=B, Key='upc', UploadId=up, PartNumber=3,
               CopySource={'Bucket': B, 'Key': 'src'},
               CopySourceRange='bytes=-5')[0] == 'InvalidArgument', 'malformed copy range')
s3.complete_multipart_upload(Bucket=B, Key='upc', UploadId=up, MultipartUpload={'Parts': [
    {'PartNumber': 1, 'ETag': p1['CopyPartResult']['ETag']},
    {'PartNumber': 2, 'ETag': p2['CopyPartResult']['ETag']}]})
check(s3.get_object(Bucket=B, Key='upc')['Body'].read() == src, 'upload_part_copy content')
md5s = hashlib.md5(hashlib.md5(src[:5 << 20]).digest() + hashlib.md5(src[5 << 20:]).digest())
check(s3.head_object(Bucket=B, Key='upc')['ETag'] == '"%s-2"' % md5s.hexdigest(), 'mp etag')
# GET/HEAD ?partNumber on a multipart object.
r = s3.get_object(Bucket=B, Key='upc', PartNumber=2)
check(r['Body'].read() == src[5 << 20:] and r['PartsCount'] == 2, 'get part 2')
check(r['ContentRange'] == 'bytes %d-%d/%d' % (5 << 20, len(src) - 1, len(src)), 'part range')
h = s3.head_object(Bucket=B, Key='upc', PartNumber=1)
check(h['ContentLength'] == 5 << 20 and h['PartsCount'] == 2, 'head part 1 %r' % h)
check(error_of(s3.get_object, Bucket=B, Key='upc', PartNumber=3) == ('InvalidPartNumber', 416),
      'part past the last')
check(s3.get_object(Bucket=B, Key='c', PartNumber=1)['Body'].read() == body, 'part 1 of a PUT')

# --- Content-MD5 / checksums ---------------------------------------------------------------
wrong = base64.b64encode(hashlib.md5(b'other').digest()).decode()
check(error_of(s3.put_object, Bucket=B, Key='md5', Body=b'payload', ContentMD5=wrong) ==
      ('BadDigest', 400), 'BadDigest')
check(error_of(s3.head_object, Bucket=B, Key='md5')[1] == 404, 'BadDigest stored nothing')
good = base64.b64encode(hashlib.md5(b'payload').digest()).decode()
s3.put_object(Bucket=B, Key='md5', Body=b'payload', ContentMD5=good)
check(error_of(s3.put_object, Bucket=B, Key='md5x', Body=b'payload', ContentMD5='notbase64!') ==
      ('InvalidDigest', 400), 'InvalidDigest')
data = os.urandom(100000)
expect = {
    'CRC32': base64.b64encode(zlib.crc32(data).to_bytes(4, 'big')).decode(),
    'SHA256': base64.b64encode(hashlib.sha256(data).digest()).decode(),
}
for alg in ['CRC32', 'SHA256', 'CRC32C', 'SHA1']:
    r = s3.put_object(Bucket=B, Key='ck-' + alg, Body=data, ChecksumAlgorithm=alg)
    value = r.get('Checksum' + alg)
    check(value, 'PUT returns the %s checksum: %r' % (alg, r))
    if alg in expect:
        check(value == expect[alg], '%s value' % alg)
    g = s3.get_object(Bucket=B, Key='ck-' + alg, ChecksumMode='ENABLED')
    check(g['Checksum' + alg] == value, 'GET returns %s' % alg)
    check(g['Body'].read() == data, 'checksummed body')
    h = s3.head_object(Bucket=B, Key='ck-' + alg, ChecksumMode='ENABLED')
    check(h['Checksum' + alg] == value, 'HEAD returns %s' % alg)
bad = base64.b64encode(b'\0\0\0\0').decode()
check(error_of(s3.put_object, Bucket=B, Key='ck-bad', Body=data, ChecksumCRC32=bad)[0] in
      ('BadDigest', 'InvalidRequest'), 'wrong CRC32 refused')
check(error_of(s3.head_object, Bucket=B, Key='ck-bad')[1] == 404, 'wrong checksum stored nothing')

# --- errors ----------------------------------------------------------------------------------
check(error_of(s3.get_object, Bucket='no-such-bucket-x', Key='k') == ('NoSuchBucket', 404),
      'NoSuchBucket')
# us-east-1: re-creating your own bucket is 200 OK and keeps its objects (AWS's legacy rule;
# other regions answer BucketAlreadyOwnedByYou, see the handler unit test).
s3.create_bucket(Bucket=B)
check(s3.get_object(Bucket=B, Key='src')['Body'].read() == src, 're-create keeps objects')
bob = boto3.client('s3', endpoint_url=EP, config=Config(s3={'addressing_style': 'path'}),
                   aws_access_key_id=os.environ['BOB_KEY'],
                   aws_secret_access_key=os.environ['BOB_SECRET'])
check(error_of(bob.create_bucket, Bucket=B) == ('BucketAlreadyExists', 409), 'another owner')
check(error_of(bob.get_object, Bucket=B, Key='src') == ('AccessDenied', 403), 'bob denied')
check(error_of(s3.delete_bucket, Bucket=B) == ('BucketNotEmpty', 409), 'BucketNotEmpty')
check(error_of(s3.abort_multipart_upload, Bucket=B, Key='k', UploadId='0' * 32) ==
      ('NoSuchUpload', 404), 'NoSuchUpload')

# --- Signature Version 2 (boto3 1.26 presigns with it by default) ---------------------------
v2 = boto3.client('s3', endpoint_url=EP, config=Config(s3={'addressing_style': 'path'},
                                                        signature_version='s3',
                                                        retries={'max_attempts': 1}))
v2.put_object(Bucket=B, Key='v2 key+x', Body=b'sigv2 body', ContentType='text/v2',
              Metadata={'m': 'v'})
r = v2.get_object(Bucket=B, Key='v2 key+x', ResponseContentType='x/override')
check(r['Body'].read() == b'sigv2 body' and r['ContentType'] == 'x/override', 'SigV2 put/get')
check(any(o['Key'] == 'v2 key+x' for o in v2.list_objects(Bucket=B)['Contents']), 'SigV2 list')
url = s3.generate_presigned_url('get_object', Params={'Bucket': B, 'Key': 'v2 key+x'},
                                ExpiresIn=60)
import urllib.request
check(urllib.request.urlopen(url).read() == b'sigv2 body', 'default (SigV2) presigned GET')
badv2 = boto3.client('s3', endpoint_url=EP, config=Config(s3={'addressing_style': 'path'},
                                                           signature_version='s3'),
                     aws_access_key_id=os.environ['AWS_ACCESS_KEY_ID'],
                     aws_secret_access_key='wrong-secret-wrong-secret-wrong!')
check(error_of(badv2.get_object, Bucket=B, Key='v2 key+x') == ('SignatureDoesNotMatch', 403),
      'SigV2 wrong secret')
s3.delete_object(Bucket=B, Key='v2 key+x')

# Clean up.
for page in pag.paginate(Bucket=B):
    objs = [{'Key': o['Key']} for o in page.get('Contents', [])]
    if objs:
        s3.delete_objects(Bucket=B, Delete={'Objects': objs, 'Quiet': True})
s3.delete_bucket(Bucket=B)
print('boto3: %d checks passed' % checks)
