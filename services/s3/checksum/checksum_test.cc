#include "services/s3/checksum/checksum.h"

#include <random>
#include <string>

#include "absl/strings/escaping.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "services/s3/errors/errors.h"

namespace tessera::services::s3 {
namespace {

using ::tessera::testing::StatusIs;

std::string Hex(absl::string_view raw) { return absl::BytesToHexString(raw); }

TEST(ChecksumTest, CrcCheckValues) {
  EXPECT_EQ(Crc32(0, "123456789"), 0xCBF43926u);
  EXPECT_EQ(Crc32c(0, "123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32(0, ""), 0u);
  EXPECT_EQ(Crc32c(0, ""), 0u);
  // Chaining continues the CRC.
  EXPECT_EQ(Crc32(Crc32(0, "1234"), "56789"), 0xCBF43926u);
  EXPECT_EQ(Crc32c(Crc32c(0, "12345"), "6789"), 0xE3069283u);
}

TEST(ChecksumTest, DigestsOfKnownInputs) {
  EXPECT_EQ(Hex(Md5("")), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Hex(ComputeChecksum(ChecksumAlgorithm::kSha256, "")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Hex(ComputeChecksum(ChecksumAlgorithm::kSha1, "abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Hex(ComputeChecksum(ChecksumAlgorithm::kCrc32, "123456789")), "cbf43926");
  EXPECT_EQ(Hex(ComputeChecksum(ChecksumAlgorithm::kCrc32c, "123456789")), "e3069283");
  EXPECT_EQ(Hex(ComputeChecksum(ChecksumAlgorithm::kCrc64Nvme, "123456789")), "ae8b14860a799888");
}

TEST(ChecksumTest, IncrementalEqualsOneShotForEveryAlgorithm) {
  std::mt19937 rng(7);
  std::string data(100000, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (auto alg :
       {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c, ChecksumAlgorithm::kCrc64Nvme,
        ChecksumAlgorithm::kSha1, ChecksumAlgorithm::kSha256}) {
    std::string whole = ComputeChecksum(alg, data);
    EXPECT_EQ(whole.size(), ChecksumSize(alg));
    auto h = NewHasher(alg);
    size_t pos = 0;
    while (pos < data.size()) {
      size_t n = std::min<size_t>(data.size() - pos, 1 + rng() % 3000);
      h->Update(absl::string_view(data).substr(pos, n));
      pos += n;
    }
    EXPECT_EQ(h->Finish(), whole) << ChecksumAlgorithmName(alg);
  }
}

TEST(ChecksumTest, NamesAndHeaders) {
  EXPECT_EQ(ChecksumAlgorithmFromName("crc64nvme"), ChecksumAlgorithm::kCrc64Nvme);
  EXPECT_EQ(ChecksumAlgorithmFromName("SHA256"), ChecksumAlgorithm::kSha256);
  EXPECT_FALSE(ChecksumAlgorithmFromName("MD5").has_value());
  EXPECT_EQ(ChecksumAlgorithmFromHeader("X-Amz-Checksum-CRC32C"), ChecksumAlgorithm::kCrc32c);
  EXPECT_FALSE(ChecksumAlgorithmFromHeader("x-amz-checksum-type").has_value());
  EXPECT_EQ(ChecksumHeaderName(ChecksumAlgorithm::kSha1), "x-amz-checksum-sha1");
}

TEST(ChecksumTest, VerifyContentMd5) {
  std::string digest = Md5("hello");
  std::string b64 = absl::Base64Escape(digest);
  EXPECT_OK(VerifyContentMd5(b64, digest));
  EXPECT_THAT(VerifyContentMd5(absl::Base64Escape(Md5("other")), digest),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ErrorCodeOf(VerifyContentMd5(absl::Base64Escape(Md5("other")), digest)),
            S3ErrorCode::kBadDigest);
  EXPECT_EQ(ErrorCodeOf(VerifyContentMd5("not base64!", digest)), S3ErrorCode::kInvalidDigest);
  EXPECT_EQ(ErrorCodeOf(VerifyContentMd5(absl::Base64Escape("short"), digest)),
            S3ErrorCode::kInvalidDigest);
}

TEST(ChecksumTest, VerifyChecksum) {
  std::string d = ComputeChecksum(ChecksumAlgorithm::kCrc32, "data");
  EXPECT_OK(VerifyChecksum(ChecksumAlgorithm::kCrc32, absl::Base64Escape(d), d));
  EXPECT_EQ(ErrorCodeOf(VerifyChecksum(ChecksumAlgorithm::kCrc32, "AAAAAA==", d)),
            S3ErrorCode::kBadDigest);
  EXPECT_EQ(ErrorCodeOf(VerifyChecksum(ChecksumAlgorithm::kCrc32, "AAAA", d)),
            S3ErrorCode::kInvalidRequest);
}

TEST(ChecksumTest, ETags) {
  EXPECT_EQ(SinglePartETag(Md5("")), "\"d41d8cd98f00b204e9800998ecf8427e\"");
  std::string p1 = Md5(std::string(5 << 20, 'x'));
  std::string p2 = Md5("tail");
  // Independently: MD5 over the 32 concatenated digest bytes.
  std::string expected = absl::BytesToHexString(Md5(p1 + p2)) + "-2";
  EXPECT_EQ(MultipartETag({p1, p2}), "\"" + expected + "\"");
  ASSERT_OK_AND_ASSIGN(std::string raw, ParsePartETag("\"D41D8CD98F00B204E9800998ECF8427E\""));
  EXPECT_EQ(raw, Md5(""));
  ASSERT_OK_AND_ASSIGN(raw, ParsePartETag("d41d8cd98f00b204e9800998ecf8427e"));
  EXPECT_EQ(raw, Md5(""));
  EXPECT_EQ(ErrorCodeOf(ParsePartETag("\"xyz\"").status()), S3ErrorCode::kInvalidPart);
  EXPECT_EQ(ErrorCodeOf(ParsePartETag("d41d8cd98f00b204e9800998ecf8427g").status()),
            S3ErrorCode::kInvalidPart);
}

}  // namespace
}  // namespace tessera::services::s3
