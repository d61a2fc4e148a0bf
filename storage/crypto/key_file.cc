#include "storage/crypto/key_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "base/sodium.h"
#include "base/status_macros.h"

namespace tessera::storage {
namespace {

constexpr size_t kMaxKeyFileSize = 1 << 20;
constexpr size_t kHexKeyChars = 2 * SecretKey::kSize;
constexpr size_t kBase64KeyChars = 44;

absl::Status Refuse(absl::string_view origin, int line, absl::string_view why) {
  if (line > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("refusing master key file ", origin, " line ", line, ": ", why));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("refusing master key file ", origin, ": ", why));
}

absl::Status ErrnoStatus(int err, absl::string_view what, absl::string_view path) {
  const std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

// Decodes a 32-byte key from hex or padded base64; nullopt on any encoding or length error.
std::optional<SecretKey> DecodeKey(absl::string_view text) {
  uint8_t raw[SecretKey::kSize];
  size_t raw_len = 0;
  const char* end = nullptr;
  int rc = -1;
  if (text.size() == kHexKeyChars) {
    rc = sodium_hex2bin(raw, sizeof(raw), text.data(), text.size(), nullptr, &raw_len, &end);
  } else if (text.size() == kBase64KeyChars) {
    rc = sodium_base642bin(raw, sizeof(raw), text.data(), text.size(), nullptr, &raw_len, &end,
                           sodium_base64_VARIANT_ORIGINAL);
  }
  std::optional<SecretKey> key;
  if (rc == 0 && raw_len == SecretKey::kSize && end == text.data() + text.size()) {
    absl::StatusOr<SecretKey> parsed = SecretKey::FromBytes(raw);
    if (parsed.ok()) key.emplace(std::move(*parsed));
  }
  sodium_memzero(raw, sizeof(raw));
  return key;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MasterKeyring>> ParseMasterKeyFile(absl::string_view contents,
                                                                  absl::string_view origin) {
  EnsureSodiumInitialized();
  auto ring = std::make_unique<MasterKeyring>();
  std::optional<MasterKeyId> active;
  std::optional<MasterKeyId> highest;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 2) {
      return Refuse(origin, line_number, "expected `<key-id> <key>` or `active <key-id>`");
    }
    if (fields[0] == "active") {
      MasterKeyId id = 0;
      if (active.has_value()) return Refuse(origin, line_number, "more than one `active` line");
      if (!absl::SimpleAtoi(fields[1], &id) || id == 0) {
        return Refuse(origin, line_number, "`active` needs a key id in [1, 4294967295]");
      }
      active = id;
      continue;
    }
    MasterKeyId id = 0;
    if (!absl::SimpleAtoi(fields[0], &id) || id == 0) {
      return Refuse(origin, line_number, "key id must be a decimal integer in [1, 4294967295]");
    }
    std::optional<SecretKey> key = DecodeKey(fields[1]);
    if (!key.has_value()) {
      return Refuse(origin, line_number,
                    absl::StrCat("key ", id,
                                 " is not 32 bytes of hex (64 digits) or padded "
                                 "base64 (44 characters)"));
    }
    absl::Status added = ring->Add(id, std::move(*key));
    if (!added.ok()) return Refuse(origin, line_number, absl::StrCat("duplicate key id ", id));
    if (!highest.has_value() || id > *highest) highest = id;
  }
  if (!highest.has_value()) return Refuse(origin, 0, "it holds no keys");
  const MasterKeyId active_id = active.value_or(*highest);
  if (!ring->SetActive(active_id).ok()) {
    return Refuse(origin, 0, absl::StrCat("active key id ", active_id, " is not listed"));
  }
  return ring;
}

namespace {

// Reads the key file at `path` into *contents after the checks LoadMasterKeyFile documents. On
// failure *contents is empty (anything read was wiped).
absl::Status ReadKeyFileText(const std::string& path, std::string* contents) {
  contents->clear();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ELOOP) return Refuse(path, 0, "it is a symbolic link");
    return ErrnoStatus(errno, "cannot open master key file", path);
  }
  // Checks the opened file itself (fstat), so it cannot be swapped between check and read.
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoStatus(err, "cannot stat master key file", path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Refuse(path, 0, "it is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return Refuse(path, 0,
                  absl::StrFormat("its mode %04o lets group or others access it; run chmod 600",
                                  st.st_mode & 07777));
  }
  if (static_cast<size_t>(st.st_size) > kMaxKeyFileSize) {
    ::close(fd);
    return Refuse(path, 0, "it is larger than 1 MiB");
  }
  contents->assign(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < contents->size()) {
    const ssize_t n = ::read(fd, contents->data() + done, contents->size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      sodium_memzero(contents->data(), contents->size());
      contents->clear();
      ::close(fd);
      return ErrnoStatus(err, "cannot read master key file", path);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  contents->resize(done);
  return absl::OkStatus();
}

// Wipes a string holding key text when it goes out of scope.
class WipedString {
 public:
  WipedString() = default;
  WipedString(const WipedString&) = delete;
  WipedString& operator=(const WipedString&) = delete;
  ~WipedString() { sodium_memzero(text.data(), text.size()); }
  std::string text;
};

// Writes `text` to `fd` completely.
absl::Status WriteAll(int fd, absl::string_view text, const std::string& path) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoStatus(errno, "cannot write master key file", path);
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Replaces the file at `path` with `text` atomically: a mode-0600 temporary file next to it is
// written and fsynced, renamed over `path`, and the directory fsynced. A crash leaves either the
// old or the new file (and possibly a stale `path`.tmp, removed by the next replacement).
absl::Status ReplaceKeyFile(const std::string& path, absl::string_view text) {
  const std::string tmp = absl::StrCat(path, ".tmp");
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return ErrnoStatus(errno, "cannot create temporary key file", tmp);
  absl::Status status;
  if (::fchmod(fd, 0600) != 0) status = ErrnoStatus(errno, "cannot chmod key file", tmp);
  if (status.ok()) status = WriteAll(fd, text, tmp);
  if (status.ok() && ::fsync(fd) != 0) status = ErrnoStatus(errno, "cannot fsync key file", tmp);
  ::close(fd);
  if (status.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    status = ErrnoStatus(errno, "cannot rename key file over", path);
  }
  if (!status.ok()) {
    ::unlink(tmp.c_str());
    return status;
  }
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    const int rc = ::fsync(dir_fd);
    const int err = errno;
    ::close(dir_fd);
    if (rc != 0) return ErrnoStatus(err, "cannot fsync directory of", path);
  }
  return absl::OkStatus();
}

// The first whitespace-separated field of a key file line ("" for blank and comment lines).
absl::string_view FirstField(absl::string_view line) {
  line = absl::StripAsciiWhitespace(line);
  if (line.empty() || line[0] == '#') return {};
  return line.substr(0, line.find_first_of(" \t"));
}

// `text` without its `active` line and with a newline at its end (if not empty).
std::string WithoutActiveLine(absl::string_view text) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (FirstField(line) == "active") continue;
    absl::StrAppend(&out, line, "\n");
  }
  // StrSplit yields one empty piece after a final newline: do not add a blank line for it.
  if (absl::EndsWith(out, "\n\n") && absl::EndsWith(text, "\n")) out.pop_back();
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MasterKeyring>> LoadMasterKeyFile(const std::string& path) {
  WipedString contents;
  if (absl::Status s = ReadKeyFileText(path, &contents.text); !s.ok()) return s;
  return ParseMasterKeyFile(contents.text, path);
}

