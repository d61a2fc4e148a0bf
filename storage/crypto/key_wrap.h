// Key wrapping: per-object-version data keys sealed by a cluster master key.
//
// A data key is stored in the object's manifest only as a WrappedKey: the 32 key bytes sealed
// with XChaCha20-Poly1305-IETF under a master key, with a fresh random 192-bit nonce. The
// associated data binds the master key id and a caller-chosen context (normally the object
// version id), so a wrapped key cannot be relabelled to another master key or copied into
// another object's manifest:
//
//   AD = "tessera.keywrap" (15 bytes) | format version (1) | key id (u32 BE) | context bytes
//
// Serialized WrappedKey, format version 1 (77 bytes):
//
//   offset  size  field
//   0       1     format version = 1
//   1       4     master key id (u32 BE)
//   5       24    nonce
//   29      48    ciphertext (32) + tag (16)
//
// MasterKeyring holds several master keys by id: one is active and wraps new data keys; all of
// them unwrap. Rotation = add a new key and make it active; old manifests keep unwrapping with
// the old key until they are rewrapped.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "storage/crypto/secret_key.h"

namespace tessera::storage {

// Names a master key. Id 0 is reserved (never a valid key id).
using MasterKeyId = uint32_t;

struct WrappedKey {
  static constexpr uint8_t kFormatVersion = 1;
  static constexpr size_t kNonceSize = 24;
  static constexpr size_t kCiphertextSize = SecretKey::kSize + 16;
  static constexpr size_t kSerializedSize = 1 + 4 + kNonceSize + kCiphertextSize;

  MasterKeyId key_id = 0;
  std::array<uint8_t, kNonceSize> nonce{};
  std::array<uint8_t, kCiphertextSize> ciphertext{};

  // The 77-byte form above.
  std::string Serialize() const;
  // FAILED_PRECONDITION with kNewerFormat (base/status_reasons.h) for a format version newer
  // than this binary knows; DATA_LOSS if `bytes` is otherwise not a serialized WrappedKey.
  [[nodiscard]] static absl::StatusOr<WrappedKey> Parse(absl::string_view bytes);

  friend bool operator==(const WrappedKey&, const WrappedKey&) = default;
};

// Thread-safe: all methods may be called concurrently (rotation while wrapping/unwrapping).
class MasterKeyring {
 public:
  MasterKeyring() = default;
  MasterKeyring(const MasterKeyring&) = delete;
  MasterKeyring& operator=(const MasterKeyring&) = delete;

  // Adds a master key. INVALID_ARGUMENT for id 0; ALREADY_EXISTS if the id is taken (a key id
  // always means the same key). The first key added becomes active.
  [[nodiscard]] absl::Status Add(MasterKeyId key_id, SecretKey key);
  // Makes `key_id` the key that wraps from now on; NOT_FOUND if it is not in the ring.
  [[nodiscard]] absl::Status SetActive(MasterKeyId key_id);

  std::optional<MasterKeyId> active_key_id() const;
  std::vector<MasterKeyId> key_ids() const;  // ascending
  bool Contains(MasterKeyId key_id) const;

  // Wraps `data_key` under the active master key, bound to `context`. FAILED_PRECONDITION if the
  // ring is empty.
  [[nodiscard]] absl::StatusOr<WrappedKey> Wrap(const SecretKey& data_key,
                                                absl::string_view context = {}) const;
  // Recovers a data key. NOT_FOUND if wrapped.key_id is not in the ring; DATA_LOSS if it fails
  // authentication (corrupt, wrong master key bytes, or a different `context`).
  [[nodiscard]] absl::StatusOr<SecretKey> Unwrap(const WrappedKey& wrapped,
                                                 absl::string_view context = {}) const;

 private:
  mutable absl::Mutex mu_;
  std::map<MasterKeyId, SecretKey> keys_ ABSL_GUARDED_BY(mu_);
  std::optional<MasterKeyId> active_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::storage
