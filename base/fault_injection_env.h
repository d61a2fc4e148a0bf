// FaultInjectionEnv: an Env that wraps another Env (usually Env::Default() on a test directory)
// and injects the faults storage code must survive: power loss, I/O errors, a full disk and
// on-disk corruption. Modelled on LevelDB's FaultInjectionTestEnv and RocksDB's
// FaultInjectionTestFS.
//
// Power-loss model (what DropUnsyncedData() does -- the "crash"):
//  * File data. For every file written through this Env the size at the last successful
//    WritableFile::Sync() is remembered. The crash truncates the file to that size. A file opened
//    with NewAppendableFile that already existed counts as durable up to its size at open.
//    NewWritableFile on an existing file truncates it durably (synced size 0): the old contents
//    are not brought back.
//  * Directory entries. File creations (NewWritableFile/NewAppendableFile of a new path),
//    renames and deletions are recorded in a log until SyncDir() of the directory holding the
//    entry. A creation or deletion is durable once its parent directory is synced; a rename once
//    BOTH the source's and the destination's parent directories are synced. The crash undoes the
//    still-pending entries in reverse order: created files are removed, renamed files move back
//    to their old name (and a file the rename replaced gets its durable contents back), deleted
//    files are recreated with their durable contents. To make that possible the durable prefix of
//    a file is copied into memory when it is deleted or replaced by a rename (test files are
//    small; memory is the cost).
//  * Not modelled: directory creation/removal (CreateDirs/DeleteDir are durable at once), partial
//    or torn writes inside a synced region, reordering of data within unsynced regions (the whole
//    unsynced suffix is lost), files changed behind this Env's back (they are not tracked, and an
//    untracked file counts as fully durable), paths spelled two ways for the same file (use one
//    spelling; trailing and doubled slashes are normalised).
//  * After the crash every WritableFile handle opened before it fails with FAILED_PRECONDITION;
//    reopen files as a restarted process would.
//
// Other faults:
//  * FailNthCall / FailAfterCalls: the Nth matching call from now fails once, or every matching
//    call after N more succeed fails, with a status of the test's choosing. Which calls count is
//    a mask of OpKind (default: every mutating call). A failed Append writes nothing.
//  * SetDiskFull(true): NewWritableFile, NewAppendableFile and Append return RESOURCE_EXHAUSTED.
//    SetWriteBudget(bytes): Appends succeed until `bytes` more are written; the Append that
//    crosses the budget writes the prefix that fits and returns RESOURCE_EXHAUSTED (as a real
//    full disk may). GetDiskSpace reports free space accordingly.
//  * SetFilesystemActive(false): every mutating call fails with UNAVAILABLE, as after the power
//    went (reads still work). DropUnsyncedData() works either way.
//  * FlipBit / WriteAt: corrupt bytes of a file on disk in place (sizes and sync state unchanged).
//  * SetHook: a callback consulted before every call with its OpKind and path; a non-OK return
//    is injected as that call's result. Lets a test fail e.g. only Syncs of "*.sst" files, or
//    pause a writer. The hook runs without this Env's lock held and may call into the Env.
//
// Thread-safety: all methods are thread-safe (one absl::Mutex). File handles follow the Env
// contract (one thread at a time per WritableFile; concurrent Reads are fine).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "base/env.h"

