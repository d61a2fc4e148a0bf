// Master key files: how a node or gateway gets its cluster master keys.
//
// Format (ASCII text, one entry per line; whitespace is spaces or tabs):
//
//   # Tessera master keys. Keep this file mode 0600.
//   1 q3Jm8n0v0bE0Wm6y4Qb2cVw0o7GJx1Wb0y2x8hV3s0A=
//   2 9f0c4e...(64 hex digits)...
//   active 2
//
// - Blank lines and lines whose first non-blank character is '#' are ignored.
// - `<key-id> <key>`: key-id is a decimal integer in [1, 2^32-1]; key is 32 bytes, either as 64
//   hexadecimal digits or as 44 characters of standard padded base64. Each id at most once.
// - `active <key-id>` (optional, at most once): the key that wraps new data keys. Without it the
//   highest key id is active. Every listed key can unwrap.
//
// Loading REFUSES the file (FAILED_PRECONDITION, message naming the file and line, never key
// bytes) if it is not a regular file, if its mode grants any permission to group or others
// (st_mode & 077), if it is empty of keys, or on any malformed line, bad encoding or wrong key
// length. Buffers that held key text are wiped after parsing.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/crypto/key_wrap.h"

namespace tessera::storage {

// Parses key file text. `origin` names the source in error messages (e.g. the path).
[[nodiscard]] absl::StatusOr<std::unique_ptr<MasterKeyring>> ParseMasterKeyFile(
    absl::string_view contents, absl::string_view origin);

// Reads and parses the key file at `path`, after checking its type and permissions (above).
// NOT_FOUND if it does not exist; FAILED_PRECONDITION if it is refused.
[[nodiscard]] absl::StatusOr<std::unique_ptr<MasterKeyring>> LoadMasterKeyFile(
    const std::string& path);

// Creates a new key file at `path` holding one fresh random key with id `key_id` (active), with
// mode 0600 regardless of umask, fsynced. ALREADY_EXISTS if `path` exists (never overwrites
// keys); INVALID_ARGUMENT for key id 0.
[[nodiscard]] absl::Status GenerateMasterKeyFile(const std::string& path, MasterKeyId key_id);

// Rotation, step 1 (docs/design/crypto.md "Rotation"): adds a fresh random key to the key file at
// `path` with id = the highest id + 1 and makes it active (the `active` line is replaced; comments
// and the other keys are kept). Returns the new id. The file must load (errors as
// LoadMasterKeyFile) and is replaced atomically (temporary file, fsync, rename, directory fsync)
// with mode 0600. FAILED_PRECONDITION if the highest id is already 2^32-1.
[[nodiscard]] absl::StatusOr<MasterKeyId> AddMasterKeyToFile(const std::string& path);

// Rotation, last step: removes key `key_id` from the key file at `path` (replaced atomically, as
// above). Only after every manifest has been rewrapped (services/object/key_rotation.h): objects
// still wrapped under the key become unreadable. NOT_FOUND if the file holds no such key;
// FAILED_PRECONDITION if it is the active key.
[[nodiscard]] absl::Status RetireMasterKeyFromFile(const std::string& path, MasterKeyId key_id);

}  // namespace tessera::storage
