// SyncPoint: named points in production code where a test can run a callback, in the manner of
// RocksDB's SyncPoint (reduced to callbacks). Production code marks a point with
//
//   TESSERA_SYNC_POINT("ReplicatedManifestStore::SplitStepDone", &arg);
//
// and a test installs what happens there (stop a protocol as if the process crashed, inject an
// error, wait for another thread) without test fields in production options:
//
//   ScopedSyncPoint hook("ReplicatedManifestStore::SplitStepDone", [&](void* arg) { ... });
//
// `arg` is whatever the point passes (documented next to the point, usually a struct the
// callback may read and write); the callback casts it back.
//
// Cost: with no callback installed anywhere in the process, a point is one relaxed atomic load
// and a predicted branch; the name is not even looked up. Points are always compiled in, so tests
// run the same binary code as production.
//
// Thread-safety: thread-safe. Callbacks may be installed and cleared while points run on other
// threads; a callback runs on the thread that reached the point, outside every SyncPoint lock (it
// may block, install or clear callbacks, or reach other points). A callback cleared while it runs
// finishes that run.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace tessera {

class SyncPoint {
 public:
  using Callback = std::function<void(void* arg)>;

  // The process-wide registry (never destroyed).
  static SyncPoint& Get();

  // True while at least one callback is installed (the fast path of TESSERA_SYNC_POINT).
  static bool AnyInstalled() { return installed_.load(std::memory_order_relaxed) > 0; }

  // Installs `callback` at point `name`, replacing any callback there.
  void SetCallback(absl::string_view name, Callback callback);
  // Removes the callback at `name`, if any.
  void ClearCallback(absl::string_view name);
  // Removes every callback.
  void ClearAll();
  // Runs the callback at `name` with `arg`, if one is installed.
  void Process(absl::string_view name, void* arg);

 private:
  SyncPoint() = default;

  static std::atomic<int> installed_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<const Callback>> callbacks_ ABSL_GUARDED_BY(mu_);
};

// Installs a callback for the lifetime of the object (tests).
class ScopedSyncPoint {
 public:
  ScopedSyncPoint(absl::string_view name, SyncPoint::Callback callback) : name_(name) {
    SyncPoint::Get().SetCallback(name_, std::move(callback));
  }
  ~ScopedSyncPoint() { SyncPoint::Get().ClearCallback(name_); }
  ScopedSyncPoint(const ScopedSyncPoint&) = delete;
  ScopedSyncPoint& operator=(const ScopedSyncPoint&) = delete;

 private:
  const std::string name_;
};

}  // namespace tessera

// Marks sync point `name` (a string literal, "Class::Point") passing `arg` (a pointer, or nullptr).
#define TESSERA_SYNC_POINT(name, arg)                                       \
  do {                                                                      \
    if (::tessera::SyncPoint::AnyInstalled()) {                             \
      ::tessera::SyncPoint::Get().Process((name), static_cast<void*>(arg)); \
    }                                                                       \
  } while (false)
