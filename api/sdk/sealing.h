// Client-side sealing of objects for end-to-end mode (docs/design/e2e_mode.md): the client
// encrypts every stripe with its own key before the gateway sees it; the gateway only
// erasure-codes and places the sealed bytes (gateway PutSealedObject / GetSealedObject).
//
// Format 1 (ClientSealing.format = kSealingFormat):
//   * per upload: a fresh random 32-byte data key and a fresh random 16-byte upload nonce; the data
//     key is stored only wrapped by the client key ring (storage::MasterKeyring::Wrap, bound to
//     WrapContext: bucket, key and upload nonce, so a wrapped key cannot be moved to another
//     object);
//   * per stripe: XChaCha20-Poly1305-IETF under the data key with a random 24-byte nonce;
//       sealed = format (1) | nonce (24) | ciphertext (plaintext size) | tag (16)
//     associated data = "tessera-sealed-stripe" | format | u32 len + bucket | u32 len + key |
//       upload nonce (16) | stripe index (u32) | plaintext offset (u64) | last (u8), big endian,
//     so a stripe cannot be reordered, moved to another position, object or upload, and an
//     object cannot be truncated (the final stripe is the only one sealed with last = 1) or
//     extended.
// Every failure to open is DATA_LOSS naming the stripe; no key bytes are ever in a message.
//
// Thread-safety: StripeSealer / StripeOpener are immutable after creation; Seal / Open may run
// concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "api/sdk/client.h"
#include "storage/crypto/key_wrap.h"
#include "storage/crypto/secret_key.h"

namespace tessera::sdk {

inline constexpr uint32_t kSealingFormat = 1;
inline constexpr size_t kUploadNonceSize = 16;
// Sealed size = plaintext size + kSealOverhead.
inline constexpr size_t kSealOverhead = 1 + 24 + 16;

class StripeSealer {
 public:
  // A sealer for a new upload of bucket/key: a fresh data key wrapped by `keyring`'s active key
  // (FAILED_PRECONDITION if it has none) and a fresh upload nonce; sealing() is what the
  // gateway stores.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<StripeSealer>> Create(
      const storage::MasterKeyring& keyring, absl::string_view bucket, absl::string_view key);

  const ClientSealing& sealing() const { return sealing_; }

  // Seals one stripe. INVALID_ARGUMENT only if libsodium refuses (cannot happen for valid
  // sizes).
  [[nodiscard]] absl::StatusOr<SealedStripe> Seal(uint32_t index, uint64_t plaintext_offset,
                                                  absl::string_view plaintext, bool last) const;

 private:
  StripeSealer(std::string bucket, std::string key, storage::SecretKey data_key,
               ClientSealing sealing);
  const std::string bucket_, key_;
  const storage::SecretKey data_key_;
  const ClientSealing sealing_;
};

class StripeOpener {
 public:
  // Unwraps the data key of an object sealed as `sealing` at bucket/key. FAILED_PRECONDITION for
  // an unknown format; PERMISSION_DENIED naming the key id when `keyring` lacks that key or its
  // key with that id does not open the wrapped key (another key, a corrupt manifest, or an object
  // moved from another bucket/key).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<StripeOpener>> Create(
      const storage::MasterKeyring& keyring, absl::string_view bucket, absl::string_view key,
      const ClientSealing& sealing);

  // Opens stripe `index` expected at `plaintext_offset`, final iff `last`. DATA_LOSS if it is
  // malformed or fails authentication (tampered, reordered, moved, truncated object, or a stripe
  // claimed last that was not, or vice versa).
  [[nodiscard]] absl::StatusOr<std::string> Open(uint32_t index, uint64_t plaintext_offset,
                                                 absl::string_view sealed, bool last) const;

 private:
  StripeOpener(std::string bucket, std::string key, storage::SecretKey data_key,
               std::string upload_nonce);
  const std::string bucket_, key_;
  const storage::SecretKey data_key_;
  const std::string upload_nonce_;
};

}  // namespace tessera::sdk