namespace tessera {

// Kinds of calls, as bits so that fault rules can select several.
enum class OpKind : uint32_t {
  kNewWritableFile = 1u << 0,
  kNewAppendableFile = 1u << 1,
  kAppend = 1u << 2,
  kSync = 1u << 3,
  kRenameFile = 1u << 4,
  kDeleteFile = 1u << 5,
  kCreateDirs = 1u << 6,
  kDeleteDir = 1u << 7,
  kSyncDir = 1u << 8,
  // Non-mutating calls (never affected by SetFilesystemActive or SetDiskFull).
  kNewRandomAccessFile = 1u << 9,
  kRead = 1u << 10,
  kListDir = 1u << 11,
  kFileSize = 1u << 12,
  kGetDiskSpace = 1u << 13,
};

// A set of OpKinds.
using OpMask = uint32_t;
constexpr OpMask Mask(OpKind k) { return static_cast<OpMask>(k); }
constexpr OpMask kMutatingOps = (1u << 9) - 1;  // kNewWritableFile .. kSyncDir
constexpr OpMask kReadOps = Mask(OpKind::kNewRandomAccessFile) | Mask(OpKind::kRead) |
                            Mask(OpKind::kListDir) | Mask(OpKind::kFileSize) |
                            Mask(OpKind::kGetDiskSpace);
constexpr OpMask kAllOps = kMutatingOps | kReadOps;

// Short name of an OpKind ("Append", "SyncDir", ...), for messages.
const char* OpKindName(OpKind kind);

// Operation counts since construction (or ResetCounters()). Counted on entry, whether the call
// then succeeds or fails.
struct FaultInjectionCounters {
  uint64_t new_writable_files = 0;  // NewWritableFile + NewAppendableFile
  uint64_t appends = 0;
  uint64_t bytes_appended = 0;  // bytes actually written to the base Env
  uint64_t syncs = 0;
  uint64_t sync_dirs = 0;
  uint64_t renames = 0;
  uint64_t deletes = 0;            // DeleteFile + DeleteDir
  uint64_t reads = 0;              // RandomAccessFile::Read calls
  uint64_t injected_failures = 0;  // calls failed by any rule, the hook, disk-full or inactive
  uint64_t crashes = 0;            // DropUnsyncedData calls
};

class FaultInjectionEnv final : public Env {
 public:
  // Called before every call; a non-OK result fails that call. `path` is the (first) path.
  using Hook = std::function<absl::Status(OpKind op, const std::string& path)>;

  // `base` is not owned and must outlive this Env.
  explicit FaultInjectionEnv(Env* base);
  ~FaultInjectionEnv() override;

  FaultInjectionEnv(const FaultInjectionEnv&) = delete;
  FaultInjectionEnv& operator=(const FaultInjectionEnv&) = delete;

  Env* base() const { return base_; }

  // ---- Crash simulation ----

  // Simulates power loss: see the model above. Returns the first error met while rewriting the
  // base file system (the rest is still attempted). Invalidates all open WritableFiles.
  [[nodiscard]] absl::Status DropUnsyncedData();
  // Forgets all tracking, as if everything written so far had been synced (files and dirs).
  void MarkAllDurable();
  // Paths of tracked files holding data beyond their last Sync(), sorted.
  std::vector<std::string> UnsyncedFiles() const;
  // Durable size of a tracked file; nullopt if untracked (never written through this Env).
  std::optional<uint64_t> SyncedSize(const std::string& path) const;
  // Number of directory-entry changes not yet made durable by SyncDir.
  size_t PendingDirOps() const;

  // ---- Fault rules ----

  // While inactive, every mutating call fails with UNAVAILABLE.
  void SetFilesystemActive(bool active);
  bool IsFilesystemActive() const;
  // The `n`-th (n >= 1; 1 = the very next) call from now whose kind is in `ops` fails with
  // `status` (which must not be OK), once. Replaces an earlier FailNthCall rule.
  void FailNthCall(int n, absl::Status status, OpMask ops = kMutatingOps);
  // After `n` (>= 0) more calls whose kind is in `ops`, every such call fails with `status`
  // until ClearFaults(). Replaces an earlier FailAfterCalls rule.
  void FailAfterCalls(int n, absl::Status status, OpMask ops = kMutatingOps);
  // Disk full: creating files and appending return RESOURCE_EXHAUSTED.
  void SetDiskFull(bool full);
  // Appends may write `bytes` more in total; nullopt = unlimited.
  void SetWriteBudget(std::optional<uint64_t> bytes);
  // Installs (or, with nullptr, removes) the hook.
  void SetHook(Hook hook);
  // Removes all fault rules (FailNthCall, FailAfterCalls, disk full, budget, hook) and makes the
  // file system active. Tracking and counters are kept.
  void ClearFaults();

  // ---- Corruption ----

