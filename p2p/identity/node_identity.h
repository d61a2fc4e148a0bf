// NodeIdentity: a storage node's long-lived Ed25519 keypair and the node id derived from it.
//
// On first start a node generates a keypair (libsodium crypto_sign_keypair) and keeps it in a key
// file in its data directory; on every later start it loads the same file, so the node id stays
// stable across restarts. The public key and the signatures made with the secret key let peers
// check membership records the node signs.
//
// Node id: lowercase hex of the first 16 bytes of BLAKE2b-256(public key) (libsodium
// crypto_generichash with a 32-byte output and no key), i.e. 32 hex characters.
//
// Key file format (version 1, 108 bytes, all fields fixed-width):
//   offset  0: magic "TSNODEK1" (8 bytes)
//   offset  8: format version, 1 (1 byte)
//   offset  9: algorithm, 1 = Ed25519 (1 byte)
//   offset 10: reserved, zero (2 bytes)
//   offset 12: public key (32 bytes)
//   offset 44: secret key as libsodium stores it, seed || public key (64 bytes)
// The file is written atomically (WriteFileAtomically) with mode 0600; Load refuses a file that
// group or others can read or write, and one whose secret key does not match its public key.
//
// Thread-safety: a NodeIdentity is immutable after creation; all const methods are thread-safe.
// The secret key is wiped (sodium_memzero) on destruction and never logged or printed.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/env.h"

namespace tessera::p2p {

class NodeIdentity {
 public:
  static constexpr size_t kPublicKeySize = 32;
  static constexpr size_t kSecretKeySize = 64;
  static constexpr size_t kSignatureSize = 64;
  static constexpr size_t kNodeIdBytes = 16;  // node ids are 2 * kNodeIdBytes hex characters
  static constexpr size_t kKeyFileSize = 108;
  static constexpr uint8_t kKeyFileVersion = 1;

  // A fresh random keypair (not saved anywhere).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<NodeIdentity>> Generate();

  // The keypair of a 32-byte Ed25519 seed (RFC 8032): the same seed gives the same identity.
  // For deterministic simulations and tests; INVALID_ARGUMENT for a seed of another size.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<NodeIdentity>> FromSeed(
      absl::string_view seed);

  // Reads a key file. NOT_FOUND when missing; PERMISSION_DENIED when group/other may access it;
  // DATA_LOSS when it is malformed or its keys do not match; FAILED_PRECONDITION for an unknown
  // version or algorithm.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<NodeIdentity>> Load(
      Env* env, const std::string& key_path);

  // Loads `key_path` if it exists; otherwise generates a keypair and saves it there. Any error
  // from Load other than NOT_FOUND is returned as is (a damaged key file is never replaced).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<NodeIdentity>> LoadOrCreate(
      Env* env, const std::string& key_path);

  // Writes the key file atomically with mode 0600.
  [[nodiscard]] absl::Status Save(Env* env, const std::string& key_path) const;

  ~NodeIdentity();
  NodeIdentity(const NodeIdentity&) = delete;
  NodeIdentity& operator=(const NodeIdentity&) = delete;

  // 32 lowercase hex characters; see the file comment.
  const std::string& node_id() const { return node_id_; }
  // The raw 32-byte Ed25519 public key.
  const std::string& public_key() const { return public_key_; }

  // A detached 64-byte Ed25519 signature of `message`.
  std::string Sign(absl::string_view message) const;

  // The 32-byte Ed25519 private seed (RFC 8032), for installing this key in a TLS stack
  // (p2p/auth/cluster_tls.h, which certifies it). Secret: the caller wipes its copy and never
  // logs or stores it.
  std::string SecretSeed() const;

 private:
  NodeIdentity() = default;
  void DerivePublicParts();

  std::array<unsigned char, kSecretKeySize> secret_key_{};
  std::string public_key_;
  std::string node_id_;
};

// The node id of a 32-byte public key; empty if the key has the wrong size.
std::string NodeIdFromPublicKey(absl::string_view public_key);

// OK when `signature` is a valid Ed25519 signature of `message` by `public_key`;
// INVALID_ARGUMENT for wrongly sized inputs; UNAUTHENTICATED when the signature does not verify.
[[nodiscard]] absl::Status VerifySignature(absl::string_view public_key, absl::string_view message,
                                           absl::string_view signature);

}  // namespace tessera::p2p
