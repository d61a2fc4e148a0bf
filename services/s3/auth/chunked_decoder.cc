#include "services/s3/auth/chunked_decoder.h"

#include <openssl/crypto.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "services/s3/errors/errors.h"

namespace tessera::services::s3 {
namespace {

constexpr absl::string_view kChunkSignaturePrefix = "chunk-signature=";
constexpr absl::string_view kTrailerSignatureName = "x-amz-trailer-signature";

absl::Status Framing(absl::string_view what) {
  return S3Status(S3ErrorCode::kInvalidRequest, absl::StrCat("aws-chunked body: ", what));
}

absl::Status Truncated() {
  return S3Status(S3ErrorCode::kIncompleteBody,
                  "The request body terminated unexpectedly (aws-chunked)");
}

bool ParseHexSize(absl::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 16) return false;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    v = v * 16 + static_cast<uint64_t>(d);
  }
  *out = v;
  return true;
}

}  // namespace

std::string ChunkSignature(const ChunkSigningContext& signing, absl::string_view previous,
                           absl::string_view data_sha256_hex) {
  std::string sts =
      absl::StrCat("AWS4-HMAC-SHA256-PAYLOAD\n", signing.amz_date, "\n", signing.scope, "\n",
                   previous, "\n", kEmptySha256, "\n", data_sha256_hex);
  return SignatureHex(signing.signing_key, sts);
}

std::string TrailerSignature(const ChunkSigningContext& signing, absl::string_view previous,
                             absl::string_view canonical_trailers) {
  std::string sts =
      absl::StrCat("AWS4-HMAC-SHA256-TRAILER\n", signing.amz_date, "\n", signing.scope, "\n",
                   previous, "\n", Sha256Hex(canonical_trailers));
  return SignatureHex(signing.signing_key, sts);
}

