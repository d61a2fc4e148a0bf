// PayloadVerifier: decides whether a request body is the one its sender signed and declared.
// Security critical: every byte the S3 front end stores passed through one of these, and an
// object is committed only after Finish() returned OK.
//
// Given the request's authentication result (services/s3/auth/sigv4.h) and headers, it
//   * de-frames aws-chunked bodies (STREAMING-* x-amz-content-sha256) through AwsChunkedDecoder,
//     which checks every chunk signature, the final chunk, the trailer (signature, declared
//     names, x-amz-checksum-* value) and x-amz-decoded-content-length;
//   * refuses Content-Encoding: aws-chunked without a STREAMING-* mode (the frames would be
//     stored as data);
//   * hashes the decoded payload: MD5 always (the ETag; Content-MD5 if sent), SHA-256 for a
//     signed payload (x-amz-content-sha256 = hex digest), the x-amz-checksum-* algorithm if a
//     checksum header was sent (at most one);
//   * enforces a limit on decoded bytes.
// UNSIGNED-PAYLOAD bodies are accepted as they come (only Content-MD5 / x-amz-checksum-* bind
// them). Bytes handed out by Feed() are provisional: nothing is verified until Finish().
//
// Push style, no I/O: the caller reads the raw body (HttpBodyReader) and feeds it in pieces of
// any size, so the verifier is testable and fuzzable without sockets.
//
// Errors (S3 codes, services/s3/errors): Create: InvalidArgument (bad
// x-amz-decoded-content-length), InvalidRequest (aws-chunked without STREAMING-*, two checksum
// headers), and the decoder's option errors. Feed: the decoder's errors (SignatureDoesNotMatch,
// InvalidRequest framing, IncompleteBody, InvalidChunkSizeError), EntityTooLarge over the limit.
// Finish: IncompleteBody (truncated chunked body or short of the decoded length),
// SignatureDoesNotMatch (final chunk / trailer), BadDigest (trailer checksum, x-amz-checksum-*
// or Content-MD5 mismatch), InvalidDigest (malformed Content-MD5 / checksum value),
// XAmzContentSHA256Mismatch (signed payload). Errors are not sticky beyond the decoder's: after
// any error the caller must discard the body.
//
// Thread-compatible: one verifier per request body.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/s3/auth/chunked_decoder.h"
#include "services/s3/auth/sigv4.h"
#include "services/s3/checksum/checksum.h"
#include "services/s3/request/headers.h"

namespace tessera::services::s3 {

struct PayloadVerifierOptions {
  // Feed() fails with EntityTooLarge once more decoded bytes than this arrived.
  uint64_t max_decoded_bytes = std::numeric_limits<uint64_t>::max();
};

class PayloadVerifier {
 public:
  // `auth` and `headers` are read here only (nothing is kept by reference).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<PayloadVerifier>> Create(
      const AuthResult& auth, const HeaderList& headers, PayloadVerifierOptions options = {});

  // `*piece` holds the next raw body bytes (any size, may be empty); it is replaced by the
  // decoded payload bytes they completed (possibly none). Provisional until Finish().
  [[nodiscard]] absl::Status Feed(std::string* piece);

  // At the end of the raw body: OK only if the body is complete and every signature, digest and
  // checksum matched. Then md5() and checksums() are set.
  [[nodiscard]] absl::Status Finish();

  // Decoded payload bytes so far.
  uint64_t total() const { return total_; }
  // Raw (16-byte) MD5 of the payload; after Finish().
  const std::string& md5() const { return md5_raw_; }
  // Verified checksums to store with the object: algorithm name ("CRC32C", ...) -> base64 value,
  // from the x-amz-checksum-* header or trailer. After Finish().
  const std::map<std::string, std::string>& checksums() const { return checksums_; }

 private:
  PayloadVerifier(const AuthResult& auth, PayloadVerifierOptions options);

  const PayloadVerifierOptions options_;
  const PayloadMode mode_;
  const std::string payload_sha256_hex_;  // kSignedPayload
  std::optional<std::string> content_md5_;
  std::unique_ptr<AwsChunkedDecoder> decoder_;
  std::unique_ptr<Hasher> md5_, sha256_, checksum_hasher_;
  std::optional<ChecksumAlgorithm> checksum_;
  std::string checksum_value_;
  std::string scratch_;
  std::string md5_raw_;
  uint64_t total_ = 0;
  std::map<std::string, std::string> checksums_;
};

}  // namespace tessera::services::s3
