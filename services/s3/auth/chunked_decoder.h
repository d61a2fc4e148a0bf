// AwsChunkedDecoder: decodes an aws-chunked request body (Content-Encoding: aws-chunked) as S3
// defines it for the STREAMING-* x-amz-content-sha256 modes, verifying the chunk signature chain.
//
//   signed:    <hex-size>;chunk-signature=<sig>\r\n<data>\r\n ... 0;chunk-signature=<sig>\r\n\r\n
//   + trailer: ... 0;chunk-signature=<sig>\r\n<name>:<value>\r\n...
//              x-amz-trailer-signature:<sig>\r\n\r\n
//   unsigned trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER):
//              <hex-size>\r\n<data>\r\n ... 0\r\n<name>:<value>\r\n\r\n
//
// Chunk n's signature is HMAC(signing key, "AWS4-HMAC-SHA256-PAYLOAD\n" date "\n" scope "\n"
// sig(n-1) "\n" SHA256("") "\n" SHA256(data n)), starting from the request's seed signature; the
// trailer's is HMAC(key, "AWS4-HMAC-SHA256-TRAILER\n" date "\n" scope "\n" sig(final chunk) "\n"
// SHA256(trailer lines, each "name:value\n")).
//
// Incremental: Feed() takes the body in pieces of any size and appends decoded payload bytes to
// `out` as they arrive, so memory stays bounded (one header line, at most kMaxLineLength) no
// matter how large a chunk is. Bytes appended before a chunk's signature is checked are not yet
// authenticated: callers must treat everything as provisional until Finish() returns OK, and
// discard it on any error. Errors are sticky and carry S3 codes: SignatureDoesNotMatch (chunk or
// trailer signature), IncompleteBody (truncated body or fewer bytes than
// x-amz-decoded-content-length), InvalidRequest (framing), BadDigest (trailer checksum differs
// from the payload), InvalidChunkSizeError (a non-final chunk under 8 KiB when enforced).
// Thread-compatible.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/s3/auth/sigv4.h"
#include "services/s3/checksum/checksum.h"

namespace tessera::services::s3 {

struct ChunkedDecoderOptions {
  // kStreamingSigned, kStreamingSignedTrailer or kStreamingUnsignedTrailer.
  PayloadMode mode = PayloadMode::kStreamingSigned;
  // Required for the signed modes (from AuthResult::chunk_context).
  ChunkSigningContext signing;
  // x-amz-decoded-content-length, if the request sent it (S3 requires it).
  std::optional<uint64_t> decoded_content_length;
  // Names from the x-amz-trailer header (lowercase). Trailers not listed are rejected; a listed
  // x-amz-checksum-* trailer is verified against the decoded payload.
  std::vector<std::string> declared_trailers;
  // Reject non-final chunks smaller than 8192 bytes, as S3 does for signed chunked uploads.
  bool enforce_min_chunk_size = false;
  [[nodiscard]] absl::Status Validate() const;
};

class AwsChunkedDecoder {
 public:
  static constexpr size_t kMaxLineLength = 4096;
  static constexpr uint64_t kMinChunkSize = 8192;

  // Fails if `options` is invalid.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<AwsChunkedDecoder>> Create(
      ChunkedDecoderOptions options);
  ~AwsChunkedDecoder();

  // Consumes `in`, appending decoded payload to `*out`.
  [[nodiscard]] absl::Status Feed(absl::string_view in, std::string* out);
  // Call at end of body: OK only if the final chunk (and trailer) arrived, every signature and
  // trailer checksum verified, and the decoded length matches.
  [[nodiscard]] absl::Status Finish();

  bool done() const { return state_ == State::kDone; }
  uint64_t decoded_bytes() const { return decoded_bytes_; }
  // Trailers received (lowercase name, trimmed value), excluding x-amz-trailer-signature.
  const std::vector<std::pair<std::string, std::string>>& trailers() const { return trailers_; }

 private:
  enum class State { kSizeLine, kData, kDataCrlf, kFinalCrlf, kTrailer, kDone, kFailed };

  explicit AwsChunkedDecoder(ChunkedDecoderOptions options);
  absl::Status Fail(absl::Status status);
  absl::Status OnSizeLine(absl::string_view line);
  absl::Status OnChunkComplete();
  absl::Status OnTrailerLine(absl::string_view line);
  absl::Status VerifyChunkSignature(absl::string_view data_sha256_hex, absl::string_view claimed);
  bool signed_mode() const { return options_.mode != PayloadMode::kStreamingUnsignedTrailer; }
  bool trailer_mode() const { return options_.mode != PayloadMode::kStreamingSigned; }

  ChunkedDecoderOptions options_;
  State state_ = State::kSizeLine;
  absl::Status error_;
  std::string line_;  // partial header/trailer line
  uint64_t chunk_remaining_ = 0;
  uint64_t chunk_size_ = 0;
  uint64_t decoded_bytes_ = 0;
  bool previous_chunk_small_ = false;
  std::string chunk_signature_;         // claimed signature of the current chunk
  std::string previous_signature_;      // chain
  std::unique_ptr<Hasher> chunk_hash_;  // SHA-256 of the current chunk's data
  std::optional<ChecksumAlgorithm> trailer_checksum_;
  std::unique_ptr<Hasher> payload_checksum_;
  std::string computed_checksum_;   // raw, set once the payload is complete
  std::string canonical_trailers_;  // "name:value\n" lines, for the trailer signature
  bool trailer_signature_seen_ = false;
  std::vector<std::pair<std::string, std::string>> trailers_;
};

// Parses an x-amz-trailer header value ("x-amz-checksum-crc32c" or a comma-separated list) into
// lowercase names. InvalidArgument for an empty element.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> ParseTrailerHeader(absl::string_view value);

// Client side (tests, tools): encodes `chunks` as an aws-chunked body. Signed modes use
// `signing` (seed signature included) and sign each chunk, the final empty chunk and (trailer
// mode) the trailer; `trailers` are (name, value) lines.
std::string EncodeAwsChunked(PayloadMode mode, const ChunkSigningContext& signing,
                             const std::vector<std::string>& chunks,
                             const std::vector<std::pair<std::string, std::string>>& trailers);

// The chunk / trailer signatures (lowercase hex), exposed for tests.
std::string ChunkSignature(const ChunkSigningContext& signing, absl::string_view previous,
                           absl::string_view data_sha256_hex);
std::string TrailerSignature(const ChunkSigningContext& signing, absl::string_view previous,
                             absl::string_view canonical_trailers);

}  // namespace tessera::services::s3
