// S3 payload checksums: Content-MD5 and ETags, and the x-amz-checksum-* algorithms (CRC32,
// CRC32C, CRC64NVME, SHA1, SHA256) as incremental hashers.
//
//   std::unique_ptr<Hasher> h = NewHasher(ChecksumAlgorithm::kCrc32c);
//   h->Update(piece1); h->Update(piece2);
//   std::string header_value = absl::Base64Escape(h->Finish());   // or h->FinishBase64()
//
// Digests are raw bytes; CRCs are their big-endian bytes, as S3 base64-encodes them.
// Thread-compatible: one hasher per stream.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tessera::services::s3 {

enum class ChecksumAlgorithm { kCrc32, kCrc32c, kCrc64Nvme, kSha1, kSha256 };

// "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256" (x-amz-checksum-algorithm / x-amz-sdk-
// checksum-algorithm values).
absl::string_view ChecksumAlgorithmName(ChecksumAlgorithm algorithm);
// Case-insensitive inverse of ChecksumAlgorithmName.
std::optional<ChecksumAlgorithm> ChecksumAlgorithmFromName(absl::string_view name);
// "x-amz-checksum-crc32" ... "x-amz-checksum-sha256".
absl::string_view ChecksumHeaderName(ChecksumAlgorithm algorithm);
// Case-insensitive inverse of ChecksumHeaderName.
std::optional<ChecksumAlgorithm> ChecksumAlgorithmFromHeader(absl::string_view header);
// Digest size in bytes: 4, 4, 8, 20, 32.
size_t ChecksumSize(ChecksumAlgorithm algorithm);

class Hasher {
 public:
  virtual ~Hasher() = default;
  virtual void Update(absl::string_view data) = 0;
  // The digest of everything fed so far (raw bytes). The hasher must not be used afterwards.
  virtual std::string Finish() = 0;
  std::string FinishBase64();
  std::string FinishHex();
};

// A new hasher for `algorithm`. Never null.
std::unique_ptr<Hasher> NewHasher(ChecksumAlgorithm algorithm);
// MD5 (for Content-MD5 and ETags).
std::unique_ptr<Hasher> NewMd5Hasher();

// One-shot helpers (raw digests).
std::string ComputeChecksum(ChecksumAlgorithm algorithm, absl::string_view data);
std::string Md5(absl::string_view data);

// Plain CRC values (the CRC of nothing is 0; pass the previous value to continue).
uint32_t Crc32(uint32_t crc, absl::string_view data);   // CRC-32 (gzip/zlib), ISA-L
uint32_t Crc32c(uint32_t crc, absl::string_view data);  // CRC-32C (Castagnoli), ISA-L

// Checks a base64 checksum header value against the raw digest computed by the server:
// InvalidDigest-style S3 error (kInvalidRequest for x-amz-checksum, kInvalidDigest for MD5) if
// the value is not base64 of the right size, BadDigest if it does not match.
[[nodiscard]] absl::Status VerifyContentMd5(absl::string_view header_value,
                                            absl::string_view md5_digest);
[[nodiscard]] absl::Status VerifyChecksum(ChecksumAlgorithm algorithm,
                                          absl::string_view header_value, absl::string_view digest);

// ETag of a single-part object: the quoted lowercase hex MD5 ("\"d41d8cd9...\"").
std::string SinglePartETag(absl::string_view md5_digest);
// ETag of a multipart object: MD5 of the concatenated raw part MD5s, hex, "-N", quoted.
std::string MultipartETag(const std::vector<std::string>& part_md5_digests);
// Parses a part ETag as sent in CompleteMultipartUpload (quotes optional, 32 hex digits) into
// the raw MD5. InvalidPart if malformed.
absl::StatusOr<std::string> ParsePartETag(absl::string_view etag);

}  // namespace tessera::services::s3
