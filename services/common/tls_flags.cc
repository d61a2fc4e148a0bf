#include "services/common/tls_flags.h"

#include "absl/status/status.h"

namespace tessera::services {

absl::StatusOr<TlsFiles> ResolveTlsFlags(absl::string_view cert_file, absl::string_view key_file,
                                         absl::string_view deprecated_cert,
                                         absl::string_view deprecated_key, bool* used_deprecated) {
  if (!cert_file.empty() && !deprecated_cert.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert_file and its deprecated alias --tls_cert are both given; use --tls_cert_file");
  }
  if (!key_file.empty() && !deprecated_key.empty()) {
    return absl::InvalidArgumentError(
        "--tls_key_file and its deprecated alias --tls_key are both given; use --tls_key_file");
  }
  TlsFiles files;
  files.cert_file = std::string(cert_file.empty() ? deprecated_cert : cert_file);
  files.key_file = std::string(key_file.empty() ? deprecated_key : key_file);
  if (files.cert_file.empty() != files.key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert_file and --tls_key_file go together");
  }
  if (used_deprecated != nullptr) {
    *used_deprecated = !deprecated_cert.empty() || !deprecated_key.empty();
  }
  return files;
}

}  // namespace tessera::services
