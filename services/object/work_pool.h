// WorkPool: a fixed set of threads running submitted closures in FIFO order, for the blocking
// slice RPCs of the data path. The queue is unbounded: callers bound the work they submit
// (ObjectWriter keeps at most a few stripes in flight, ObjectReader one or two).
//
// Tasks must not wait on other tasks of the same pool (that could deadlock a small pool).
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace tessera::services {

class WorkPool {
 public:
  explicit WorkPool(size_t threads);
  ~WorkPool();  // runs every queued task, then joins
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  void Submit(std::function<void()> task);

 private:
  void Loop();
  bool Ready() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); }

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

// Counts outstanding tasks; Wait() blocks until all are done.
class TaskGroup {
 public:
  void Add(int n = 1);
  void Done();
  void Wait();

 private:
  absl::Mutex mu_;
  int pending_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tessera::services
