#include "storage/crypto/key_wrap.h"

#include <sodium.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/sodium.h"
#include "base/status_reasons.h"

namespace tessera::storage {
namespace {

static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == WrappedKey::kNonceSize);
static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES + SecretKey::kSize ==
              WrappedKey::kCiphertextSize);

constexpr absl::string_view kWrapLabel = "tessera.keywrap";

std::string AssociatedData(MasterKeyId key_id, absl::string_view context) {
  std::string ad;
  ad.reserve(kWrapLabel.size() + 5 + context.size());
  ad.append(kWrapLabel.data(), kWrapLabel.size());
  ad.push_back(static_cast<char>(WrappedKey::kFormatVersion));
  ad.push_back(static_cast<char>(key_id >> 24));
  ad.push_back(static_cast<char>(key_id >> 16));
  ad.push_back(static_cast<char>(key_id >> 8));
  ad.push_back(static_cast<char>(key_id));
  ad.append(context.data(), context.size());
  return ad;
}

}  // namespace

std::string WrappedKey::Serialize() const {
  std::string out;
  out.reserve(kSerializedSize);
  out.push_back(static_cast<char>(kFormatVersion));
  out.push_back(static_cast<char>(key_id >> 24));
  out.push_back(static_cast<char>(key_id >> 16));
  out.push_back(static_cast<char>(key_id >> 8));
  out.push_back(static_cast<char>(key_id));
  out.append(reinterpret_cast<const char*>(nonce.data()), nonce.size());
  out.append(reinterpret_cast<const char*>(ciphertext.data()), ciphertext.size());
  return out;
}

absl::StatusOr<WrappedKey> WrappedKey::Parse(absl::string_view bytes) {
  // A newer format may have another size: its version byte decides first.
  if (!bytes.empty() && static_cast<uint8_t>(bytes[0]) > kFormatVersion) {
    return NewerFormatError("wrapped data key", static_cast<uint8_t>(bytes[0]), kFormatVersion);
  }
  if (bytes.size() != kSerializedSize) {
    return absl::DataLossError(
        absl::StrCat("wrapped key is ", bytes.size(), " bytes, expected ", kSerializedSize));
  }
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  if (p[0] != kFormatVersion) {
    return absl::DataLossError(
        absl::StrCat("wrapped key has unknown format version ", static_cast<int>(p[0])));
  }
  WrappedKey key;
  key.key_id = (uint32_t{p[1]} << 24) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 8) | p[4];
  std::memcpy(key.nonce.data(), p + 5, kNonceSize);
  std::memcpy(key.ciphertext.data(), p + 5 + kNonceSize, kCiphertextSize);
  return key;
}

absl::Status MasterKeyring::Add(MasterKeyId key_id, SecretKey key) {
  if (key_id == 0) return absl::InvalidArgumentError("master key id 0 is reserved");
  absl::MutexLock lock(&mu_);
  if (keys_.contains(key_id)) {
    return absl::AlreadyExistsError(absl::StrCat("master key id ", key_id, " already present"));
  }
  keys_.emplace(key_id, std::move(key));
  if (!active_.has_value()) active_ = key_id;
  return absl::OkStatus();
}

absl::Status MasterKeyring::SetActive(MasterKeyId key_id) {
  absl::MutexLock lock(&mu_);
  if (!keys_.contains(key_id)) {
    return absl::NotFoundError(absl::StrCat("master key id ", key_id, " is not in the keyring"));
  }
  active_ = key_id;
  return absl::OkStatus();
}

std::optional<MasterKeyId> MasterKeyring::active_key_id() const {
  absl::ReaderMutexLock lock(&mu_);
  return active_;
}

std::vector<MasterKeyId> MasterKeyring::key_ids() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<MasterKeyId> ids;
  for (const auto& [id, key] : keys_) ids.push_back(id);
  return ids;
}

bool MasterKeyring::Contains(MasterKeyId key_id) const {
  absl::ReaderMutexLock lock(&mu_);
  return keys_.contains(key_id);
}

absl::StatusOr<WrappedKey> MasterKeyring::Wrap(const SecretKey& data_key,
                                               absl::string_view context) const {
  EnsureSodiumInitialized();
  absl::ReaderMutexLock lock(&mu_);
  if (!active_.has_value()) {
    return absl::FailedPreconditionError("cannot wrap a data key: the master keyring is empty");
  }
  const SecretKey& master = keys_.at(*active_);
  WrappedKey wrapped;
  wrapped.key_id = *active_;
  SecureRandomBytes(wrapped.nonce.data(), wrapped.nonce.size());
  const std::string ad = AssociatedData(wrapped.key_id, context);
  unsigned long long len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_encrypt(
          wrapped.ciphertext.data(), &len, data_key.data(), SecretKey::kSize,
          reinterpret_cast<const uint8_t*>(ad.data()), ad.size(), nullptr, wrapped.nonce.data(),
          master.data()) != 0 ||
      len != WrappedKey::kCiphertextSize) {
    return absl::InternalError("key wrap encryption failed");
  }
  return wrapped;
}

absl::StatusOr<SecretKey> MasterKeyring::Unwrap(const WrappedKey& wrapped,
                                                absl::string_view context) const {
  EnsureSodiumInitialized();
  absl::ReaderMutexLock lock(&mu_);
  auto it = keys_.find(wrapped.key_id);
  if (it == keys_.end()) {
    return absl::NotFoundError(
        absl::StrCat("master key id ", wrapped.key_id, " is not in the keyring (was it removed?)"));
  }
  const std::string ad = AssociatedData(wrapped.key_id, context);
  uint8_t plain[SecretKey::kSize];
  unsigned long long len = 0;
  const int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
      plain, &len, nullptr, wrapped.ciphertext.data(), wrapped.ciphertext.size(),
      reinterpret_cast<const uint8_t*>(ad.data()), ad.size(), wrapped.nonce.data(),
      it->second.data());
  if (rc != 0 || len != SecretKey::kSize) {
    sodium_memzero(plain, sizeof(plain));
    return absl::DataLossError(
        absl::StrCat("wrapped data key failed authentication under master "
                     "key id ",
                     wrapped.key_id, ": corrupt, wrong key or context"));
  }
  absl::StatusOr<SecretKey> key = SecretKey::FromBytes(plain);
  sodium_memzero(plain, sizeof(plain));
  return key;
}

}  // namespace tessera::storage
