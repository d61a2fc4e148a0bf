// AWS SDK for JavaScript v3 against the S3 gateway (PORT, AWS_* from the environment): PutObject
// and GetObject with the SDK's default flexible checksums (CRC32 in an aws-chunked trailer,
// STREAMING-UNSIGNED-PAYLOAD-TRAILER), a stream Body with ContentLength, and a multipart
// Upload from @aws-sdk/lib-storage.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand,
  DeleteObjectCommand, DeleteBucketCommand, ListObjectsV2Command,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

const endpoint = `http://127.0.0.1:${process.env.PORT}`;
let checks = 0;
function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  checks++;
}

// Records the wire form of every request (headers the SDK chose by default).
const seen = [];
const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1 });
s3.middlewareStack.add((next) => async (args) => {
  seen.push({ headers: { ...args.request.headers } });
  return next(args);
}, { step: 'finalizeRequest', name: 'recordWire', priority: 'low' });

const bucket = `js-${randomBytes(4).toString('hex')}`;
await s3.send(new CreateBucketCommand({ Bucket: bucket }));

async function bodyBytes(res) {
  return Buffer.from(await res.Body.transformToByteArray());
}

// 1. Default PutObject: the SDK adds a CRC32 checksum in a trailer.
const small = randomBytes(300000);
seen.length = 0;
const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'default', Body: small }));
const h = seen[seen.length - 1].headers;
const lower = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
console.log('PutObject wire headers:', JSON.stringify({
  'x-amz-content-sha256': lower['x-amz-content-sha256'], 'x-amz-trailer': lower['x-amz-trailer'],
  'content-encoding': lower['content-encoding'],
  'x-amz-sdk-checksum-algorithm': lower['x-amz-sdk-checksum-algorithm'],
}));
check(put.ETag === `"${createHash('md5').update(small).digest('hex')}"`, 'PUT ETag is the MD5');
check(put.ChecksumCRC32 !== undefined, 'PUT answers with the CRC32 checksum');
let got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'default',
                                               ChecksumMode: 'ENABLED' }));
check(got.ChecksumCRC32 === put.ChecksumCRC32, 'GET returns the stored CRC32');
check((await bodyBytes(got)).equals(small), 'default put/get byte-exact');

// 2. Explicit algorithms, each through the trailer.
for (const alg of ['CRC32C', 'SHA256', 'SHA1', 'CRC64NVME']) {
  const data = randomBytes(70000);
  let r;
  try {
    r = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `alg-${alg}`, Body: data,
                                             ChecksumAlgorithm: alg }));
  } catch (e) {
    if (alg === 'CRC64NVME' && /crt|CRC64/i.test(String(e))) {  // needs the CRT add-on
      console.log('CRC64NVME skipped:', String(e).slice(0, 120));
      continue;
    }
    throw e;
  }
  check(r[`Checksum${alg}`] !== undefined, `PUT answers with ${alg}`);
  got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `alg-${alg}`,
                                             ChecksumMode: 'ENABLED' }));
  check(got[`Checksum${alg}`] === r[`Checksum${alg}`], `GET returns ${alg}`);
  check((await bodyBytes(got)).equals(data), `${alg} body`);
}

// 3. A stream Body with ContentLength (no buffering in the SDK).
const streamed = randomBytes(3 * 1024 * 1024 + 17);
const pieces = [];
for (let i = 0; i < streamed.length; i += 65536) pieces.push(streamed.subarray(i, i + 65536));
seen.length = 0;
const sput = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'stream',
                                                  Body: Readable.from(pieces),
                                                  ContentLength: streamed.length }));
const sh = Object.fromEntries(Object.entries(seen[seen.length - 1].headers)
  .map(([k, v]) => [k.toLowerCase(), v]));
console.log('stream PutObject wire headers:', JSON.stringify({
  'x-amz-content-sha256': sh['x-amz-content-sha256'], 'x-amz-trailer': sh['x-amz-trailer'],
  'content-encoding': sh['content-encoding'],
  'x-amz-decoded-content-length': sh['x-amz-decoded-content-length'] }));
check(sh['x-amz-content-sha256'] === 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      'a stream body goes as aws-chunked with a trailer');
check(sh['x-amz-trailer'] === 'x-amz-checksum-crc32', 'the default trailer is CRC32');
check(sput.ChecksumCRC32 !== undefined, 'stream PUT answers with the CRC32');
got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'stream' }));
check((await bodyBytes(got)).equals(streamed), 'stream body byte-exact');
got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'stream', Range: 'bytes=100-199' }));
check((await bodyBytes(got)).equals(streamed.subarray(100, 200)), 'range');

// 4. lib-storage Upload of a stream of unknown length: multipart, parts with checksums.
const big = randomBytes(23 * 1024 * 1024 + 5);
const chunks = [];
for (let i = 0; i < big.length; i += 1 << 20) chunks.push(big.subarray(i, i + (1 << 20)));
const upload = new Upload({ client: s3, params: { Bucket: bucket, Key: 'multipart',
                                                  Body: Readable.from(chunks) },
                            partSize: 5 * 1024 * 1024, queueSize: 4 });
const done = await upload.done();
check(/-5"$/.test(done.ETag), `multipart ETag ${done.ETag}`);
got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'multipart' }));
check((await bodyBytes(got)).equals(big), 'multipart byte-exact');
const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'multipart' }));
check(head.ContentLength === big.length, 'multipart length');

// 5. Errors map to the SDK's named exceptions.
try {
  await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'missing' }));
  check(false, 'missing key');
} catch (e) {
  check(e.name === 'NoSuchKey' && e.$metadata.httpStatusCode === 404, `NoSuchKey: ${e.name}`);
}

const list = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
for (const o of list.Contents ?? []) {
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
}
await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
console.log(`js sdk: ${checks} checks passed`);
