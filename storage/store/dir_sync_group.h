// DirSyncGroup: group commit for directory syncs (internal to storage/store).
//
// A new file's directory entry must be durable before the index refers to the file, so every
// file-backed Put syncs the file's directory. Concurrent callers that need the same directory
// synced share one Env::SyncDir: a caller's ticket is taken after its directory change, so a
// sync that starts after the ticket was taken covers it; while one sync runs, later callers wait
// and the next leader's sync covers them all.
//
// Thread-safety: thread-safe. Ownership: `env` is not owned and must outlive the group.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "base/env.h"

namespace tessera::storage {

class DirSyncGroup {
 public:
  explicit DirSyncGroup(Env* env) : env_(env) {}
  DirSyncGroup(const DirSyncGroup&) = delete;
  DirSyncGroup& operator=(const DirSyncGroup&) = delete;

  // Returns once a SyncDir(dir) that started after this call began has finished: its result
  // (OK, or the sync's error: a failure is reported even if an earlier sync that also covered
  // this caller succeeded, which is conservative).
  [[nodiscard]] absl::Status Sync(const std::string& dir);

 private:
  struct State {
    absl::Mutex mu;
    absl::CondVar cv;
    // All guarded by mu (not annotated: Sync drops mu around the SyncDir by hand).
    uint64_t requested = 0;  // tickets handed out
    uint64_t done = 0;       // tickets covered by the latest finished sync
    bool busy = false;       // a sync is running
    absl::Status last;       // result of the latest finished sync
  };
  Env* const env_;
  absl::Mutex map_mu_;
  // One State per directory, never removed (a store has a bounded set of shard directories).
  absl::flat_hash_map<std::string, std::unique_ptr<State>> states_ ABSL_GUARDED_BY(map_mu_);
};

}  // namespace tessera::storage
