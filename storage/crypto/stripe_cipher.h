// StripeCipher: authenticated encryption of object stripes under a per-object-version data key.
//
// Every object version gets a fresh random 256-bit data key (SecretKey::Generate()); the key is
// stored only wrapped by a cluster master key (key_wrap.h). Each stripe is sealed under a fresh
// random nonce with the algorithm recorded in the manifest (AeadAlgorithm). Storage nodes only
// ever hold sealed stripes (erasure-coded after sealing), never plaintext or keys, so repair
// works on ciphertext and needs no keys.
//
// Sealed stripe format, version 1 (all of it is what gets erasure-coded and stored):
//
//   offset  size  field
//   0       1     format version = 1
//   1       1     algorithm id (AeadAlgorithm)
//   2       N     nonce: N = 24 (XChaCha20-Poly1305-IETF) or 12 (AES-256-GCM), random per seal
//   2+N     L     ciphertext, L = plaintext length
//   2+N+L   16    authentication tag
//
// Associated data (authenticated, not stored; rebuilt by the reader from the manifest):
//
//   format version (1) | algorithm id (1) | object version id (16) | part number (u32 BE) |
//   stripe index (u32 BE)                                                     = 26 bytes
//
// so a stripe moved to another object version, part or stripe index, or re-labelled with another
// algorithm or format version, fails to open. Any failure to open is DATA_LOSS (the caller treats
// the stripe as corrupt and repairs or reads another copy); the message never contains key bytes.
//
// AES-256-GCM with 96-bit random nonces is safe here because a data key seals only the stripes of
// one object version (far below the 2^32 messages-per-key bound for random GCM nonces).
//
// Thread-safety: a StripeCipher is immutable after Create; all const methods may run
// concurrently. Move-only (it owns key material, wiped on destruction); a moved-from cipher may
// only be destroyed or assigned to.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "storage/crypto/secret_key.h"

namespace tessera::storage {

// Recorded in manifests and in every sealed stripe. Never reuse or renumber.
enum class AeadAlgorithm : uint8_t {
  kXChaCha20Poly1305Ietf = 1,  // default; constant-time everywhere
  kAes256Gcm = 2,              // cluster-wide option; only on CPUs with AES-NI + PCLMUL
};

// True if this process can use `algorithm` (AES-256-GCM needs hardware support in libsodium).
[[nodiscard]] bool AeadAlgorithmAvailable(AeadAlgorithm algorithm);
// "xchacha20poly1305-ietf", "aes256gcm" or "unknown".
absl::string_view AeadAlgorithmName(AeadAlgorithm algorithm);

// Where a stripe belongs; bound into the associated data.
struct StripeContext {
  static constexpr size_t kVersionIdSize = 16;
  absl::string_view version_id;  // the object version id, exactly kVersionIdSize bytes
  uint32_t part = 0;             // part number (multipart uploads; 0 or 1 for single-part)
  uint32_t stripe = 0;           // stripe index within the part
};

class StripeCipher {
 public:
  static constexpr uint8_t kFormatVersion = 1;
  static constexpr size_t kTagSize = 16;
  static constexpr size_t kAssociatedDataSize = 26;

  // A cipher for `algorithm` under `data_key`. INVALID_ARGUMENT for an unknown algorithm;
  // FAILED_PRECONDITION if the algorithm is not available on this CPU.
  [[nodiscard]] static absl::StatusOr<StripeCipher> Create(AeadAlgorithm algorithm,
                                                           SecretKey data_key);

  StripeCipher(StripeCipher&&) noexcept;
  StripeCipher& operator=(StripeCipher&&) noexcept;
  ~StripeCipher();

  AeadAlgorithm algorithm() const { return algorithm_; }

  // Bytes before the ciphertext (version, algorithm, nonce): where SealInPlace expects the
  // plaintext to start and where OpenInPlace leaves it.
  size_t header_size() const { return header_size_; }
  // Sealed size for a plaintext of `plaintext_len` bytes: header_size() + plaintext_len + 16.
  size_t SealedSize(size_t plaintext_len) const { return header_size_ + plaintext_len + kTagSize; }
  // Plaintext size of a sealed stripe of `sealed_len` bytes (0 if too short to be one).
  size_t PlaintextSize(size_t sealed_len) const {
    return sealed_len < header_size_ + kTagSize ? 0 : sealed_len - header_size_ - kTagSize;
  }

  // Seals `plaintext` into `out`, which must be exactly SealedSize(plaintext.size()) bytes.
  // `plaintext` may not overlap `out` unless it is exactly out[header_size(), ...) (in place; see
  // SealInPlace). INVALID_ARGUMENT on a bad context or output size.
  [[nodiscard]] absl::Status Seal(const StripeContext& context, absl::Span<const uint8_t> plaintext,
                                  absl::Span<uint8_t> out) const;

  // Seals in place: `buffer` is SealedSize(n) bytes with the n plaintext bytes at
  // [header_size(), header_size() + n); on return it holds the sealed stripe. No copy is made.
  [[nodiscard]] absl::Status SealInPlace(const StripeContext& context,
                                         absl::Span<uint8_t> buffer) const;

  // Opens `sealed` into `out` (at least PlaintextSize(sealed.size()) bytes) and returns the
  // plaintext length. DATA_LOSS if the stripe is malformed, of another format version or
  // algorithm, or fails authentication (wrong key, wrong context, any flipped bit); `out` is then
  // left zeroed. INVALID_ARGUMENT on a bad context or too small `out`.
  [[nodiscard]] absl::StatusOr<size_t> Open(const StripeContext& context,
                                            absl::Span<const uint8_t> sealed,
                                            absl::Span<uint8_t> out) const;

  // Opens in place and returns the plaintext, a subspan of `buffer` starting at header_size().
  // Same errors as Open; after an authentication failure the ciphertext bytes of `buffer` are
  // unspecified (libsodium may have zeroed them) and must be discarded.
  [[nodiscard]] absl::StatusOr<absl::Span<uint8_t>> OpenInPlace(const StripeContext& context,
                                                                absl::Span<uint8_t> buffer) const;

  // Convenience forms that allocate (tests, small objects).
  [[nodiscard]] absl::StatusOr<std::string> SealToString(const StripeContext& context,
                                                         absl::string_view plaintext) const;
  [[nodiscard]] absl::StatusOr<std::string> OpenToString(const StripeContext& context,
                                                         absl::string_view sealed) const;

 private:
  struct AesState;  // precomputed AES-GCM key schedule, wiped on destruction

  StripeCipher(AeadAlgorithm algorithm, SecretKey key);

  // Encrypts `len` bytes from `in` to `out` (in == out allowed) with the nonce already written
  // at `sealed` + 2; the tag goes to out + len.
  absl::Status SealImpl(const StripeContext& context, const uint8_t* in, size_t len,
                        uint8_t* sealed) const;
  absl::Status CheckHeader(absl::Span<const uint8_t> sealed) const;
  absl::Status Decrypt(const StripeContext& context, const uint8_t* sealed, size_t sealed_len,
                       uint8_t* out) const;

  AeadAlgorithm algorithm_;
  size_t nonce_size_;
  size_t header_size_;
  SecretKey key_;
  std::unique_ptr<AesState> aes_;  // only for kAes256Gcm
};

}  // namespace tessera::storage
