#include "storage/crypto/stripe_cipher.h"

#include <sodium.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/sodium.h"
#include "base/status_macros.h"

namespace tessera::storage {
namespace {

static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == SecretKey::kSize);
static_assert(crypto_aead_aes256gcm_KEYBYTES == SecretKey::kSize);
static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == StripeCipher::kTagSize);
static_assert(crypto_aead_aes256gcm_ABYTES == StripeCipher::kTagSize);

constexpr size_t kPrefixSize = 2;  // format version + algorithm id

size_t NonceSize(AeadAlgorithm algorithm) {
  return algorithm == AeadAlgorithm::kAes256Gcm ? crypto_aead_aes256gcm_NPUBBYTES
                                                : crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
}

void PutBigEndian32(uint32_t v, uint8_t* out) {
  out[0] = static_cast<uint8_t>(v >> 24);
  out[1] = static_cast<uint8_t>(v >> 16);
  out[2] = static_cast<uint8_t>(v >> 8);
  out[3] = static_cast<uint8_t>(v);
}

absl::Status CheckContext(const StripeContext& context) {
  if (context.version_id.size() != StripeContext::kVersionIdSize) {
    return absl::InvalidArgumentError(absl::StrCat("StripeContext.version_id must be ",
                                                   StripeContext::kVersionIdSize, " bytes, got ",
                                                   context.version_id.size()));
  }
  return absl::OkStatus();
}

// The 26-byte associated data documented in the header.
void BuildAssociatedData(const StripeContext& context, AeadAlgorithm algorithm,
                         uint8_t ad[StripeCipher::kAssociatedDataSize]) {
  ad[0] = StripeCipher::kFormatVersion;
  ad[1] = static_cast<uint8_t>(algorithm);
  std::memcpy(ad + 2, context.version_id.data(), StripeContext::kVersionIdSize);
  PutBigEndian32(context.part, ad + 18);
  PutBigEndian32(context.stripe, ad + 22);
}

bool Overlaps(const uint8_t* a, size_t a_len, const uint8_t* b, size_t b_len) {
  const auto pa = reinterpret_cast<uintptr_t>(a);
  const auto pb = reinterpret_cast<uintptr_t>(b);
  return a_len > 0 && b_len > 0 && pa < pb + b_len && pb < pa + a_len;
}

}  // namespace

struct StripeCipher::AesState {
  crypto_aead_aes256gcm_state state;
  ~AesState() { sodium_memzero(&state, sizeof(state)); }
};

bool AeadAlgorithmAvailable(AeadAlgorithm algorithm) {
  EnsureSodiumInitialized();
  switch (algorithm) {
    case AeadAlgorithm::kXChaCha20Poly1305Ietf:
      return true;
    case AeadAlgorithm::kAes256Gcm:
      return crypto_aead_aes256gcm_is_available() == 1;
  }
  return false;
}

absl::string_view AeadAlgorithmName(AeadAlgorithm algorithm) {
  switch (algorithm) {
    case AeadAlgorithm::kXChaCha20Poly1305Ietf:
      return "xchacha20poly1305-ietf";
    case AeadAlgorithm::kAes256Gcm:
      return "aes256gcm";
  }
  return "unknown";
}

absl::StatusOr<StripeCipher> StripeCipher::Create(AeadAlgorithm algorithm, SecretKey data_key) {
  EnsureSodiumInitialized();
  if (algorithm != AeadAlgorithm::kXChaCha20Poly1305Ietf &&
      algorithm != AeadAlgorithm::kAes256Gcm) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown AEAD algorithm id ", static_cast<int>(algorithm)));
  }
  if (!AeadAlgorithmAvailable(algorithm)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "AEAD algorithm ", AeadAlgorithmName(algorithm), " is not available on this CPU"));
  }
  return StripeCipher(algorithm, std::move(data_key));
}

StripeCipher::StripeCipher(AeadAlgorithm algorithm, SecretKey key)
    : algorithm_(algorithm),
      nonce_size_(NonceSize(algorithm)),
      header_size_(kPrefixSize + nonce_size_),
      key_(std::move(key)) {
  if (algorithm_ == AeadAlgorithm::kAes256Gcm) {
    aes_ = std::make_unique<AesState>();
    crypto_aead_aes256gcm_beforenm(&aes_->state, key_.data());
  }
}

StripeCipher::StripeCipher(StripeCipher&&) noexcept = default;
StripeCipher& StripeCipher::operator=(StripeCipher&&) noexcept = default;
StripeCipher::~StripeCipher() = default;