absl::Status ChunkedDecoderOptions::Validate() const {
  if (mode != PayloadMode::kStreamingSigned && mode != PayloadMode::kStreamingSignedTrailer &&
      mode != PayloadMode::kStreamingUnsignedTrailer) {
    return absl::InvalidArgumentError("not a streaming payload mode");
  }
  if (mode != PayloadMode::kStreamingUnsignedTrailer &&
      (signing.signing_key.empty() || signing.seed_signature.empty() || signing.amz_date.empty() ||
       signing.scope.empty())) {
    return absl::InvalidArgumentError("signed streaming needs a signing context");
  }
  int checksums = 0;
  for (const std::string& t : declared_trailers) {
    if (ChecksumAlgorithmFromHeader(t).has_value()) ++checksums;
  }
  if (checksums > 1) return absl::InvalidArgumentError("more than one checksum trailer");
  if (mode == PayloadMode::kStreamingSigned && !declared_trailers.empty()) {
    return absl::InvalidArgumentError("trailers need a *-TRAILER payload mode");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<AwsChunkedDecoder>> AwsChunkedDecoder::Create(
    ChunkedDecoderOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  return std::unique_ptr<AwsChunkedDecoder>(new AwsChunkedDecoder(std::move(options)));
}

AwsChunkedDecoder::AwsChunkedDecoder(ChunkedDecoderOptions options) : options_(std::move(options)) {
  previous_signature_ = options_.signing.seed_signature;
  for (const std::string& t : options_.declared_trailers) {
    if (auto alg = ChecksumAlgorithmFromHeader(t)) trailer_checksum_ = alg;
  }
  if (trailer_checksum_) payload_checksum_ = NewHasher(*trailer_checksum_);
}

AwsChunkedDecoder::~AwsChunkedDecoder() {
  OPENSSL_cleanse(options_.signing.signing_key.data(), options_.signing.signing_key.size());
}

absl::Status AwsChunkedDecoder::Fail(absl::Status status) {
  state_ = State::kFailed;
  error_ = status;
  return status;
}

absl::Status AwsChunkedDecoder::VerifyChunkSignature(absl::string_view data_sha256_hex,
                                                     absl::string_view claimed) {
  std::string expected = ChunkSignature(options_.signing, previous_signature_, data_sha256_hex);
  if (!ConstantTimeEquals(expected, claimed)) {
    return S3Status(S3ErrorCode::kSignatureDoesNotMatch,
                    "The chunk signature we calculated does not match the one you provided.");
  }
  previous_signature_ = std::move(expected);
  return absl::OkStatus();
}

absl::Status AwsChunkedDecoder::OnSizeLine(absl::string_view line) {
  absl::string_view size_part = line;
  absl::string_view ext;
  size_t semi = line.find(';');
  if (semi != absl::string_view::npos) {
    size_part = line.substr(0, semi);
    ext = line.substr(semi + 1);
  }
  uint64_t size = 0;
  if (!ParseHexSize(size_part, &size)) return Framing("invalid chunk size");
  if (signed_mode()) {
    if (!absl::ConsumePrefix(&ext, kChunkSignaturePrefix) || ext.size() != 64) {
      return Framing("missing chunk-signature");
    }
    chunk_signature_ = std::string(ext);
    chunk_hash_ = NewHasher(ChecksumAlgorithm::kSha256);
  }
  if (options_.decoded_content_length && size > *options_.decoded_content_length - decoded_bytes_) {
    return Framing("chunks exceed x-amz-decoded-content-length");
  }
  if (options_.enforce_min_chunk_size && size > 0 && previous_chunk_small_) {
    return S3Status(S3ErrorCode::kInvalidChunkSizeError);
  }
  previous_chunk_small_ = size < kMinChunkSize;
  chunk_size_ = size;
  chunk_remaining_ = size;
  if (size > 0) {
    state_ = State::kData;
    return absl::OkStatus();
  }
  // The final, empty chunk.
  if (signed_mode()) {
    if (absl::Status s = VerifyChunkSignature(kEmptySha256, chunk_signature_); !s.ok()) return s;
  }
  if (payload_checksum_) computed_checksum_ = payload_checksum_->Finish();
  payload_checksum_.reset();
  state_ = trailer_mode() ? State::kTrailer : State::kFinalCrlf;
  return absl::OkStatus();
}

absl::Status AwsChunkedDecoder::OnChunkComplete() {
  if (signed_mode()) {
    std::string digest = chunk_hash_->FinishHex();
    if (absl::Status s = VerifyChunkSignature(digest, chunk_signature_); !s.ok()) return s;
  }
  state_ = State::kSizeLine;
  return absl::OkStatus();
}

absl::Status AwsChunkedDecoder::OnTrailerLine(absl::string_view line) {
  if (line.empty()) {
    if (options_.mode == PayloadMode::kStreamingSignedTrailer && !trailer_signature_seen_) {
      return S3Status(S3ErrorCode::kSignatureDoesNotMatch, "missing x-amz-trailer-signature");
    }
    state_ = State::kDone;
    return absl::OkStatus();
  }
  if (trailer_signature_seen_) return Framing("data after x-amz-trailer-signature");
  size_t colon = line.find(':');
  if (colon == absl::string_view::npos || colon == 0) return Framing("malformed trailer line");
  std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(0, colon)));
  std::string value(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  if (name == kTrailerSignatureName) {
    if (options_.mode != PayloadMode::kStreamingSignedTrailer) {
      return Framing("unexpected x-amz-trailer-signature");
    }
    std::string expected =
        TrailerSignature(options_.signing, previous_signature_, canonical_trailers_);
    if (!ConstantTimeEquals(expected, value)) {
      return S3Status(S3ErrorCode::kSignatureDoesNotMatch,
                      "The trailer signature we calculated does not match the one you provided.");
    }
    trailer_signature_seen_ = true;
    return absl::OkStatus();
  }
  bool declared = false;
  for (const std::string& d : options_.declared_trailers) declared |= (d == name);
  if (!declared) return Framing(absl::StrCat("undeclared trailer ", name));
  for (const auto& [n, v] : trailers_) {
    if (n == name) return Framing(absl::StrCat("repeated trailer ", name));
  }
  absl::StrAppend(&canonical_trailers_, name, ":", value, "\n");
  trailers_.emplace_back(std::move(name), std::move(value));
  return absl::OkStatus();
}

absl::Status AwsChunkedDecoder::Feed(absl::string_view in, std::string* out) {
  if (state_ == State::kFailed) return error_;
  while (!in.empty()) {
    switch (state_) {
      case State::kData: {
        size_t n = static_cast<size_t>(std::min<uint64_t>(chunk_remaining_, in.size()));
        absl::string_view piece = in.substr(0, n);
        out->append(piece.data(), piece.size());
        if (chunk_hash_) chunk_hash_->Update(piece);
        if (payload_checksum_) payload_checksum_->Update(piece);
        chunk_remaining_ -= n;
        decoded_bytes_ += n;
        in.remove_prefix(n);
        if (chunk_remaining_ == 0) state_ = State::kDataCrlf;
        break;
      }
      case State::kDataCrlf:
      case State::kFinalCrlf: {
        // Exactly "\r\n"; line_ holds a '\r' seen at the end of a previous piece.
        char c = in[0];
        in.remove_prefix(1);
        if (line_.empty()) {
          if (c != '\r') return Fail(Framing("expected CRLF after chunk"));
          line_.push_back(c);
          break;
        }
        line_.clear();
        if (c != '\n') return Fail(Framing("expected CRLF after chunk"));
        if (state_ == State::kFinalCrlf) {
          state_ = State::kDone;
        } else if (absl::Status s = OnChunkComplete(); !s.ok()) {
          return Fail(s);
        }
        break;
      }
      case State::kSizeLine:
      case State::kTrailer: {
        size_t nl = in.find('\n');
        size_t take = nl == absl::string_view::npos ? in.size() : nl;
        if (line_.size() + take > kMaxLineLength) return Fail(Framing("header line too long"));
        line_.append(in.data(), take);
        if (nl == absl::string_view::npos) {
          in = {};
          break;
        }
        in.remove_prefix(nl + 1);
        std::string line = std::move(line_);
        line_.clear();
        bool had_cr = !line.empty() && line.back() == '\r';
        if (had_cr) line.pop_back();
        absl::Status s;
        if (state_ == State::kSizeLine) {
          if (!had_cr) return Fail(Framing("chunk header must end in CRLF"));
          s = OnSizeLine(line);
        } else {
          s = OnTrailerLine(line);
        }
        if (!s.ok()) return Fail(s);
        break;
      }
      case State::kDone:
        return Fail(Framing("data after the final chunk"));
      case State::kFailed:
        return error_;
    }
  }
  return absl::OkStatus();
}

absl::Status AwsChunkedDecoder::Finish() {
  if (state_ == State::kFailed) return error_;
  // Lenient end of a trailer section: EOF right after a complete trailer line.
  if (state_ == State::kTrailer && line_.empty() &&
      (options_.mode != PayloadMode::kStreamingSignedTrailer || trailer_signature_seen_)) {
    state_ = State::kDone;
  }
  if (state_ != State::kDone) return Fail(Truncated());
  if (options_.decoded_content_length && decoded_bytes_ != *options_.decoded_content_length) {
    return Fail(S3Status(S3ErrorCode::kIncompleteBody));
  }
  if (trailer_checksum_) {
    absl::string_view header = ChecksumHeaderName(*trailer_checksum_);
    const std::string* value = nullptr;
    for (const auto& [n, v] : trailers_) {
      if (n == header) value = &v;
    }
    if (value == nullptr) {
      return Fail(S3Status(S3ErrorCode::kInvalidRequest,
                           absl::StrCat("missing declared trailer ", header)));
    }
    if (absl::Status s = VerifyChecksum(*trailer_checksum_, *value, computed_checksum_); !s.ok()) {
      return Fail(s);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ParseTrailerHeader(absl::string_view value) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.empty()) return absl::InvalidArgumentError("empty name in x-amz-trailer");
    out.push_back(absl::AsciiStrToLower(part));
  }
  return out;
}

std::string EncodeAwsChunked(PayloadMode mode, const ChunkSigningContext& signing,
                             const std::vector<std::string>& chunks,
                             const std::vector<std::pair<std::string, std::string>>& trailers) {
  bool is_signed = mode != PayloadMode::kStreamingUnsignedTrailer;
  std::string out;
  std::string previous = signing.seed_signature;
  auto emit = [&](absl::string_view data) {
    absl::StrAppend(&out, absl::Hex(data.size()));
    if (is_signed) {
      previous = ChunkSignature(signing, previous, Sha256Hex(data));
      absl::StrAppend(&out, ";chunk-signature=", previous);
    }
    absl::StrAppend(&out, "\r\n", data);
  };
  for (const std::string& c : chunks) {
    emit(c);
    out += "\r\n";
  }
  emit("");
  if (mode == PayloadMode::kStreamingSigned) {
    out += "\r\n";
    return out;
  }
  std::string canonical;
  for (const auto& [n, v] : trailers) {
    absl::StrAppend(&out, n, ":", v, "\r\n");
    absl::StrAppend(&canonical, n, ":", v, "\n");
  }
  if (mode == PayloadMode::kStreamingSignedTrailer) {
    absl::StrAppend(&out, kTrailerSignatureName, ":",
                    TrailerSignature(signing, previous, canonical), "\r\n");
  }
  out += "\r\n";
  return out;
}

}  // namespace tessera::services::s3
