// CredentialStore: access key id -> (secret key, user id), loaded from a credentials file.
//
// File format (INI-like; one section per user, several users per file):
//
//   # comment lines start with '#' or ';'
//   [alice]                      <- the user id (1..64 chars of [A-Za-z0-9_.@-])
//   access_key = AKIAIOSFODNN7EXAMPLE
//   secret_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
//
//   [bob]
//   access_key = ...
//   secret_key = ...
//   access_key = ...             <- a user may have several key pairs; each access_key must be
//   secret_key = ...                followed by its secret_key before the next access_key
//
// Access keys are 16..128 chars of [A-Z0-9a-z]; secrets 16..128 printable non-space ASCII.
// Access keys must be unique across the file. The file must not be readable or writable by group
// or other (mode & 077 == 0), as with ssh keys; otherwise loading fails with PermissionDenied.
// Secrets never appear in error messages or logs. Thread-safe: lookups may run concurrently with
// Add and with a reload (ReloadFromFile / ReplaceWith, tessera-s3's SIGHUP), and each sees either
// the whole old set of credentials or the whole new one.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace tessera::services::s3 {

struct Credential {
  std::string access_key;
  std::string secret_key;
  std::string user_id;
};

class CredentialStore {
 public:
  CredentialStore() = default;
  ~CredentialStore();
  CredentialStore(const CredentialStore&) = delete;
  CredentialStore& operator=(const CredentialStore&) = delete;

  // Reads and validates `path` (see the format above).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<CredentialStore>> LoadFromFile(
      const std::string& path);
  // Parses file contents (no permission check). Errors name the line, never a secret.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<CredentialStore>> Parse(
      absl::string_view contents);

  // Adds one credential (tests, embedding). AlreadyExists for a duplicate access key;
  // InvalidArgument for a malformed one.
  [[nodiscard]] absl::Status Add(Credential credential);

  // The credential for `access_key`, or an S3 InvalidAccessKeyId error.
  [[nodiscard]] absl::StatusOr<Credential> Lookup(absl::string_view access_key) const;

  // Replaces every credential with `other`'s (which is left empty), in one step for concurrent
  // lookups; the replaced secrets are wiped.
  void ReplaceWith(CredentialStore&& other);
  // Re-reads `path` (as LoadFromFile) and replaces the credentials with it. On any error the
  // current credentials stay, and the error is LoadFromFile's.
  [[nodiscard]] absl::Status ReloadFromFile(const std::string& path);

  size_t size() const;

 private:
  using Map = std::map<std::string, Credential, std::less<>>;
  mutable absl::Mutex mu_;
  Map by_access_key_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::services::s3
