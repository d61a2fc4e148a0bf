// WorkerPool: a fixed set of threads running submitted tasks in FIFO order. The S3 HTTP server
// runs request handling on it (handlers may block on the data path), so its thread count never
// depends on how many connections are open.
//
// Thread-safety: all methods are thread-safe. A task that throws is logged and dropped; its
// thread keeps serving.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace tessera::services::s3 {

class WorkerPool {
 public:
  // Starts `threads` (>= 1) threads. RESOURCE_EXHAUSTED if one cannot be created (those already
  // started are stopped and joined first); INVALID_ARGUMENT if threads < 1.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<WorkerPool>> Start(int threads);
  // Stop().
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task` to run on some worker; never blocks (the queue is unbounded: callers bound what
  // they submit). False, and `task` is not run, once Stop() has begun.
  bool Submit(std::function<void()> task);
  // Runs the tasks already queued, then joins the threads. Idempotent. Must not be called from
  // a task.
  void Stop();
  // Tasks waiting for a worker.
  size_t queued() const;

 private:
  WorkerPool() = default;
  void Work();
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || !queue_.empty();
  }

  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex join_mu_;  // serialises Stop()
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(join_mu_);
};

}  // namespace tessera::services::s3
