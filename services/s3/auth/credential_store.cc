#include "services/s3/auth/credential_store.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "services/s3/errors/errors.h"

namespace tessera::services::s3 {
namespace {

bool ValidUserId(absl::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '@' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

bool ValidAccessKey(absl::string_view s) {
  if (s.size() < 16 || s.size() > 128) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool ValidSecret(absl::string_view s) {
  if (s.size() < 16 || s.size() > 128) return false;
  for (char c : s) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

void Wipe(std::string* s) {
  if (!s->empty()) OPENSSL_cleanse(s->data(), s->size());
}

}  // namespace

CredentialStore::~CredentialStore() {
  absl::MutexLock lock(&mu_);
  for (auto& [key, cred] : by_access_key_) Wipe(&cred.secret_key);
}

void CredentialStore::ReplaceWith(CredentialStore&& other) {
  if (&other == this) return;
  Map incoming;
  {
    absl::MutexLock lock(&other.mu_);
    incoming.swap(other.by_access_key_);
  }
  {
    absl::MutexLock lock(&mu_);
    by_access_key_.swap(incoming);
  }
  for (auto& [key, cred] : incoming) Wipe(&cred.secret_key);  // the old set, outside the lock
}

absl::Status CredentialStore::ReloadFromFile(const std::string& path) {
  absl::StatusOr<std::unique_ptr<CredentialStore>> fresh = LoadFromFile(path);
  if (!fresh.ok()) return fresh.status();
  ReplaceWith(std::move(**fresh));
  return absl::OkStatus();
}

size_t CredentialStore::size() const {
  absl::MutexLock lock(&mu_);
  return by_access_key_.size();
}

absl::Status CredentialStore::Add(Credential credential) {
  if (!ValidUserId(credential.user_id)) return absl::InvalidArgumentError("invalid user id");
  if (!ValidAccessKey(credential.access_key)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid access key for user ", credential.user_id));
  }
  if (!ValidSecret(credential.secret_key)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid secret key for user ", credential.user_id));
  }
  absl::MutexLock lock(&mu_);
  if (by_access_key_.count(credential.access_key) != 0) {
    return absl::AlreadyExistsError(absl::StrCat("duplicate access key ", credential.access_key));
  }
  std::string key = credential.access_key;
  by_access_key_.emplace(std::move(key), std::move(credential));
  return absl::OkStatus();
}

absl::StatusOr<Credential> CredentialStore::Lookup(absl::string_view access_key) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = by_access_key_.find(access_key);
  if (it == by_access_key_.end()) return S3Status(S3ErrorCode::kInvalidAccessKeyId);
  return it->second;
}

absl::StatusOr<std::unique_ptr<CredentialStore>> CredentialStore::Parse(
    absl::string_view contents) {
  auto store = std::make_unique<CredentialStore>();
  std::string user;
  std::string pending_access_key;
  int line_no = 0;
  auto error = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("credentials line ", line_no, ": ", what));
  };
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      if (!pending_access_key.empty()) return error("access_key without secret_key");
      if (line.back() != ']') return error("unterminated section header");
      user = std::string(absl::StripAsciiWhitespace(line.substr(1, line.size() - 2)));
      if (!ValidUserId(user)) return error("invalid user id");
      continue;
    }
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) return error("expected key = value");
    absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, eq));
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(eq + 1));
    if (user.empty()) return error("key outside a [user] section");
    if (key == "access_key") {
      if (!pending_access_key.empty()) return error("access_key without secret_key");
      if (!ValidAccessKey(value)) return error("invalid access_key");
      pending_access_key = std::string(value);
    } else if (key == "secret_key") {
      if (pending_access_key.empty()) return error("secret_key without access_key");
      absl::Status s = store->Add({pending_access_key, std::string(value), user});
      if (!s.ok()) return error(s.message());
      pending_access_key.clear();
    } else {
      return error(absl::StrCat("unknown key '", key, "'"));
    }
  }
  if (!pending_access_key.empty()) return error("access_key without secret_key");
  return store;
}

absl::StatusOr<std::unique_ptr<CredentialStore>> CredentialStore::LoadFromFile(
    const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return absl::NotFoundError(absl::StrCat("no credentials file ", path));
    return absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(err)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    close(fd);
    return absl::PermissionDeniedError(
        absl::StrCat("credentials file ", path, " is accessible by group or other (mode ",
                     absl::StrFormat("%03o", st.st_mode & 0777), "); chmod 600 it"));
  }
  std::string contents;
  char buf[4096];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      Wipe(&contents);
      return absl::InternalError(absl::StrCat("read ", path));
    }
    if (n == 0) break;
    contents.append(buf, static_cast<size_t>(n));
    if (contents.size() > (1u << 20)) {
      close(fd);
      Wipe(&contents);
      return absl::InvalidArgumentError(absl::StrCat(path, " is larger than 1 MiB"));
    }
  }
  OPENSSL_cleanse(buf, sizeof(buf));
  close(fd);
  auto result = Parse(contents);
  Wipe(&contents);
  return result;
}

}  // namespace tessera::services::s3
