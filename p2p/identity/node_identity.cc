#include "p2p/identity/node_identity.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cstring>
#include <mutex>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/sodium.h"

namespace tessera::p2p {
namespace {

constexpr char kMagic[8] = {'T', 'S', 'N', 'O', 'D', 'E', 'K', '1'};
constexpr uint8_t kAlgorithmEd25519 = 1;
constexpr size_t kPublicKeyOffset = 12;
constexpr size_t kSecretKeyOffset = kPublicKeyOffset + NodeIdentity::kPublicKeySize;
static_assert(kSecretKeyOffset + NodeIdentity::kSecretKeySize == NodeIdentity::kKeyFileSize);

// Wipes a std::string's bytes before it is freed.
struct WipeOnExit {
  std::string* s;
  ~WipeOnExit() {
    if (!s->empty()) sodium_memzero(s->data(), s->size());
  }
};

}  // namespace

std::string NodeIdFromPublicKey(absl::string_view public_key) {
  if (public_key.size() != NodeIdentity::kPublicKeySize) return "";
  unsigned char hash[crypto_generichash_BYTES];  // 32
  crypto_generichash(hash, sizeof(hash), reinterpret_cast<const unsigned char*>(public_key.data()),
                     public_key.size(), nullptr, 0);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(hash), NodeIdentity::kNodeIdBytes));
}

absl::Status VerifySignature(absl::string_view public_key, absl::string_view message,
                             absl::string_view signature) {
  EnsureSodiumInitialized();
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES) {
    return absl::InvalidArgumentError(absl::StrCat(
        "public key must be ", crypto_sign_PUBLICKEYBYTES, " bytes, got ", public_key.size()));
  }
  if (signature.size() != crypto_sign_BYTES) {
    return absl::InvalidArgumentError(
        absl::StrCat("signature must be ", crypto_sign_BYTES, " bytes, got ", signature.size()));
  }
  if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
                                  reinterpret_cast<const unsigned char*>(message.data()),
                                  message.size(),
                                  reinterpret_cast<const unsigned char*>(public_key.data())) != 0) {
    return absl::UnauthenticatedError("signature does not verify");
  }
  return absl::OkStatus();
}

NodeIdentity::~NodeIdentity() { sodium_memzero(secret_key_.data(), secret_key_.size()); }

std::string NodeIdentity::SecretSeed() const {
  std::string seed(crypto_sign_SEEDBYTES, '\0');
  crypto_sign_ed25519_sk_to_seed(reinterpret_cast<unsigned char*>(seed.data()), secret_key_.data());
  return seed;
}

void NodeIdentity::DerivePublicParts() {
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  crypto_sign_ed25519_sk_to_pk(pk, secret_key_.data());
  public_key_.assign(reinterpret_cast<const char*>(pk), sizeof(pk));
  node_id_ = NodeIdFromPublicKey(public_key_);
}

absl::StatusOr<std::unique_ptr<NodeIdentity>> NodeIdentity::Generate() {
  EnsureSodiumInitialized();
  std::unique_ptr<NodeIdentity> id(new NodeIdentity());
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  if (crypto_sign_keypair(pk, id->secret_key_.data()) != 0) {
    return absl::InternalError("crypto_sign_keypair failed");
  }
  id->DerivePublicParts();
  return id;
}

absl::StatusOr<std::unique_ptr<NodeIdentity>> NodeIdentity::FromSeed(absl::string_view seed) {
  EnsureSodiumInitialized();
  if (seed.size() != crypto_sign_SEEDBYTES) {
    return absl::InvalidArgumentError(
        absl::StrCat("an Ed25519 seed is ", crypto_sign_SEEDBYTES, " bytes, not ", seed.size()));
  }
  std::unique_ptr<NodeIdentity> id(new NodeIdentity());
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  if (crypto_sign_seed_keypair(pk, id->secret_key_.data(),
                               reinterpret_cast<const unsigned char*>(seed.data())) != 0) {
    return absl::InternalError("crypto_sign_seed_keypair failed");
  }
  id->DerivePublicParts();
  return id;
}

