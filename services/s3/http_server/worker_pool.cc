#include "services/s3/http_server/worker_pool.h"

#include <exception>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"

namespace tessera::services::s3 {

absl::StatusOr<std::unique_ptr<WorkerPool>> WorkerPool::Start(int threads) {
  if (threads < 1) return absl::InvalidArgumentError("worker pool: threads < 1");
  std::unique_ptr<WorkerPool> pool(new WorkerPool());
  absl::MutexLock join_lock(&pool->join_mu_);
  for (int i = 0; i < threads; ++i) {
    try {
      pool->threads_.emplace_back([p = pool.get()] { p->Work(); });
    } catch (const std::system_error& e) {
      {
        absl::MutexLock lock(&pool->mu_);
        pool->stopping_ = true;
      }
      for (std::thread& t : pool->threads_) t.join();
      pool->threads_.clear();
      return absl::ResourceExhaustedError(absl::StrCat("worker pool: cannot start thread ", i + 1,
                                                       " of ", threads, ": ", e.what()));
    }
  }
  return pool;
}

WorkerPool::~WorkerPool() { Stop(); }

bool WorkerPool::Submit(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  queue_.push_back(std::move(task));
  return true;
}

size_t WorkerPool::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

void WorkerPool::Stop() {
  absl::MutexLock join_lock(&join_mu_);
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void WorkerPool::Work() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &WorkerPool::HasWorkOrStopping));
      if (queue_.empty()) return;  // stopping and nothing left
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      task();
    } catch (const std::exception& e) {
      TESSERA_LOG(ERROR, "worker_task_threw").Field("what", e.what());
    } catch (...) {
      TESSERA_LOG(ERROR, "worker_task_threw").Field("what", "unknown exception");
    }
  }
}

}  // namespace tessera::services::s3
