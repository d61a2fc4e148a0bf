#include "p2p/auth/cluster_secret.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/sodium.h"

namespace tessera::p2p {
namespace {

constexpr char kDerivePrefix[] = "tessera.v1.cluster-key";

}  // namespace

ClusterSecret::~ClusterSecret() { sodium_memzero(bytes_.data(), bytes_.size()); }

absl::StatusOr<ClusterSecret> ClusterSecret::Random() {
  ClusterSecret secret;
  SecureRandomBytes(secret.bytes_.data(), secret.bytes_.size());
  return secret;
}

absl::StatusOr<ClusterSecret> ClusterSecret::FromBytes(absl::string_view bytes) {
  EnsureSodiumInitialized();
  if (bytes.size() != kSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("cluster secret must be ", kSize, " bytes, got ", bytes.size()));
  }
  ClusterSecret secret;
  std::memcpy(secret.bytes_.data(), bytes.data(), kSize);
  return secret;
}

absl::StatusOr<ClusterSecret> ClusterSecret::Load(const std::string& path) {
  EnsureSodiumInitialized();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("no cluster secret at ", path));
    return absl::UnavailableError(
        absl::StrCat("cannot open cluster secret ", path, ": ", strerror(errno)));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("cannot stat ", path, ": ", strerror(e)));
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return absl::PermissionDeniedError(
        absl::StrFormat("cluster secret %s is accessible by group or others (mode %03o); "
                        "refusing to use it. Fix with: chmod 600 %s",
                        path, st.st_mode & 0777, path));
  }
  char buf[2 * kSize + 3];
  size_t n = 0;
  while (n < sizeof(buf)) {
    const ssize_t r = ::read(fd, buf + n, sizeof(buf) - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      const int e = errno;
      ::close(fd);
      sodium_memzero(buf, sizeof(buf));
      return absl::UnavailableError(absl::StrCat("cannot read ", path, ": ", strerror(e)));
    }
    if (r == 0) break;
    n += static_cast<size_t>(r);
  }
  ::close(fd);
  size_t text = n;
  if (text > 0 && buf[text - 1] == '\n') --text;
  if (text > 0 && buf[text - 1] == '\r') --text;
  ClusterSecret secret;
  size_t decoded = 0;
  const char* end = nullptr;
  const bool ok =
      text == 2 * kSize &&
      sodium_hex2bin(secret.bytes_.data(), kSize, buf, text, nullptr, &decoded, &end) == 0 &&
      decoded == kSize && end == buf + text;
  sodium_memzero(buf, sizeof(buf));
  if (!ok) {
    return absl::DataLossError(
        absl::StrCat("cluster secret ", path, " is not ", 2 * kSize, " hex characters (32 bytes)"));
  }
  return secret;
}

absl::Status ClusterSecret::Generate(const std::string& path) {
  absl::StatusOr<ClusterSecret> secret = Random();
  if (!secret.ok()) return secret.status();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(
          absl::StrCat("cluster secret ", path, " already exists; not overwriting it"));
    }
    return absl::UnavailableError(absl::StrCat("cannot create ", path, ": ", strerror(errno)));
  }
  char hex[2 * kSize + 2];
  sodium_bin2hex(hex, sizeof(hex), secret->bytes_.data(), kSize);
  hex[2 * kSize] = '\n';
  size_t written = 0;
  const size_t total = 2 * kSize + 1;
  int error = 0;
  // Belt and braces against a umask or ACL that widened the mode.
  if (::fchmod(fd, 0600) != 0) error = errno;
  while (error == 0 && written < total) {
    const ssize_t w = ::write(fd, hex + written, total - written);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      error = errno;
      break;
    }
    written += static_cast<size_t>(w);
  }
  if (error == 0 && ::fsync(fd) != 0) error = errno;
  sodium_memzero(hex, sizeof(hex));
  ::close(fd);
  if (error != 0) {
    ::unlink(path.c_str());
    return absl::UnavailableError(absl::StrCat("cannot write ", path, ": ", strerror(error)));
  }
  return absl::OkStatus();
}

std::string ClusterSecret::DeriveKey(absl::string_view purpose) const {
  std::string input = absl::StrCat(kDerivePrefix, absl::string_view("\0", 1), purpose);
  std::string key(32, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(key.data()), key.size(),
                     reinterpret_cast<const unsigned char*>(input.data()), input.size(),
                     bytes_.data(), bytes_.size());
  return key;
}

}  // namespace tessera::p2p
