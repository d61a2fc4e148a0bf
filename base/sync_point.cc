#include "base/sync_point.h"

#include <utility>

namespace tessera {

std::atomic<int> SyncPoint::installed_{0};

SyncPoint& SyncPoint::Get() {
  static SyncPoint* const instance = new SyncPoint();  // never destroyed: points may run at exit
  return *instance;
}

void SyncPoint::SetCallback(absl::string_view name, Callback callback) {
  auto shared = std::make_shared<const Callback>(std::move(callback));
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = callbacks_.insert_or_assign(std::string(name), std::move(shared));
  (void)it;
  if (inserted) installed_.fetch_add(1, std::memory_order_relaxed);
}

void SyncPoint::ClearCallback(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  if (callbacks_.erase(name) > 0) installed_.fetch_sub(1, std::memory_order_relaxed);
}

void SyncPoint::ClearAll() {
  absl::MutexLock lock(&mu_);
  installed_.fetch_sub(static_cast<int>(callbacks_.size()), std::memory_order_relaxed);
  callbacks_.clear();
}

void SyncPoint::Process(absl::string_view name, void* arg) {
  std::shared_ptr<const Callback> callback;
  {
    absl::MutexLock lock(&mu_);
    auto it = callbacks_.find(name);
    if (it == callbacks_.end()) return;
    callback = it->second;  // kept alive through the call even if cleared meanwhile
  }
  (*callback)(arg);
}

}  // namespace tessera
