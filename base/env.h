// Env: the seam between Tessera and the file system. Every file, fsync, rename and directory
// operation in storage code goes through an Env, so tests can substitute a fault-injecting one
// (drop unsynced data, flip bits, fail the Nth call, report a full disk) -- see
// base/fault_injection_env.h. Modelled on LevelDB's Env, returning absl::Status.
//
// Thread-safety: Env implementations are thread-safe. File objects are not; each is used by one
// thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tessera {

// A file being written sequentially. Data is durable only after Sync() returns OK; a crash may
// lose any suffix written since the last successful Sync().
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Appends `data`. RESOURCE_EXHAUSTED when the disk is full; the file may then hold a prefix
  // of `data`, so callers that need atomicity write to a temporary name and rename.
  [[nodiscard]] virtual absl::Status Append(absl::string_view data) = 0;
  // Flushes appended data and file metadata to stable storage (fdatasync/fsync).
  [[nodiscard]] virtual absl::Status Sync() = 0;
  // Closes the file; does not sync. Idempotent.
  [[nodiscard]] virtual absl::Status Close() = 0;
  // Bytes appended so far (including any that existed when opened for append).
  virtual uint64_t Size() const = 0;
};

// A file read at arbitrary offsets. Safe for concurrent Read() calls.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to `n` bytes at `offset` into `scratch` and returns how many were read; fewer than
  // `n` only at end of file.
  [[nodiscard]] virtual absl::StatusOr<size_t> Read(uint64_t offset, size_t n,
                                                    char* scratch) const = 0;
  [[nodiscard]] virtual absl::StatusOr<uint64_t> Size() const = 0;
};

// Capacity and free space of the file system holding a path, in bytes.
struct DiskSpace {
  uint64_t capacity_bytes = 0;
  uint64_t free_bytes = 0;  // available to an unprivileged writer
};

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide POSIX Env. Never null; never deleted.
  static Env* Default();

  // Creates `path` (truncating an existing file) for writing.
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) = 0;
  // Opens `path` for appending, creating it if missing.
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(
      const std::string& path) = 0;
  // NOT_FOUND when `path` does not exist.
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) = 0;

  // Atomically replaces `to` with `from`. Durable only after SyncDir() of the parent directory.
  [[nodiscard]] virtual absl::Status RenameFile(const std::string& from, const std::string& to) = 0;
  // NOT_FOUND when missing. Durable only after SyncDir() of the parent directory.
  [[nodiscard]] virtual absl::Status DeleteFile(const std::string& path) = 0;
  // Creates a directory and any missing parents; OK if it already exists.
  [[nodiscard]] virtual absl::Status CreateDirs(const std::string& path) = 0;
  // Removes an empty directory.
  [[nodiscard]] virtual absl::Status DeleteDir(const std::string& path) = 0;
  // Makes the directory's entries (creations, renames, deletions) durable.
  [[nodiscard]] virtual absl::Status SyncDir(const std::string& path) = 0;
  // Names (not paths) of the entries in `path`, excluding "." and "..", in no particular order.
  [[nodiscard]] virtual absl::StatusOr<std::vector<std::string>> ListDir(
      const std::string& path) = 0;
  [[nodiscard]] virtual absl::StatusOr<uint64_t> FileSize(const std::string& path) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  [[nodiscard]] virtual absl::StatusOr<DiskSpace> GetDiskSpace(const std::string& path) = 0;
};

// Reads a whole file into a string.
[[nodiscard]] absl::StatusOr<std::string> ReadFileToString(Env* env, const std::string& path);

// Writes `data` to `path` durably and atomically: a temporary file is written and synced, renamed
// over `path`, and the directory synced. After a crash `path` holds either the old or the new
// contents, never a mix.
[[nodiscard]] absl::Status WriteFileAtomically(Env* env, const std::string& path,
                                               absl::string_view data);

}  // namespace tessera