absl::Status StripeCipher::Seal(const StripeContext& context, absl::Span<const uint8_t> plaintext,
                                absl::Span<uint8_t> out) const {
  TESSERA_RETURN_IF_ERROR(CheckContext(context));
  if (out.size() != SealedSize(plaintext.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Seal: output must be ", SealedSize(plaintext.size()), " bytes, got ", out.size()));
  }
  const bool in_place = plaintext.data() == out.data() + header_size_;
  if (!in_place && Overlaps(plaintext.data(), plaintext.size(), out.data(), out.size())) {
    return absl::InvalidArgumentError("Seal: plaintext overlaps output other than in place");
  }
  out[0] = kFormatVersion;
  out[1] = static_cast<uint8_t>(algorithm_);
  SecureRandomBytes(out.data() + kPrefixSize, nonce_size_);
  return SealImpl(context, plaintext.data(), plaintext.size(), out.data());
}

absl::Status StripeCipher::SealInPlace(const StripeContext& context,
                                       absl::Span<uint8_t> buffer) const {
  if (buffer.size() < header_size_ + kTagSize) {
    return absl::InvalidArgumentError(absl::StrCat("SealInPlace: buffer of ", buffer.size(),
                                                   " bytes is smaller than the ",
                                                   header_size_ + kTagSize, "-byte overhead"));
  }
  const size_t len = buffer.size() - header_size_ - kTagSize;
  return Seal(context, buffer.subspan(header_size_, len), buffer);
}

absl::Status StripeCipher::SealImpl(const StripeContext& context, const uint8_t* in, size_t len,
                                    uint8_t* sealed) const {
  uint8_t ad[kAssociatedDataSize];
  BuildAssociatedData(context, algorithm_, ad);
  const uint8_t* nonce = sealed + kPrefixSize;
  uint8_t* out = sealed + header_size_;
  unsigned long long out_len = 0;
  int rc;
  if (algorithm_ == AeadAlgorithm::kAes256Gcm) {
    rc = crypto_aead_aes256gcm_encrypt_afternm(out, &out_len, in, len, ad, sizeof(ad), nullptr,
                                               nonce, &aes_->state);
  } else {
    rc = crypto_aead_xchacha20poly1305_ietf_encrypt(out, &out_len, in, len, ad, sizeof(ad), nullptr,
                                                    nonce, key_.data());
  }
  if (rc != 0 || out_len != len + kTagSize) {
    return absl::InternalError(absl::StrCat("Seal: ", AeadAlgorithmName(algorithm_),
                                            " encryption failed for ", len, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status StripeCipher::CheckHeader(absl::Span<const uint8_t> sealed) const {
  if (sealed.size() < header_size_ + kTagSize) {
    return absl::DataLossError(absl::StrCat("sealed stripe of ", sealed.size(),
                                            " bytes is shorter than the ", header_size_ + kTagSize,
                                            "-byte overhead"));
  }
  if (sealed[0] != kFormatVersion) {
    return absl::DataLossError(
        absl::StrCat("sealed stripe has unknown format version ", static_cast<int>(sealed[0])));
  }
  if (sealed[1] != static_cast<uint8_t>(algorithm_)) {
    return absl::DataLossError(absl::StrCat("sealed stripe has algorithm id ",
                                            static_cast<int>(sealed[1]), ", expected ",
                                            static_cast<int>(algorithm_)));
  }
  return absl::OkStatus();
}

absl::Status StripeCipher::Decrypt(const StripeContext& context, const uint8_t* sealed,
                                   size_t sealed_len, uint8_t* out) const {
  uint8_t ad[kAssociatedDataSize];
  BuildAssociatedData(context, algorithm_, ad);
  const uint8_t* nonce = sealed + kPrefixSize;
  const uint8_t* ciphertext = sealed + header_size_;
  const size_t ciphertext_len = sealed_len - header_size_;
  unsigned long long out_len = 0;
  int rc;
  if (algorithm_ == AeadAlgorithm::kAes256Gcm) {
    rc = crypto_aead_aes256gcm_decrypt_afternm(out, &out_len, nullptr, ciphertext, ciphertext_len,
                                               ad, sizeof(ad), nonce, &aes_->state);
  } else {
    rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
        out, &out_len, nullptr, ciphertext, ciphertext_len, ad, sizeof(ad), nonce, key_.data());
  }
  if (rc != 0) {
    return absl::DataLossError(absl::StrCat("sealed stripe failed authentication (part ",
                                            context.part, ", stripe ", context.stripe,
                                            "): corrupt, misplaced, or wrong key"));
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> StripeCipher::Open(const StripeContext& context,
                                          absl::Span<const uint8_t> sealed,
                                          absl::Span<uint8_t> out) const {
  TESSERA_RETURN_IF_ERROR(CheckContext(context));
  TESSERA_RETURN_IF_ERROR(CheckHeader(sealed));
  const size_t len = PlaintextSize(sealed.size());
  if (out.size() < len) {
    return absl::InvalidArgumentError(
        absl::StrCat("Open: output of ", out.size(), " bytes, need ", len));
  }
  const bool in_place = out.data() == sealed.data() + header_size_;
  if (!in_place && Overlaps(sealed.data(), sealed.size(), out.data(), len)) {
    return absl::InvalidArgumentError("Open: output overlaps input other than in place");
  }
  absl::Status status = Decrypt(context, sealed.data(), sealed.size(), out.data());
  if (!status.ok() && !in_place) sodium_memzero(out.data(), len);
  TESSERA_RETURN_IF_ERROR(status);
  return len;
}

absl::StatusOr<absl::Span<uint8_t>> StripeCipher::OpenInPlace(const StripeContext& context,
                                                              absl::Span<uint8_t> buffer) const {
  TESSERA_RETURN_IF_ERROR(CheckContext(context));
  TESSERA_RETURN_IF_ERROR(CheckHeader(buffer));
  TESSERA_ASSIGN_OR_RETURN(size_t len, Open(context, buffer, buffer.subspan(header_size_)));
  return buffer.subspan(header_size_, len);
}

absl::StatusOr<std::string> StripeCipher::SealToString(const StripeContext& context,
                                                       absl::string_view plaintext) const {
  std::string out(SealedSize(plaintext.size()), '\0');
  TESSERA_RETURN_IF_ERROR(Seal(
      context,
      absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(plaintext.data()), plaintext.size()),
      absl::MakeSpan(reinterpret_cast<uint8_t*>(out.data()), out.size())));
  return out;
}

absl::StatusOr<std::string> StripeCipher::OpenToString(const StripeContext& context,
                                                       absl::string_view sealed) const {
  std::string out(PlaintextSize(sealed.size()), '\0');
  TESSERA_ASSIGN_OR_RETURN(
      size_t len,
      Open(context,
           absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(sealed.data()), sealed.size()),
           absl::MakeSpan(reinterpret_cast<uint8_t*>(out.data()), out.size())));
  out.resize(len);
  return out;
}

}  // namespace tessera::storage
