#include "api/sdk/sealing.h"

#include <sodium.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/sodium.h"

namespace tessera::sdk {
namespace {

constexpr size_t kNonceSize = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTagSize = crypto_aead_xchacha20poly1305_ietf_ABYTES;
static_assert(kSealOverhead == 1 + kNonceSize + kTagSize);

void PutU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}
void PutU64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

std::string AssociatedData(absl::string_view bucket, absl::string_view key,
                           absl::string_view upload_nonce, uint32_t index, uint64_t offset,
                           bool last) {
  std::string ad = "tessera-sealed-stripe";
  ad.push_back(static_cast<char>(kSealingFormat));
  PutU32(ad, static_cast<uint32_t>(bucket.size()));
  ad.append(bucket.data(), bucket.size());
  PutU32(ad, static_cast<uint32_t>(key.size()));
  ad.append(key.data(), key.size());
  ad.append(upload_nonce.data(), upload_nonce.size());
  PutU32(ad, index);
  PutU64(ad, offset);
  ad.push_back(last ? 1 : 0);
  return ad;
}

// The wrapped data key is bound to the object and the upload.
std::string WrapContext(absl::string_view bucket, absl::string_view key,
                        absl::string_view upload_nonce) {
  std::string c = "tessera-sealed-key";
  PutU32(c, static_cast<uint32_t>(bucket.size()));
  c.append(bucket.data(), bucket.size());
  PutU32(c, static_cast<uint32_t>(key.size()));
  c.append(key.data(), key.size());
  c.append(upload_nonce.data(), upload_nonce.size());
  return c;
}

}  // namespace

StripeSealer::StripeSealer(std::string bucket, std::string key, storage::SecretKey data_key,
                           ClientSealing sealing)
    : bucket_(std::move(bucket)),
      key_(std::move(key)),
      data_key_(std::move(data_key)),
      sealing_(std::move(sealing)) {}

absl::StatusOr<std::unique_ptr<StripeSealer>> StripeSealer::Create(
    const storage::MasterKeyring& keyring, absl::string_view bucket, absl::string_view key) {
  EnsureSodiumInitialized();
  ClientSealing sealing;
  sealing.format = kSealingFormat;
  sealing.upload_nonce.resize(kUploadNonceSize);
  SecureRandomBytes(sealing.upload_nonce.data(), sealing.upload_nonce.size());
  storage::SecretKey data_key = storage::SecretKey::Generate();
  absl::StatusOr<storage::WrappedKey> wrapped =
      keyring.Wrap(data_key, WrapContext(bucket, key, sealing.upload_nonce));
  if (!wrapped.ok()) return wrapped.status();
  sealing.key_id = wrapped->key_id;
  sealing.wrapped_data_key = wrapped->Serialize();
  return std::unique_ptr<StripeSealer>(new StripeSealer(std::string(bucket), std::string(key),
                                                        std::move(data_key), std::move(sealing)));
}

absl::StatusOr<SealedStripe> StripeSealer::Seal(uint32_t index, uint64_t plaintext_offset,
                                                absl::string_view plaintext, bool last) const {
  const std::string ad =
      AssociatedData(bucket_, key_, sealing_.upload_nonce, index, plaintext_offset, last);
  SealedStripe out;
  out.index = index;
  out.plaintext_offset = plaintext_offset;
  out.plaintext_size = plaintext.size();
  out.last = last;
  out.sealed.resize(kSealOverhead + plaintext.size());
  auto* p = reinterpret_cast<unsigned char*>(out.sealed.data());
  p[0] = static_cast<unsigned char>(kSealingFormat);
  SecureRandomBytes(p + 1, kNonceSize);
  unsigned long long len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_encrypt(
          p + 1 + kNonceSize, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
          plaintext.size(), reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr,
          p + 1, data_key_.data()) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("cannot seal stripe ", index));
  }
  return out;
}

StripeOpener::StripeOpener(std::string bucket, std::string key, storage::SecretKey data_key,
                           std::string upload_nonce)
    : bucket_(std::move(bucket)),
      key_(std::move(key)),
      data_key_(std::move(data_key)),
      upload_nonce_(std::move(upload_nonce)) {}

absl::StatusOr<std::unique_ptr<StripeOpener>> StripeOpener::Create(
    const storage::MasterKeyring& keyring, absl::string_view bucket, absl::string_view key,
    const ClientSealing& sealing) {
  EnsureSodiumInitialized();
  const std::string name = absl::StrCat(bucket, "/", key);
  if (sealing.format != kSealingFormat) {
    return absl::FailedPreconditionError(absl::StrCat(name, " is sealed in client format ",
                                                      sealing.format, "; this SDK reads format ",
                                                      kSealingFormat));
  }
  if (sealing.upload_nonce.size() != kUploadNonceSize) {
    return absl::DataLossError(absl::StrCat(name, ": malformed upload nonce"));
  }
  absl::StatusOr<storage::WrappedKey> wrapped =
      storage::WrappedKey::Parse(sealing.wrapped_data_key);
  if (!wrapped.ok()) {
    return absl::DataLossError(absl::StrCat(name, ": malformed wrapped data key"));
  }
  absl::StatusOr<storage::SecretKey> data_key =
      keyring.Unwrap(*wrapped, WrapContext(bucket, key, sealing.upload_nonce));
  if (!data_key.ok()) {
    if (absl::IsNotFound(data_key.status()) || absl::IsDataLoss(data_key.status())) {
      return absl::PermissionDeniedError(absl::StrCat(
          name, " is end-to-end encrypted with client key id ", sealing.key_id,
          absl::IsNotFound(data_key.status())
              ? ", which this client's key ring does not hold"
              : ", and this client's key with that id does not open it (a different key, a "
                "corrupt manifest, or an object moved from elsewhere)",
          "; read it with the key it was written with"));
    }
    return data_key.status();
  }
  return std::unique_ptr<StripeOpener>(new StripeOpener(
      std::string(bucket), std::string(key), *std::move(data_key), sealing.upload_nonce));
}

absl::StatusOr<std::string> StripeOpener::Open(uint32_t index, uint64_t plaintext_offset,
                                               absl::string_view sealed, bool last) const {
  if (sealed.size() < kSealOverhead || static_cast<uint8_t>(sealed[0]) != kSealingFormat) {
    return absl::DataLossError(
        absl::StrCat("sealed stripe ", index, " of ", bucket_, "/", key_, " is malformed"));
  }
  const std::string ad =
      AssociatedData(bucket_, key_, upload_nonce_, index, plaintext_offset, last);
  const auto* p = reinterpret_cast<const unsigned char*>(sealed.data());
  std::string plain(sealed.size() - kSealOverhead, '\0');
  unsigned long long len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(plain.data()), &len, nullptr, p + 1 + kNonceSize,
          sealed.size() - 1 - kNonceSize, reinterpret_cast<const unsigned char*>(ad.data()),
          ad.size(), p + 1, data_key_.data()) != 0) {
    return absl::DataLossError(absl::StrCat("stripe ", index, " of ", bucket_, "/", key_,
                                            " fails authentication (altered, moved, ",
                                            "reordered, or the object was cut short or extended)"));
  }
  plain.resize(static_cast<size_t>(len));
  return plain;
}

}  // namespace tessera::sdk
