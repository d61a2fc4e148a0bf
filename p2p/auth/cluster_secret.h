// ClusterSecret: the 32-byte secret every member of one Tessera cluster (storage nodes and
// gateways) shares, and from which the per-call RPC tokens (p2p/auth/cluster_auth.h) and the
// gossip datagram MACs are keyed. See docs/design/security.md.
//
// Secret file: 64 lowercase or uppercase hex characters (32 bytes), optionally followed by a
// newline; mode 0600. Load refuses a file that group or others may access (PERMISSION_DENIED,
// with the chmod to fix it). Generate creates a new file with O_EXCL and mode 0600 from birth.
//
// Purpose keys: DeriveKey(purpose) = BLAKE2b-256 keyed with the secret over
// "tessera.v1.cluster-key\0" || purpose, so the token key and the gossip key are independent.
//
// Thread-safety: immutable after creation; the secret is wiped on destruction, never logged.
#pragma once

#include <array>
#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tessera::p2p {

class ClusterSecret {
 public:
  static constexpr size_t kSize = 32;

  // A fresh random secret.
  [[nodiscard]] static absl::StatusOr<ClusterSecret> Random();
  // Exactly kSize raw bytes; INVALID_ARGUMENT otherwise.
  [[nodiscard]] static absl::StatusOr<ClusterSecret> FromBytes(absl::string_view bytes);
  // Reads a secret file. NOT_FOUND when missing; PERMISSION_DENIED when group/other may access
  // it; DATA_LOSS when it is not 64 hex characters (+ optional newline).
  [[nodiscard]] static absl::StatusOr<ClusterSecret> Load(const std::string& path);
  // Writes a new random secret to `path` (mode 0600, synced). ALREADY_EXISTS if the file exists
  // (a secret is never overwritten).
  [[nodiscard]] static absl::Status Generate(const std::string& path);

  ClusterSecret(const ClusterSecret& other) = default;
  ClusterSecret& operator=(const ClusterSecret& other) = default;
  ~ClusterSecret();

  // A 32-byte key for one purpose ("rpc-token", "gossip"); see the file comment.
  std::string DeriveKey(absl::string_view purpose) const;

 private:
  ClusterSecret() = default;
  std::array<unsigned char, kSize> bytes_{};
};

}  // namespace tessera::p2p
