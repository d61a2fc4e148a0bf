#include "storage/store/dir_sync_group.h"

namespace tessera::storage {

absl::Status DirSyncGroup::Sync(const std::string& dir) {
  State* st;
  {
    absl::MutexLock lock(&map_mu_);
    std::unique_ptr<State>& slot = states_[dir];
    if (slot == nullptr) slot = std::make_unique<State>();
    st = slot.get();
  }
  absl::MutexLock lock(&st->mu);
  const uint64_t ticket = ++st->requested;
  while (st->done < ticket) {
    if (st->busy) {
      st->cv.Wait(&st->mu);
      continue;
    }
    st->busy = true;
    const uint64_t target = st->requested;
    st->mu.Unlock();
    absl::Status s = env_->SyncDir(dir);
    st->mu.Lock();
    st->busy = false;
    st->done = target;
    st->last = s;
    st->cv.SignalAll();
  }
  // The latest finished sync started after our ticket: its result is ours.
  return st->last;
}

}  // namespace tessera::storage