absl::StatusOr<std::unique_ptr<NodeIdentity>> NodeIdentity::Load(Env* env,
                                                                 const std::string& key_path) {
  EnsureSodiumInitialized();
  // Permissions are a POSIX property Env does not model; check them on the real file system.
  struct stat st;
  if (::stat(key_path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("no key file at ", key_path));
    return absl::UnavailableError(
        absl::StrCat("cannot stat key file ", key_path, ": ", strerror(errno)));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(
        absl::StrFormat("key file %s is accessible by group or others (mode %03o); refusing to "
                        "use it. Fix with: chmod 600 %s",
                        key_path, st.st_mode & 0777, key_path));
  }
  absl::StatusOr<std::string> contents = ReadFileToString(env, key_path);
  if (!contents.ok()) return contents.status();
  WipeOnExit wipe{&*contents};
  const std::string& data = *contents;
  if (data.size() != kKeyFileSize || std::memcmp(data.data(), kMagic, sizeof(kMagic)) != 0) {
    return absl::DataLossError(absl::StrCat("key file ", key_path,
                                            " is not a Tessera node key file (size ", data.size(),
                                            ", expected ", kKeyFileSize, ")"));
  }
  const uint8_t version = static_cast<uint8_t>(data[8]);
  const uint8_t algorithm = static_cast<uint8_t>(data[9]);
  if (version != kKeyFileVersion || algorithm != kAlgorithmEd25519) {
    return absl::FailedPreconditionError(absl::StrCat(
        "key file ", key_path, " has unsupported version ", version, " or algorithm ", algorithm));
  }
  std::unique_ptr<NodeIdentity> id(new NodeIdentity());
  std::memcpy(id->secret_key_.data(), data.data() + kSecretKeyOffset, kSecretKeySize);
  id->DerivePublicParts();
  if (sodium_memcmp(id->public_key_.data(), data.data() + kPublicKeyOffset, kPublicKeySize) != 0) {
    return absl::DataLossError(
        absl::StrCat("key file ", key_path, ": secret key does not match public key"));
  }
  return id;
}

absl::Status NodeIdentity::Save(Env* env, const std::string& key_path) const {
  std::string data(kKeyFileSize, '\0');
  WipeOnExit wipe{&data};
  std::memcpy(data.data(), kMagic, sizeof(kMagic));
  data[8] = static_cast<char>(kKeyFileVersion);
  data[9] = static_cast<char>(kAlgorithmEd25519);
  std::memcpy(data.data() + kPublicKeyOffset, public_key_.data(), kPublicKeySize);
  std::memcpy(data.data() + kSecretKeyOffset, secret_key_.data(), kSecretKeySize);
  // Env creates files with mode 0644 & ~umask. A 077 umask around the write makes the temporary
  // file (and so the renamed key file) 0600 from its creation on, so the secret is never
  // readable by others, not even briefly. umask is process-wide: serialise our own callers.
  static std::mutex umask_mu;
  absl::Status s;
  {
    std::lock_guard<std::mutex> lock(umask_mu);
    const mode_t old = ::umask(077);
    s = WriteFileAtomically(env, key_path, data);
    ::umask(old);
  }
  if (!s.ok()) return s;
  // Belt and braces for Envs that ignore the umask.
  if (::chmod(key_path.c_str(), 0600) != 0 && errno != ENOENT) {
    return absl::UnavailableError(absl::StrCat("chmod 600 ", key_path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<NodeIdentity>> NodeIdentity::LoadOrCreate(
    Env* env, const std::string& key_path) {
  absl::StatusOr<std::unique_ptr<NodeIdentity>> loaded = Load(env, key_path);
  if (loaded.ok() || !absl::IsNotFound(loaded.status())) return loaded;
  absl::StatusOr<std::unique_ptr<NodeIdentity>> created = Generate();
  if (!created.ok()) return created.status();
  if (absl::Status s = (*created)->Save(env, key_path); !s.ok()) return s;
  return created;
}

std::string NodeIdentity::Sign(absl::string_view message) const {
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), secret_key_.data());
  return std::string(reinterpret_cast<const char*>(sig), sizeof(sig));
}

}  // namespace tessera::p2p
