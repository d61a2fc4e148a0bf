#include "services/s3/auth/payload_verifier.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "services/s3/errors/errors.h"

namespace tessera::services::s3 {

PayloadVerifier::PayloadVerifier(const AuthResult& auth, PayloadVerifierOptions options)
    : options_(options), mode_(auth.payload_mode), payload_sha256_hex_(auth.payload_sha256_hex) {}

absl::StatusOr<std::unique_ptr<PayloadVerifier>> PayloadVerifier::Create(
    const AuthResult& auth, const HeaderList& headers, PayloadVerifierOptions options) {
  std::unique_ptr<PayloadVerifier> v(new PayloadVerifier(auth, options));
  const std::string encoding = absl::AsciiStrToLower(HeaderOr(headers, "content-encoding"));
  const bool streaming = auth.payload_mode == PayloadMode::kStreamingSigned ||
                         auth.payload_mode == PayloadMode::kStreamingSignedTrailer ||
                         auth.payload_mode == PayloadMode::kStreamingUnsignedTrailer;
  if (streaming) {
    ChunkedDecoderOptions o;
    o.mode = auth.payload_mode;
    o.signing = auth.chunk_context;
    if (const std::string* d = FindHeader(headers, "x-amz-decoded-content-length")) {
      uint64_t n = 0;
      if (!absl::SimpleAtoi(*d, &n)) {
        return S3Status(S3ErrorCode::kInvalidArgument, "bad x-amz-decoded-content-length");
      }
      o.decoded_content_length = n;
    }
    if (const std::string* t = FindHeader(headers, "x-amz-trailer")) {
      for (absl::string_view name : absl::StrSplit(*t, ',', absl::SkipWhitespace())) {
        o.declared_trailers.push_back(absl::AsciiStrToLower(absl::StripAsciiWhitespace(name)));
      }
    }
    absl::StatusOr<std::unique_ptr<AwsChunkedDecoder>> d = AwsChunkedDecoder::Create(o);
    if (!d.ok()) return d.status();
    v->decoder_ = *std::move(d);
  } else if (absl::StrContains(encoding, "aws-chunked")) {
    // Without a STREAMING-* mode nobody would strip (or check) the chunk frames.
    return S3Status(S3ErrorCode::kInvalidRequest,
                    "aws-chunked needs a STREAMING-* x-amz-content-sha256");
  }
  v->md5_ = NewMd5Hasher();
  if (auth.payload_mode == PayloadMode::kSignedPayload) {
    v->sha256_ = NewHasher(ChecksumAlgorithm::kSha256);
  }
  for (const auto& [k, value] : headers) {
    std::optional<ChecksumAlgorithm> a = ChecksumAlgorithmFromHeader(k);
    if (a.has_value()) {
      if (v->checksum_.has_value()) {
        return S3Status(S3ErrorCode::kInvalidRequest, "more than one checksum header");
      }
      v->checksum_ = *a;
      v->checksum_value_ = value;
      v->checksum_hasher_ = NewHasher(*a);
    }
  }
  if (const std::string* cmd5 = FindHeader(headers, "content-md5")) v->content_md5_ = *cmd5;
  return v;
}

absl::Status PayloadVerifier::Feed(std::string* piece) {
  if (decoder_) {
    scratch_.clear();
    if (absl::Status s = decoder_->Feed(*piece, &scratch_); !s.ok()) return s;
    piece->swap(scratch_);
  }
  total_ += piece->size();
  if (total_ > options_.max_decoded_bytes) return S3Status(S3ErrorCode::kEntityTooLarge);
  md5_->Update(*piece);
  if (sha256_) sha256_->Update(*piece);
  if (checksum_hasher_) checksum_hasher_->Update(*piece);
  return absl::OkStatus();
}

absl::Status PayloadVerifier::Finish() {
  if (decoder_) {
    if (absl::Status s = decoder_->Finish(); !s.ok()) return s;
  }
  md5_raw_ = md5_->Finish();
  if (sha256_ && sha256_->FinishHex() != payload_sha256_hex_) {
    return S3Status(S3ErrorCode::kXAmzContentSHA256Mismatch);
  }
  if (content_md5_.has_value()) {
    if (absl::Status s = VerifyContentMd5(*content_md5_, md5_raw_); !s.ok()) return s;
  }
  if (checksum_.has_value()) {
    if (absl::Status s = VerifyChecksum(*checksum_, checksum_value_, checksum_hasher_->Finish());
        !s.ok()) {
      return s;
    }
    checksums_[std::string(ChecksumAlgorithmName(*checksum_))] = checksum_value_;
  }
  if (decoder_) {
    for (const auto& [k, v] : decoder_->trailers()) {
      if (std::optional<ChecksumAlgorithm> a = ChecksumAlgorithmFromHeader(k)) {
        checksums_[std::string(ChecksumAlgorithmName(*a))] = v;  // verified by the decoder
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace tessera::services::s3
