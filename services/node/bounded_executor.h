// BoundedExecutor: a fixed pool of worker threads with a bounded queue, for the blocking disk
// work (SliceStore calls) that gRPC reactor threads must not do themselves.
//
// TrySubmit refuses work when the queue is full, so a flood of requests turns into fast
// RESOURCE_EXHAUSTED answers instead of unbounded memory. Shutdown() runs every task already
// queued, then joins the workers; tasks submitted afterwards are refused.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace tessera::services {

class BoundedExecutor {
 public:
  // `threads` >= 1 workers; at most `max_queue` tasks wait (not counting running ones).
  BoundedExecutor(size_t threads, size_t max_queue);
  ~BoundedExecutor();  // Shutdown()
  BoundedExecutor(const BoundedExecutor&) = delete;
  BoundedExecutor& operator=(const BoundedExecutor&) = delete;

  // Queues `task`; false (and `task` is dropped unrun) when the queue is full or shut down.
  [[nodiscard]] bool TrySubmit(std::function<void()> task);

  // Drains the queue and joins the workers. Idempotent.
  void Shutdown();

 private:
  void WorkerLoop();

  const size_t max_queue_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex join_mu_;                                         // serialises Shutdown()'s joins
  std::vector<std::thread> workers_ ABSL_GUARDED_BY(join_mu_);  // set by the constructor
};

}  // namespace tessera::services
