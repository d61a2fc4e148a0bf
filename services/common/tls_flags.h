// One naming for the TLS flags of Tessera's daemons: `--tls_cert_file` / `--tls_key_file`
// (tessera-gateway and tessera-s3). tessera-s3 used to call them `--tls_cert` / `--tls_key`; those
// spellings stay accepted as deprecated aliases for one release, then go away.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tessera::services {

// The PEM files a daemon serves TLS with; both empty = no TLS.
struct TlsFiles {
  std::string cert_file;
  std::string key_file;
};

// Merges the current flags with their deprecated aliases (empty = not given).
// Success: the files, from the current names or else the aliases; `*used_deprecated` (if given)
// is set when an alias supplied a value, so the caller can warn.
// INVALID_ARGUMENT: a current name and its alias both given (even with the same value: one
// spelling per setting), or a certificate without a key or a key without a certificate.
[[nodiscard]] absl::StatusOr<TlsFiles> ResolveTlsFlags(absl::string_view cert_file,
                                                       absl::string_view key_file,
                                                       absl::string_view deprecated_cert,
                                                       absl::string_view deprecated_key,
                                                       bool* used_deprecated = nullptr);

}  // namespace tessera::services