  // Flips bit `bit` (0..7) of the byte at `byte_offset` of `path` on disk. OUT_OF_RANGE if the
  // file is shorter. Not subject to fault rules and not counted.
  [[nodiscard]] absl::Status FlipBit(const std::string& path, uint64_t byte_offset, int bit);
  // Overwrites bytes of `path` starting at `offset` (must lie within the file) with `data`.
  [[nodiscard]] absl::Status WriteAt(const std::string& path, uint64_t offset,
                                     absl::string_view data);

  // ---- Counters ----
  FaultInjectionCounters counters() const;
  void ResetCounters();

  // ---- Env ----
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) override;
  absl::Status RenameFile(const std::string& from, const std::string& to) override;
  absl::Status DeleteFile(const std::string& path) override;
  absl::Status CreateDirs(const std::string& path) override;
  absl::Status DeleteDir(const std::string& path) override;
  absl::Status SyncDir(const std::string& path) override;
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override;
  absl::StatusOr<uint64_t> FileSize(const std::string& path) override;
  bool FileExists(const std::string& path) override;
  absl::StatusOr<DiskSpace> GetDiskSpace(const std::string& path) override;

 private:
  class File;
  class RandomFile;
  friend class File;
  friend class RandomFile;

  // Size bookkeeping for one file (an inode: it follows renames).
  struct FileState {
    uint64_t size = 0;
    uint64_t synced_size = 0;
  };
  // A directory-entry change not yet durable.
  struct DirOp {
    enum Kind { kCreate, kRename, kDelete } kind;
    std::string path;    // created/deleted path, or rename source
    std::string to;      // rename destination
    std::string dir;     // parent of `path`
    std::string to_dir;  // parent of `to` (renames)
    bool dir_synced = false;
    bool to_dir_synced = false;
    // Rename: durable contents of the file `to` replaced (if any). Delete: durable contents of
    // the deleted file.
    std::optional<std::string> saved;
    std::shared_ptr<FileState> saved_state;  // the state that `saved` belonged to
  };

  // Counts `op`, then runs the hook (without the lock). OK = proceed.
  absl::Status RunHook(OpKind op, const std::string& path) ABSL_LOCKS_EXCLUDED(mu_);
  void CountLocked(OpKind op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The inactive check and the FailNthCall/FailAfterCalls rules. OK = proceed.
  absl::Status ActiveAndRulesLocked(OpKind op, const std::string& path)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // RunHook + ActiveAndRulesLocked.
  absl::Status Check(OpKind op, const std::string& path) ABSL_LOCKS_EXCLUDED(mu_);
  // Reads the first `n` bytes (all if nullopt) of `path` from the base Env.
  absl::StatusOr<std::string> ReadPrefix(const std::string& path, std::optional<uint64_t> n);
  // Replaces `path`'s contents on the base Env with `data` and syncs it.
  absl::Status Rewrite(const std::string& path, absl::string_view data);
  // Durable contents of `path` right now (tracked: synced prefix; untracked: all).
  absl::StatusOr<std::string> DurableContentsLocked(const std::string& path)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status UndoLocked(const DirOp& op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path, bool append,
                                                             OpKind op);

  Env* const base_;
  mutable absl::Mutex mu_;
  Hook hook_ ABSL_GUARDED_BY(mu_);
  bool active_ ABSL_GUARDED_BY(mu_) = true;
  bool disk_full_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<uint64_t> write_budget_ ABSL_GUARDED_BY(mu_);
  // FailNthCall rule: calls left before the failing one (0 = rule off).
  int nth_left_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status nth_status_ ABSL_GUARDED_BY(mu_);
  OpMask nth_ops_ ABSL_GUARDED_BY(mu_) = 0;
  // FailAfterCalls rule.
  bool after_on_ ABSL_GUARDED_BY(mu_) = false;
  int after_left_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status after_status_ ABSL_GUARDED_BY(mu_);
  OpMask after_ops_ ABSL_GUARDED_BY(mu_) = 0;

  // Tracked files by normalised path.
  std::map<std::string, std::shared_ptr<FileState>> files_ ABSL_GUARDED_BY(mu_);
  std::vector<DirOp> dir_ops_ ABSL_GUARDED_BY(mu_);
  // Incremented by each crash; handles from an older generation are dead.
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  FaultInjectionCounters counters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera
