#include "tests/fuzz/fuzz_targets.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "base/fake_clock.h"
#include "services/s3/auth/chunked_decoder.h"
#include "services/s3/auth/credential_store.h"
#include "services/s3/auth/payload_verifier.h"
#include "services/s3/auth/sigv4.h"
#include "services/s3/checksum/checksum.h"
#include "services/s3/request/request.h"
#include "services/s3/xml/s3_xml.h"

namespace tessera::fuzz {
namespace {

using services::s3::HeaderList;

#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

struct ParsedInput {
  std::string method;
  std::string target;
  HeaderList headers;
};

ParsedInput ParseInput(absl::string_view in) {
  ParsedInput p;
  std::vector<absl::string_view> lines = absl::StrSplit(in, '\n');
  if (!lines.empty()) p.method = std::string(lines[0]);
  if (lines.size() > 1) p.target = std::string(lines[1]);
  for (size_t i = 2; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos) continue;
    p.headers.emplace_back(
        std::string(lines[i].substr(0, colon)),
        std::string(absl::StripLeadingAsciiWhitespace(lines[i].substr(colon + 1))));
  }
  return p;
}

const services::s3::CredentialStore& Store() {
  static const services::s3::CredentialStore* store = [] {
    auto* s = new services::s3::CredentialStore();
    (void)s->Add({"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "alice"});
    return s;
  }();
  return *store;
}

}  // namespace

int FuzzS3Request(const uint8_t* data, size_t size) {
  absl::string_view in(reinterpret_cast<const char*>(data), size);
  ParsedInput p = ParseInput(in);
  services::s3::RouterOptions options;
  options.base_domains = {"s3.example.com"};
  auto routed = services::s3::RouteRequest(p.method, p.target, p.headers, options);
  if (routed.ok()) {
    FUZZ_CHECK(routed->key.size() <= options.max_key_bytes);
    FUZZ_CHECK(!services::s3::OperationName(routed->op).empty());
    if (routed->op == services::s3::S3Operation::kCreateBucket) {
      FUZZ_CHECK(services::s3::IsValidBucketName(routed->bucket));
    }
  }
  uint64_t object_size = size > 0 ? data[0] * 37u : 0;
  for (const auto& [name, value] : p.headers) {
    auto range = services::s3::ParseRange(value, object_size);
    if (range.ok() && range->has_value()) {
      FUZZ_CHECK((*range)->first <= (*range)->last);
      FUZZ_CHECK((*range)->last < object_size);
    }
    (void)services::s3::ParseCopySource(value);
    (void)services::s3::IsValidBucketName(value);
    if (auto t = services::s3::ParseHttpDate(value)) (void)services::s3::FormatHttpDate(*t);
  }
  auto conditions = services::s3::ParseConditionalHeaders(p.headers);
  (void)services::s3::EvaluateConditions(conditions, "\"etag\"", absl::UnixEpoch(), true);
  (void)services::s3::EvaluateConditions(conditions, "etag", absl::Now(), false);
  return 0;
}

int FuzzSigV4(const uint8_t* data, size_t size) {
  absl::string_view in(reinterpret_cast<const char*>(data), size);
  ParsedInput p = ParseInput(in);
  absl::string_view target = p.target;
  size_t q = target.find('?');
  absl::string_view path = target.substr(0, q);
  absl::string_view query = q == absl::string_view::npos ? "" : target.substr(q + 1);
  if (auto uri = services::s3::CanonicalUri(path); uri.ok()) {
    // Canonicalisation is idempotent.
    auto again = services::s3::CanonicalUri(*uri);
    FUZZ_CHECK(again.ok() && *again == *uri);
  }
  if (auto cq = services::s3::CanonicalQueryString(query, false); cq.ok()) {
    auto again = services::s3::CanonicalQueryString(*cq, false);
    FUZZ_CHECK(again.ok() && *again == *cq);
  }
  for (const auto& [name, value] : p.headers) {
    (void)services::s3::ParseAuthorizationHeader(value);
    (void)services::s3::ParseAmzDate(value);
    (void)services::s3::ParsePayloadMode(value);
    (void)services::s3::ParseTrailerHeader(value);
  }
  FakeClock clock(absl::FromUnixSeconds(1369353600));
  services::s3::SigV4Verifier verifier(&Store(), &clock);
  services::s3::HttpRequest request{p.method, p.target, p.headers};
  auto result = verifier.Verify(request);
  if (result.ok()) FUZZ_CHECK(result->user_id == "alice" || result->anonymous);
  return 0;
}

int FuzzChunkedDecoder(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  services::s3::ChunkedDecoderOptions options;
  switch (data[0] & 3) {
    case 0:
      options.mode = services::s3::PayloadMode::kStreamingSigned;
      break;
    case 1:
      options.mode = services::s3::PayloadMode::kStreamingSignedTrailer;
      options.declared_trailers = {"x-amz-checksum-crc32c"};
      break;
    default:
      options.mode = services::s3::PayloadMode::kStreamingUnsignedTrailer;
      options.declared_trailers = {"x-amz-checksum-crc32"};
      break;
  }
  options.signing = {services::s3::DeriveSigningKey("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                                    "20130524", "us-east-1", "s3"),
                     "20130524T000000Z", "20130524/us-east-1/s3/aws4_request",
                     "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"};
  if (data[0] & 4) options.decoded_content_length = data[0] >> 3;
  options.enforce_min_chunk_size = (data[0] & 0x80) != 0;
  size_t step = data[1] + 1;
  auto decoder = services::s3::AwsChunkedDecoder::Create(options);
  FUZZ_CHECK(decoder.ok());
  absl::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);
  std::string out;
  absl::Status status;
  for (size_t pos = 0; pos < body.size() && status.ok(); pos += step) {
    status = (*decoder)->Feed(body.substr(pos, step), &out);
  }
  if (status.ok()) status = (*decoder)->Finish();
  FUZZ_CHECK(out.size() == (*decoder)->decoded_bytes());
  FUZZ_CHECK(out.size() <= body.size());
  if (status.ok()) {
    FUZZ_CHECK((*decoder)->done());
    if (options.decoded_content_length) FUZZ_CHECK(out.size() == *options.decoded_content_length);
  }
  return 0;
}

namespace {

struct VerifiedBody {
  bool create_ok = false;
  absl::Status status;
  std::string decoded;
  std::string md5;
};

VerifiedBody VerifyBody(const services::s3::AuthResult& auth, const HeaderList& headers,
                        services::s3::PayloadVerifierOptions options, absl::string_view body,
                        size_t step) {
  VerifiedBody r;
  auto verifier = services::s3::PayloadVerifier::Create(auth, headers, options);
  if (!verifier.ok()) return r;
  r.create_ok = true;
  for (size_t pos = 0; pos < body.size() && r.status.ok(); pos += step) {
    std::string piece(body.substr(pos, step));
    r.status = (*verifier)->Feed(&piece);
    if (r.status.ok()) r.decoded += piece;
  }
  if (r.status.ok()) r.status = (*verifier)->Finish();
  FUZZ_CHECK((*verifier)->total() >= r.decoded.size());
  if (r.status.ok()) r.md5 = (*verifier)->md5();
  return r;
}

}  // namespace

int FuzzPayloadVerifier(const uint8_t* data, size_t size) {
  using services::s3::PayloadMode;
  if (size < 3) return 0;
  const uint8_t flags = data[0];
  services::s3::AuthResult auth;
  auth.chunk_context = {services::s3::DeriveSigningKey("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                                       "20130524", "us-east-1", "s3"),
                        "20130524T000000Z", "20130524/us-east-1/s3/aws4_request",
                        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"};
  HeaderList headers;
  switch (flags & 7) {
    case 1:
      auth.payload_mode = PayloadMode::kSignedPayload;
      auth.payload_sha256_hex = services::s3::Sha256Hex("hello world");
      break;
    case 2:
      auth.payload_mode = PayloadMode::kStreamingSigned;
      break;
    case 3:
      auth.payload_mode = PayloadMode::kStreamingSignedTrailer;
      headers.emplace_back("X-Amz-Trailer", "x-amz-checksum-crc32c");
      break;
    case 4:
      auth.payload_mode = PayloadMode::kStreamingUnsignedTrailer;
      headers.emplace_back("X-Amz-Trailer", "x-amz-checksum-crc32");
      break;
    default:
      auth.payload_mode = PayloadMode::kUnsignedPayload;
      break;
  }
  const std::string hello = "hello world";
  if (flags & 8) headers.emplace_back("Content-MD5", absl::Base64Escape(services::s3::Md5(hello)));
  if (flags & 16) {
    headers.emplace_back("x-amz-checksum-crc32",
                         absl::Base64Escape(services::s3::ComputeChecksum(
                             services::s3::ChecksumAlgorithm::kCrc32, hello)));
  }
  if (flags & 32) headers.emplace_back("Content-Encoding", "aws-chunked");
  if (flags & 64) headers.emplace_back("X-Amz-Decoded-Content-Length", absl::StrCat(data[2]));
  services::s3::PayloadVerifierOptions options;
  if (flags & 128) options.max_decoded_bytes = 64;
  const size_t step = data[1] + 1;
  absl::string_view body(reinterpret_cast<const char*>(data + 3), size - 3);

  const VerifiedBody pieces = VerifyBody(auth, headers, options, body, step);
  // The verdict and the payload do not depend on how the body was split into reads.
  const VerifiedBody whole = VerifyBody(auth, headers, options, body, body.size() + 1);
  FUZZ_CHECK(pieces.create_ok == whole.create_ok);
  FUZZ_CHECK(pieces.status.ok() == whole.status.ok());
  if (!pieces.create_ok || !pieces.status.ok()) return 0;
  FUZZ_CHECK(pieces.decoded == whole.decoded);
  FUZZ_CHECK(pieces.md5 == services::s3::Md5(pieces.decoded));
  FUZZ_CHECK(pieces.decoded.size() <= options.max_decoded_bytes);
  switch (auth.payload_mode) {
    case PayloadMode::kSignedPayload:
      FUZZ_CHECK(pieces.decoded == hello);  // only the signed body passes
      break;
    case PayloadMode::kUnsignedPayload:
      FUZZ_CHECK(pieces.decoded == body);
      break;
    default:
      FUZZ_CHECK(pieces.decoded.size() <= body.size());
      if (flags & 64) FUZZ_CHECK(pieces.decoded.size() == data[2]);
      break;
  }
  if (flags & 8) FUZZ_CHECK(pieces.decoded == hello);
  return 0;
}

int FuzzS3Xml(const uint8_t* data, size_t size) {
  absl::string_view in(reinterpret_cast<const char*>(data), size);
  (void)services::s3::ParseCreateBucketConfiguration(in);
  if (auto d = services::s3::ParseDeleteRequest(in); d.ok()) {
    FUZZ_CHECK(!d->objects.empty() && d->objects.size() <= 1000);
  }
  if (auto parts = services::s3::ParseCompleteMultipartUpload(in); parts.ok()) {
    for (const auto& part : *parts) FUZZ_CHECK(part.part_number >= 1 && part.part_number <= 10000);
  }
  return 0;
}

}  // namespace tessera::fuzz
