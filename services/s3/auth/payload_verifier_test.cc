#include "services/s3/auth/payload_verifier.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "services/s3/auth/chunked_decoder.h"
#include "services/s3/checksum/checksum.h"
#include "services/s3/errors/errors.h"

namespace tessera::services::s3 {
namespace {

constexpr char kSeed[] = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";

ChunkSigningContext Context() {
  return {
      DeriveSigningKey("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3"),
      "20130524T000000Z", "20130524/us-east-1/s3/aws4_request", kSeed};
}

AuthResult Auth(PayloadMode mode, std::string sha256_hex = "") {
  AuthResult a;
  a.user_id = "alice";
  a.payload_mode = mode;
  a.payload_sha256_hex = std::move(sha256_hex);
  a.chunk_context = Context();
  return a;
}

struct Outcome {
  absl::Status create;  // Create's status; the rest is only set if it was OK
  absl::Status status;  // first Feed error, else Finish's
  std::string decoded;
  std::string md5;
  std::map<std::string, std::string> checksums;
};

// Verifies `body` fed in pieces of `step` raw bytes.
Outcome Verify(const AuthResult& auth, const HeaderList& headers, absl::string_view body,
               size_t step = 7, PayloadVerifierOptions options = {}) {
  Outcome o;
  absl::StatusOr<std::unique_ptr<PayloadVerifier>> v =
      PayloadVerifier::Create(auth, headers, options);
  o.create = v.status();
  if (!v.ok()) return o;
  for (size_t pos = 0; pos < body.size(); pos += step) {
    std::string piece(body.substr(pos, step));
    o.status = (*v)->Feed(&piece);
    if (!o.status.ok()) return o;
    o.decoded += piece;
  }
  o.status = (*v)->Finish();
  EXPECT_EQ((*v)->total(), o.decoded.size());
  if (o.status.ok()) {
    o.md5 = (*v)->md5();
    o.checksums = (*v)->checksums();
  }
  return o;
}

S3ErrorCode CodeOf(const Outcome& o) { return ErrorCodeOf(o.create.ok() ? o.status : o.create); }

HeaderList ChunkedHeaders(size_t decoded_length) {
  return {{"Content-Encoding", "aws-chunked"},
          {"X-Amz-Decoded-Content-Length", absl::StrCat(decoded_length)}};
}

const std::vector<std::string> kChunks = {std::string(8192, 'a'), std::string(100, 'b')};
const std::string kPayload = std::string(8192, 'a') + std::string(100, 'b');

TEST(PayloadVerifierTest, GoodChunkedBodyInPiecesOfAnySize) {
  const std::string body = EncodeAwsChunked(PayloadMode::kStreamingSigned, Context(), kChunks, {});
  for (size_t step : {1u, 2u, 7u, 100u, 8192u, 1u << 20}) {
    Outcome o =
        Verify(Auth(PayloadMode::kStreamingSigned), ChunkedHeaders(kPayload.size()), body, step);
    ASSERT_OK(o.create);
    EXPECT_TRUE(o.status.ok()) << step << ": " << o.status;
    EXPECT_EQ(o.decoded, kPayload);
    EXPECT_EQ(o.md5, Md5(kPayload));
  }
}

TEST(PayloadVerifierTest, WrongChunkSignatureFails) {
  ChunkSigningContext other = Context();
  other.signing_key = DeriveSigningKey("not-the-secret", "20130524", "us-east-1", "s3");
  const std::string body = EncodeAwsChunked(PayloadMode::kStreamingSigned, other, kChunks, {});
  Outcome o = Verify(Auth(PayloadMode::kStreamingSigned), ChunkedHeaders(kPayload.size()), body);
  EXPECT_EQ(CodeOf(o), S3ErrorCode::kSignatureDoesNotMatch);
}

TEST(PayloadVerifierTest, TamperedDataFails) {
  std::string body = EncodeAwsChunked(PayloadMode::kStreamingSigned, Context(), kChunks, {});
  body[body.find('b')] = 'c';  // in the second chunk's data; its signature no longer matches
  Outcome o = Verify(Auth(PayloadMode::kStreamingSigned), ChunkedHeaders(kPayload.size()), body);
  EXPECT_EQ(CodeOf(o), S3ErrorCode::kSignatureDoesNotMatch);
}

TEST(PayloadVerifierTest, WrongFinalChunkSignatureFails) {
  std::string body = EncodeAwsChunked(PayloadMode::kStreamingSigned, Context(), kChunks, {});
  // The final chunk is "0;chunk-signature=<64 hex>\r\n\r\n": flip a digit of its signature.
  const size_t final_sig = body.rfind("0;chunk-signature=") + 18;
  body[final_sig] = body[final_sig] == '0' ? '1' : '0';
  Outcome o = Verify(Auth(PayloadMode::kStreamingSigned), ChunkedHeaders(kPayload.size()), body);
  EXPECT_EQ(CodeOf(o), S3ErrorCode::kSignatureDoesNotMatch);
}

TEST(PayloadVerifierTest, TruncatedChunkedBodyFails) {
  const std::string body = EncodeAwsChunked(PayloadMode::kStreamingSigned, Context(), kChunks, {});
  // Without the final chunk, and cut in the middle of a chunk.
  for (size_t cut : {body.rfind("0;chunk-signature="), body.size() / 2, size_t{10}}) {
    Outcome o = Verify(Auth(PayloadMode::kStreamingSigned), ChunkedHeaders(kPayload.size()),
                       body.substr(0, cut));
    EXPECT_FALSE(o.status.ok()) << cut;
    EXPECT_EQ(CodeOf(o), S3ErrorCode::kIncompleteBody) << cut;
  }
}

TEST(PayloadVerifierTest, DecodedLengthMustMatchTheBody) {
  const std::string body = EncodeAwsChunked(PayloadMode::kStreamingSigned, Context(), kChunks, {});
  // Body longer than declared.
  Outcome longer =
      Verify(Auth(PayloadMode::kStreamingSigned), ChunkedHeaders(kPayload.size() - 1), body);
  EXPECT_FALSE(longer.status.ok());
  // Body shorter than declared.
  Outcome shorter =
      Verify(Auth(PayloadMode::kStreamingSigned), ChunkedHeaders(kPayload.size() + 1), body);
  EXPECT_EQ(CodeOf(shorter), S3ErrorCode::kIncompleteBody);
  // Not a number.
  Outcome bad =
      Verify(Auth(PayloadMode::kStreamingSigned), {{"X-Amz-Decoded-Content-Length", "12x"}}, body);
  EXPECT_EQ(ErrorCodeOf(bad.create), S3ErrorCode::kInvalidArgument);
}

TEST(PayloadVerifierTest, SignedPayloadMustHashToTheDeclaredSha256) {
  const std::string body = "hello, world";
  Outcome good = Verify(Auth(PayloadMode::kSignedPayload, Sha256Hex(body)), {}, body);
  EXPECT_OK(good.status);
  EXPECT_EQ(good.decoded, body);
  Outcome mismatch = Verify(Auth(PayloadMode::kSignedPayload, Sha256Hex("other")), {}, body);
  EXPECT_EQ(CodeOf(mismatch), S3ErrorCode::kXAmzContentSHA256Mismatch);
  // A short (truncated) body hashes differently too.
  Outcome truncated =
      Verify(Auth(PayloadMode::kSignedPayload, Sha256Hex(body)), {}, body.substr(0, 5));
  EXPECT_EQ(CodeOf(truncated), S3ErrorCode::kXAmzContentSHA256Mismatch);
}

TEST(PayloadVerifierTest, UnsignedPayloadIsBoundOnlyByContentMd5AndChecksums) {
  const std::string body = "anything at all";
  Outcome plain = Verify(Auth(PayloadMode::kUnsignedPayload), {}, body);
  EXPECT_OK(plain.status);
  EXPECT_EQ(plain.decoded, body);
  EXPECT_TRUE(plain.checksums.empty());

  const std::string md5 = absl::Base64Escape(Md5(body));
  EXPECT_OK(Verify(Auth(PayloadMode::kUnsignedPayload), {{"Content-MD5", md5}}, body).status);
  Outcome bad_md5 = Verify(Auth(PayloadMode::kUnsignedPayload),
                           {{"Content-MD5", absl::Base64Escape(Md5("x"))}}, body);
  EXPECT_EQ(CodeOf(bad_md5), S3ErrorCode::kBadDigest);

  const std::string crc = absl::Base64Escape(ComputeChecksum(ChecksumAlgorithm::kCrc32c, body));
  Outcome with_crc =
      Verify(Auth(PayloadMode::kUnsignedPayload), {{"x-amz-checksum-crc32c", crc}}, body);
  EXPECT_OK(with_crc.status);
  EXPECT_EQ(with_crc.checksums, (std::map<std::string, std::string>{{"CRC32C", crc}}));
  Outcome bad_crc =
      Verify(Auth(PayloadMode::kUnsignedPayload), {{"x-amz-checksum-crc32c", crc}}, "another body");
  EXPECT_EQ(CodeOf(bad_crc), S3ErrorCode::kBadDigest);
  Outcome two = Verify(Auth(PayloadMode::kUnsignedPayload),
                       {{"x-amz-checksum-crc32c", crc}, {"x-amz-checksum-crc32", crc}}, body);
  EXPECT_EQ(ErrorCodeOf(two.create), S3ErrorCode::kInvalidRequest);
}

TEST(PayloadVerifierTest, AwsChunkedWithoutStreamingModeIsRefused) {
  // The frames would otherwise be stored as the object's data.
  const std::string body = EncodeAwsChunked(PayloadMode::kStreamingSigned, Context(), kChunks, {});
  Outcome o = Verify(Auth(PayloadMode::kUnsignedPayload), ChunkedHeaders(kPayload.size()), body);
  EXPECT_EQ(ErrorCodeOf(o.create), S3ErrorCode::kInvalidRequest);
}

TEST(PayloadVerifierTest, SizeLimitCountsDecodedBytes) {
  const std::string body = EncodeAwsChunked(PayloadMode::kStreamingSigned, Context(), kChunks, {});
  Outcome at_limit = Verify(Auth(PayloadMode::kStreamingSigned), ChunkedHeaders(kPayload.size()),
                            body, 7, {.max_decoded_bytes = kPayload.size()});
  EXPECT_OK(at_limit.status);
  Outcome over = Verify(Auth(PayloadMode::kStreamingSigned), ChunkedHeaders(kPayload.size()), body,
                        7, {.max_decoded_bytes = kPayload.size() - 1});
  EXPECT_EQ(CodeOf(over), S3ErrorCode::kEntityTooLarge);
  Outcome plain = Verify(Auth(PayloadMode::kUnsignedPayload), {}, std::string(10, 'x'), 3,
                         {.max_decoded_bytes = 9});
  EXPECT_EQ(CodeOf(plain), S3ErrorCode::kEntityTooLarge);
}

class TrailerTest : public ::testing::TestWithParam<PayloadMode> {};

TEST_P(TrailerTest, ChecksumTrailerIsVerifiedAndReported) {
  const PayloadMode mode = GetParam();
  const std::string crc = absl::Base64Escape(ComputeChecksum(ChecksumAlgorithm::kCrc32c, kPayload));
  HeaderList headers = ChunkedHeaders(kPayload.size());
  headers.emplace_back("X-Amz-Trailer", "x-amz-checksum-crc32c");
  const std::string good =
      EncodeAwsChunked(mode, Context(), kChunks, {{"x-amz-checksum-crc32c", crc}});
  Outcome o = Verify(Auth(mode), headers, good);
  EXPECT_OK(o.status);
  EXPECT_EQ(o.decoded, kPayload);
  EXPECT_EQ(o.checksums, (std::map<std::string, std::string>{{"CRC32C", crc}}));

  const std::string wrong_crc =
      absl::Base64Escape(ComputeChecksum(ChecksumAlgorithm::kCrc32c, "x"));
  Outcome bad =
      Verify(Auth(mode), headers,
             EncodeAwsChunked(mode, Context(), kChunks, {{"x-amz-checksum-crc32c", wrong_crc}}));
  EXPECT_EQ(CodeOf(bad), S3ErrorCode::kBadDigest);

  // A trailer the request did not declare.
  Outcome undeclared =
      Verify(Auth(mode), ChunkedHeaders(kPayload.size()),
             EncodeAwsChunked(mode, Context(), kChunks, {{"x-amz-checksum-crc32c", crc}}));
  EXPECT_FALSE(undeclared.status.ok());

  // Cut before the trailer ends.
  Outcome cut = Verify(Auth(mode), headers, good.substr(0, good.size() - 4));
  EXPECT_FALSE(cut.status.ok());
}

INSTANTIATE_TEST_SUITE_P(Modes, TrailerTest,
                         ::testing::Values(PayloadMode::kStreamingSignedTrailer,
                                           PayloadMode::kStreamingUnsignedTrailer));

TEST(PayloadVerifierTest, SignedTrailerWithWrongSignatureFails) {
  const std::string crc = absl::Base64Escape(ComputeChecksum(ChecksumAlgorithm::kCrc32c, kPayload));
  HeaderList headers = ChunkedHeaders(kPayload.size());
  headers.emplace_back("X-Amz-Trailer", "x-amz-checksum-crc32c");
  std::string body = EncodeAwsChunked(PayloadMode::kStreamingSignedTrailer, Context(), kChunks,
                                      {{"x-amz-checksum-crc32c", crc}});
  const size_t sig = body.find("x-amz-trailer-signature:") + 24;
  body[sig] = body[sig] == '0' ? '1' : '0';
  Outcome o = Verify(Auth(PayloadMode::kStreamingSignedTrailer), headers, body);
  EXPECT_EQ(CodeOf(o), S3ErrorCode::kSignatureDoesNotMatch);
}

}  // namespace
}  // namespace tessera::services::s3
