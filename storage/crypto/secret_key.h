// SecretKey: 32 bytes of key material that never leave memory by accident.
//
// - Move-only; copying a key must be explicit (Clone()).
// - The bytes are wiped with sodium_memzero when the key is destroyed or moved from.
// - There is deliberately no operator<<, no ToString and no hex accessor: keys cannot end up in
//   logs. PrintTo (used by GoogleTest) prints a redacted placeholder.
// - Comparison is constant-time (sodium_memcmp).
//
// Thread-safety: const methods may be called concurrently; mutation (move) needs exclusion.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace tessera::storage {

class SecretKey {
 public:
  static constexpr size_t kSize = 32;

  // A fresh key from libsodium's CSPRNG.
  [[nodiscard]] static SecretKey Generate();
  // A key holding a copy of `bytes`; INVALID_ARGUMENT unless bytes.size() == kSize. The caller
  // remains responsible for wiping its own copy.
  [[nodiscard]] static absl::StatusOr<SecretKey> FromBytes(absl::Span<const uint8_t> bytes);

  SecretKey(SecretKey&& other) noexcept;
  SecretKey& operator=(SecretKey&& other) noexcept;
  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;
  ~SecretKey();

  // An explicit copy.
  [[nodiscard]] SecretKey Clone() const;

  // Raw key bytes, only for handing to crypto primitives. Never log or persist them unwrapped.
  const uint8_t* data() const { return bytes_; }
  static constexpr size_t size() { return kSize; }

  // Constant-time equality.
  [[nodiscard]] bool Equals(const SecretKey& other) const;

  // GoogleTest printer: never prints key bytes.
  friend void PrintTo(const SecretKey&, std::ostream* os) { *os << "SecretKey(<redacted>)"; }

 private:
  SecretKey();  // all zero

  uint8_t bytes_[kSize];
};

}  // namespace tessera::storage
