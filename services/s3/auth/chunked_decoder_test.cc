#include "services/s3/auth/chunked_decoder.h"

#include <random>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "services/s3/errors/errors.h"

namespace tessera::services::s3 {
namespace {

constexpr char kSeed[] = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
// AWS's published chunk signatures for 65536 x 'a', 1024 x 'a', and the final empty chunk.
constexpr char kSig1[] = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648";
constexpr char kSig2[] = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497";
constexpr char kSig3[] = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9";

ChunkSigningContext ExampleContext(absl::string_view seed = kSeed) {
  return {
      DeriveSigningKey("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3"),
      "20130524T000000Z", "20130524/us-east-1/s3/aws4_request", std::string(seed)};
}

// The body of AWS's "Transferring Payload in Multiple Chunks" example, byte for byte.
std::string PublishedBody() {
  return absl::StrCat("10000;chunk-signature=", kSig1, "\r\n", std::string(65536, 'a'), "\r\n",
                      "400;chunk-signature=", kSig2, "\r\n", std::string(1024, 'a'), "\r\n",
                      "0;chunk-signature=", kSig3, "\r\n\r\n");
}

std::unique_ptr<AwsChunkedDecoder> MakeDecoder(ChunkedDecoderOptions options) {
  auto d = AwsChunkedDecoder::Create(std::move(options));
  EXPECT_OK(d.status());
  return d.ok() ? *std::move(d) : nullptr;
}

ChunkedDecoderOptions ExampleOptions() {
  ChunkedDecoderOptions o;
  o.mode = PayloadMode::kStreamingSigned;
  o.signing = ExampleContext();
  o.decoded_content_length = 66560;
  return o;
}

// Feeds `body` in pieces of `step` bytes; returns the first error (Feed or Finish).
absl::Status DecodeAll(AwsChunkedDecoder* d, absl::string_view body, size_t step,
                       std::string* out) {
  for (size_t pos = 0; pos < body.size(); pos += step) {
    absl::Status s = d->Feed(body.substr(pos, step), out);
    if (!s.ok()) return s;
  }
  return d->Finish();
}

TEST(ChunkedDecoderTest, PublishedChunkSignatures) {
  ChunkSigningContext ctx = ExampleContext();
  EXPECT_EQ(ChunkSignature(ctx, kSeed, Sha256Hex(std::string(65536, 'a'))), kSig1);
  EXPECT_EQ(ChunkSignature(ctx, kSig1, Sha256Hex(std::string(1024, 'a'))), kSig2);
  EXPECT_EQ(ChunkSignature(ctx, kSig2, Sha256Hex("")), kSig3);
  EXPECT_EQ(PublishedBody().size(), 66824u);  // the example's Content-Length
  EXPECT_EQ(EncodeAwsChunked(PayloadMode::kStreamingSigned, ctx,
                             {std::string(65536, 'a'), std::string(1024, 'a')}, {}),
            PublishedBody());
}

// AWS's trailing-header example: the trailer "x-amz-checksum-crc32c:wdBDMA==" signed after a
// final chunk whose signature is e05ab64f...
TEST(ChunkedDecoderTest, PublishedTrailerSignature) {
  EXPECT_EQ(TrailerSignature(ExampleContext(),
                             "e05ab64fe1dfdbf0b5870abbaabdb063c371d4e96f2767e6934d90529c5ae850",
                             "x-amz-checksum-crc32c:wdBDMA==\n"),
            "41e14ac611e27a8bb3d66c3bad6856f209297767d5dd4fc87d8fa9e422e03faf");
}

TEST(ChunkedDecoderTest, DecodesPublishedBodyInPiecesOfAnySize) {
  const std::string body = PublishedBody();
  for (size_t step : {body.size(), size_t{1}, size_t{2}, size_t{7}, size_t{85}, size_t{4096}}) {
    auto d = MakeDecoder(ExampleOptions());
    std::string out;
    ASSERT_EQ(DecodeAll(d.get(), body, step, &out), absl::OkStatus()) << "step " << step;
    EXPECT_EQ(out, std::string(66560, 'a'));
    EXPECT_TRUE(d->done());
    EXPECT_EQ(d->decoded_bytes(), 66560u);
  }
}

TEST(ChunkedDecoderTest, TamperedDataOrSignatureFails) {
  std::string body = PublishedBody();
  body[100] = 'b';  // inside chunk 1's data
  auto d = MakeDecoder(ExampleOptions());
  std::string out;
  EXPECT_EQ(ErrorCodeOf(DecodeAll(d.get(), body, 1000, &out)), S3ErrorCode::kSignatureDoesNotMatch);
  // Errors are sticky.
  EXPECT_EQ(ErrorCodeOf(d->Feed("x", &out)), S3ErrorCode::kSignatureDoesNotMatch);

  // Wrong seed: the first chunk does not chain.
  ChunkedDecoderOptions o = ExampleOptions();
  o.signing.seed_signature = std::string(64, '0');
  d = MakeDecoder(o);
  EXPECT_EQ(ErrorCodeOf(DecodeAll(d.get(), PublishedBody(), 4096, &out)),
            S3ErrorCode::kSignatureDoesNotMatch);

  // Reordered chunks (swap the two signatures' chunks): chain breaks.
  std::string swapped =
      absl::StrCat("400;chunk-signature=", kSig2, "\r\n", std::string(1024, 'a'), "\r\n",
                   "10000;chunk-signature=", kSig1, "\r\n", std::string(65536, 'a'), "\r\n",
                   "0;chunk-signature=", kSig3, "\r\n\r\n");
  d = MakeDecoder(ExampleOptions());
  EXPECT_EQ(ErrorCodeOf(DecodeAll(d.get(), swapped, 4096, &out)),
            S3ErrorCode::kSignatureDoesNotMatch);
}

TEST(ChunkedDecoderTest, TruncationAndLengthMismatch) {
  const std::string body = PublishedBody();
  for (size_t cut :
       {size_t{0}, size_t{10}, size_t{90}, size_t{50000}, body.size() - 1, body.size() - 2}) {
    auto d = MakeDecoder(ExampleOptions());
    std::string out;
    EXPECT_EQ(ErrorCodeOf(DecodeAll(d.get(), body.substr(0, cut), 333, &out)),
              S3ErrorCode::kIncompleteBody)
        << cut;
  }
  ChunkedDecoderOptions o = ExampleOptions();
  o.decoded_content_length = 70000;
  auto d = MakeDecoder(o);
  std::string out;
  EXPECT_EQ(ErrorCodeOf(DecodeAll(d.get(), body, 4096, &out)), S3ErrorCode::kIncompleteBody);
  o.decoded_content_length = 1000;
  d = MakeDecoder(o);
  EXPECT_EQ(ErrorCodeOf(DecodeAll(d.get(), body, 4096, &out)), S3ErrorCode::kInvalidRequest);
  // Data after the final chunk.
  d = MakeDecoder(ExampleOptions());
  EXPECT_EQ(ErrorCodeOf(DecodeAll(d.get(), body + "junk", 4096, &out)),
            S3ErrorCode::kInvalidRequest);
}

TEST(ChunkedDecoderTest, MalformedFraming) {
  const std::string bad[] = {
      "zz;chunk-signature=" + std::string(64, 'a') + "\r\n",
      "10\r\n",                                                              // signature missing
      "10;chunk-signature=abc\r\n",                                          // short signature
      "10;chunk-signature=" + std::string(64, 'a') + "\n",                   // bare LF
      "11111111111111111;chunk-signature=" + std::string(64, 'a') + "\r\n",  // > 16 hex digits
      std::string(5000, '1'),                                                // line too long
  };
  for (const std::string& b : bad) {
    ChunkedDecoderOptions o = ExampleOptions();
    o.decoded_content_length.reset();
    auto d = MakeDecoder(o);
    std::string out;
    EXPECT_EQ(ErrorCodeOf(DecodeAll(d.get(), b, 3, &out)), S3ErrorCode::kInvalidRequest)
        << b.substr(0, 40);
  }
}

TEST(ChunkedDecoderTest, MinimumChunkSizeWhenEnforced) {
  ChunkSigningContext ctx = ExampleContext();
  std::string body = EncodeAwsChunked(PayloadMode::kStreamingSigned, ctx,
                                      {std::string(100, 'x'), std::string(9000, 'y')}, {});
  ChunkedDecoderOptions o;
  o.signing = ctx;
  o.enforce_min_chunk_size = true;
  auto d = MakeDecoder(o);
  std::string out;
  EXPECT_EQ(ErrorCodeOf(DecodeAll(d.get(), body, 512, &out)), S3ErrorCode::kInvalidChunkSizeError);
  o.enforce_min_chunk_size = false;
  d = MakeDecoder(o);
  out.clear();
  EXPECT_OK(DecodeAll(d.get(), body, 512, &out));
  EXPECT_EQ(out, std::string(100, 'x') + std::string(9000, 'y'));
}

class TrailerTest : public ::testing::TestWithParam<PayloadMode> {};

TEST_P(TrailerTest, RoundTripWithChecksumTrailer) {
  PayloadMode mode = GetParam();
  ChunkSigningContext ctx = ExampleContext();
  std::mt19937 rng(11);
  std::vector<std::string> chunks;
  std::string payload;
  for (int i = 0; i < 5; ++i) {
    std::string c(8192 + rng() % 5000, '\0');
    for (char& ch : c) ch = static_cast<char>(rng());
    payload += c;
    chunks.push_back(std::move(c));
  }
  for (ChecksumAlgorithm alg :
       {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c, ChecksumAlgorithm::kCrc64Nvme,
        ChecksumAlgorithm::kSha1, ChecksumAlgorithm::kSha256}) {
    std::string name(ChecksumHeaderName(alg));
    std::string good = NewHasher(alg)->FinishBase64();  // placeholder, replaced below
    auto h = NewHasher(alg);
    h->Update(payload);
    good = h->FinishBase64();
    ChunkedDecoderOptions o;
    o.mode = mode;
    if (mode == PayloadMode::kStreamingSignedTrailer) o.signing = ctx;
    o.decoded_content_length = payload.size();
    o.declared_trailers = {name};
    std::string body = EncodeAwsChunked(mode, ctx, chunks, {{name, good}});
    for (size_t step : {size_t{1}, size_t{13}, size_t{4096}, body.size()}) {
      auto d = MakeDecoder(o);
      std::string out;
      ASSERT_EQ(DecodeAll(d.get(), body, step, &out), absl::OkStatus()) << name << " step " << step;
      EXPECT_EQ(out, payload);
      ASSERT_EQ(d->trailers().size(), 1u);
      EXPECT_EQ(d->trailers()[0].first, name);
      EXPECT_EQ(d->trailers()[0].second, good);
    }
    // A checksum that does not match the payload.
    std::string wrong = ComputeChecksum(alg, "something else");
    std::string bad_body = EncodeAwsChunked(mode, ctx, chunks, {{name, absl::Base64Escape(wrong)}});
    auto d = MakeDecoder(o);
    std::string out;
    EXPECT_EQ(ErrorCodeOf(DecodeAll(d.get(), bad_body, 4096, &out)), S3ErrorCode::kBadDigest)
        << name;
    // EOF right after the trailer line (no final empty line) is accepted.
    d = MakeDecoder(o);
    out.clear();
    EXPECT_OK(DecodeAll(d.get(), body.substr(0, body.size() - 2), 4096, &out));
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, TrailerTest,
                         ::testing::Values(PayloadMode::kStreamingSignedTrailer,
                                           PayloadMode::kStreamingUnsignedTrailer));

TEST(ChunkedDecoderTest, SignedTrailerTamperingFails) {
  ChunkSigningContext ctx = ExampleContext();
  std::string crc = absl::Base64Escape(ComputeChecksum(ChecksumAlgorithm::kCrc32c, "hello"));
  std::string body = EncodeAwsChunked(PayloadMode::kStreamingSignedTrailer, ctx, {"hello"},
                                      {{"x-amz-checksum-crc32c", crc}});
  ChunkedDecoderOptions o;
  o.mode = PayloadMode::kStreamingSignedTrailer;
  o.signing = ctx;
  o.declared_trailers = {"x-amz-checksum-crc32c"};
  auto d = MakeDecoder(o);
  std::string out;
  ASSERT_OK(DecodeAll(d.get(), body, 5, &out));
  // Replace the trailer signature with another valid-looking one.
  size_t pos = body.find("x-amz-trailer-signature:") + 24;
  std::string tampered = body;
  tampered[pos] = tampered[pos] == '0' ? '1' : '0';
  d = MakeDecoder(o);
  EXPECT_EQ(ErrorCodeOf(DecodeAll(d.get(), tampered, 5, &out)),
            S3ErrorCode::kSignatureDoesNotMatch);
  // Dropping the trailer signature line.
  std::string unsigned_trailer = body.substr(0, body.find("x-amz-trailer-signature")) + "\r\n";
  d = MakeDecoder(o);
  EXPECT_EQ(ErrorCodeOf(DecodeAll(d.get(), unsigned_trailer, 5, &out)),
            S3ErrorCode::kSignatureDoesNotMatch);
  // An undeclared trailer.
  o.declared_trailers = {"x-amz-checksum-sha256"};
  d = MakeDecoder(o);
  EXPECT_EQ(ErrorCodeOf(DecodeAll(d.get(), body, 5, &out)), S3ErrorCode::kInvalidRequest);
}

TEST(ChunkedDecoderTest, OptionsValidationAndTrailerHeader) {
  ChunkedDecoderOptions o;
  o.mode = PayloadMode::kStreamingSigned;  // no signing context
  EXPECT_FALSE(AwsChunkedDecoder::Create(o).ok());
  o.mode = PayloadMode::kUnsignedPayload;
  EXPECT_FALSE(AwsChunkedDecoder::Create(o).ok());
  o.mode = PayloadMode::kStreamingUnsignedTrailer;
  EXPECT_OK(AwsChunkedDecoder::Create(o).status());
  o.declared_trailers = {"x-amz-checksum-crc32", "x-amz-checksum-sha1"};
  EXPECT_FALSE(AwsChunkedDecoder::Create(o).ok());
  ASSERT_OK_AND_ASSIGN(auto names, ParseTrailerHeader("X-Amz-Checksum-CRC32C"));
  EXPECT_EQ(names, std::vector<std::string>{"x-amz-checksum-crc32c"});
  ASSERT_OK_AND_ASSIGN(names, ParseTrailerHeader("a, b"));
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(ParseTrailerHeader("a,,b").ok());
}

}  // namespace
}  // namespace tessera::services::s3