absl::StatusOr<MasterKeyId> AddMasterKeyToFile(const std::string& path) {
  EnsureSodiumInitialized();
  WipedString contents;
  if (absl::Status s = ReadKeyFileText(path, &contents.text); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<MasterKeyring>> ring = ParseMasterKeyFile(contents.text, path);
  if (!ring.ok()) return ring.status();
  const std::vector<MasterKeyId> ids = (*ring)->key_ids();
  if (ids.back() == std::numeric_limits<MasterKeyId>::max()) {
    return absl::FailedPreconditionError(
        absl::StrCat("master key file ", path, " already uses the highest key id"));
  }
  const MasterKeyId id = ids.back() + 1;
  uint8_t raw[SecretKey::kSize];
  SecureRandomBytes(raw, sizeof(raw));
  char b64[sodium_base64_ENCODED_LEN(SecretKey::kSize, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
  sodium_memzero(raw, sizeof(raw));
  WipedString next;
  next.text = WithoutActiveLine(contents.text);
  absl::StrAppend(&next.text, id, " ", b64, "\nactive ", id, "\n");
  sodium_memzero(b64, sizeof(b64));
  // Never write a file that would not load.
  if (absl::Status s = ParseMasterKeyFile(next.text, path).status(); !s.ok()) return s;
  if (absl::Status s = ReplaceKeyFile(path, next.text); !s.ok()) return s;
  return id;
}

absl::Status RetireMasterKeyFromFile(const std::string& path, MasterKeyId key_id) {
  WipedString contents;
  if (absl::Status s = ReadKeyFileText(path, &contents.text); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<MasterKeyring>> ring = ParseMasterKeyFile(contents.text, path);
  if (!ring.ok()) return ring.status();
  if (!(*ring)->Contains(key_id)) {
    return absl::NotFoundError(
        absl::StrCat("master key file ", path, " holds no key with id ", key_id));
  }
  if ((*ring)->active_key_id() == key_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("master key ", key_id, " is the active key of ", path,
                     "; add a new key first (it becomes active), rewrap, then retire this one"));
  }
  WipedString next;
  for (absl::string_view line : absl::StrSplit(contents.text, '\n')) {
    MasterKeyId id = 0;
    if (absl::SimpleAtoi(FirstField(line), &id) && id == key_id) continue;
    absl::StrAppend(&next.text, line, "\n");
  }
  if (absl::EndsWith(next.text, "\n\n") && absl::EndsWith(contents.text, "\n")) {
    next.text.pop_back();
  }
  if (absl::Status s = ParseMasterKeyFile(next.text, path).status(); !s.ok()) return s;
  return ReplaceKeyFile(path, next.text);
}

absl::Status GenerateMasterKeyFile(const std::string& path, MasterKeyId key_id) {
  if (key_id == 0) return absl::InvalidArgumentError("master key id 0 is reserved");
  EnsureSodiumInitialized();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(
          absl::StrCat("master key file ", path, " already exists; not overwriting keys"));
    }
    return ErrnoStatus(errno, "cannot create master key file", path);
  }
  // The umask can only remove bits, but be explicit: exactly owner read/write.
  if (::fchmod(fd, 0600) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return ErrnoStatus(err, "cannot chmod master key file", path);
  }
  uint8_t raw[SecretKey::kSize];
  SecureRandomBytes(raw, sizeof(raw));
  char b64[sodium_base64_ENCODED_LEN(SecretKey::kSize, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
  sodium_memzero(raw, sizeof(raw));
  std::string text = absl::StrCat(
      "# Tessera master keys: `<key-id> <base64 or hex key>` lines, optional `active <key-id>`.\n"
      "# Keep this file mode 0600 and back it up: without it no object can be decrypted.\n",
      key_id, " ", b64, "\n", "active ", key_id, "\n");
  sodium_memzero(b64, sizeof(b64));
  size_t done = 0;
  absl::Status status;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      status = ErrnoStatus(errno, "cannot write master key file", path);
      break;
    }
    done += static_cast<size_t>(n);
  }
  sodium_memzero(text.data(), text.size());
  if (status.ok() && ::fsync(fd) != 0) {
    status = ErrnoStatus(errno, "cannot fsync master key file", path);
  }
  ::close(fd);
  if (!status.ok()) ::unlink(path.c_str());
  return status;
}

}  // namespace tessera::storage
