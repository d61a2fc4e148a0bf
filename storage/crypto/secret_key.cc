#include "storage/crypto/secret_key.h"

#include <sodium.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/sodium.h"

namespace tessera::storage {

SecretKey::SecretKey() { sodium_memzero(bytes_, kSize); }

SecretKey SecretKey::Generate() {
  SecretKey key;
  SecureRandomBytes(key.bytes_, kSize);
  return key;
}

absl::StatusOr<SecretKey> SecretKey::FromBytes(absl::Span<const uint8_t> bytes) {
  if (bytes.size() != kSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("a secret key is ", kSize, " bytes, got ", bytes.size()));
  }
  EnsureSodiumInitialized();
  SecretKey key;
  std::memcpy(key.bytes_, bytes.data(), kSize);
  return key;
}

SecretKey::SecretKey(SecretKey&& other) noexcept {
  std::memcpy(bytes_, other.bytes_, kSize);
  sodium_memzero(other.bytes_, kSize);
}

SecretKey& SecretKey::operator=(SecretKey&& other) noexcept {
  if (this != &other) {
    std::memcpy(bytes_, other.bytes_, kSize);
    sodium_memzero(other.bytes_, kSize);
  }
  return *this;
}

SecretKey::~SecretKey() { sodium_memzero(bytes_, kSize); }

SecretKey SecretKey::Clone() const {
  SecretKey copy;
  std::memcpy(copy.bytes_, bytes_, kSize);
  return copy;
}

bool SecretKey::Equals(const SecretKey& other) const {
  return sodium_memcmp(bytes_, other.bytes_, kSize) == 0;
}

}  // namespace tessera::storage
