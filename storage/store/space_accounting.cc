#include "storage/store/space_accounting.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "storage/slice/slice_format.h"

namespace tessera::storage {

SpaceAccounting::SpaceAccounting(Env* env, const SliceStoreOptions& options)
    : env_(env),
      capacity_bytes_(options.capacity_bytes),
      reserved_bytes_(options.reserved_bytes),
      dirs_(options.data_dirs.size()) {
  for (size_t i = 0; i < dirs_.size(); ++i) dirs_[i].path = options.data_dirs[i];
}

uint64_t SpaceAccounting::CapacityOf(const DiskSpace& space) const {
  return capacity_bytes_ > 0 ? std::min(capacity_bytes_, space.capacity_bytes)
                             : space.capacity_bytes;
}

uint64_t SpaceAccounting::FreeLocked(size_t i, const DiskSpace& space) const {
  const DataDir& d = dirs_[i];
  auto sub = [](uint64_t a, uint64_t b) { return a > b ? a - b : 0; };
  uint64_t free = sub(sub(space.free_bytes, reserved_bytes_), d.pending_bytes);
  if (capacity_bytes_ > 0) {
    free = std::min(free, sub(CapacityOf(space), d.file_bytes + d.pending_bytes));
  }
  return free;
}

absl::StatusOr<size_t> SpaceAccounting::Reserve(uint64_t bytes) {
  std::vector<DiskSpace> spaces(dirs_.size());
  for (size_t i = 0; i < dirs_.size(); ++i) {
    TESSERA_ASSIGN_OR_RETURN(spaces[i], env_->GetDiskSpace(dirs_[i].path));
  }
  absl::MutexLock lock(&mu_);
  size_t best = 0;
  uint64_t best_free = 0;
  for (size_t i = 0; i < dirs_.size(); ++i) {
    const uint64_t free = FreeLocked(i, spaces[i]);
    if (i == 0 || free > best_free) {
      best = i;
      best_free = free;
    }
  }
  if (best_free < bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("no data directory has ", bytes, " bytes free (most is ", best_free, ")"));
  }
  dirs_[best].pending_bytes += bytes;
  return best;
}

void SpaceAccounting::Unreserve(size_t dir, uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  dirs_[dir].pending_bytes -= bytes;
}

void SpaceAccounting::Add(const IndexEntry& e) {
  absl::MutexLock lock(&mu_);
  if (e.state == EntryState::kLive) {
    live_bytes_ += e.length;
    ++live_count_;
  }
  if (!e.is_inline && e.state != EntryState::kMissing) {
    dirs_[e.dir_index].file_bytes += slice::FileSize(e.length);
  }
}

void SpaceAccounting::Remove(const IndexEntry& e) {
  absl::MutexLock lock(&mu_);
  if (e.state == EntryState::kLive) {
    live_bytes_ -= e.length;
    --live_count_;
  }
  if (!e.is_inline && e.state != EntryState::kMissing) {
    dirs_[e.dir_index].file_bytes -= slice::FileSize(e.length);
  }
}

StoreStats SpaceAccounting::Stats() const {
  std::vector<std::optional<DiskSpace>> spaces(dirs_.size());
  for (size_t i = 0; i < dirs_.size(); ++i) {
    absl::StatusOr<DiskSpace> s = env_->GetDiskSpace(dirs_[i].path);
    if (s.ok()) spaces[i] = *s;
  }
  StoreStats stats;
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < dirs_.size(); ++i) {
    if (!spaces[i].has_value()) continue;  // an unreadable disk contributes nothing
    stats.capacity_bytes += CapacityOf(*spaces[i]);
    stats.free_bytes += FreeLocked(i, *spaces[i]);
  }
  stats.used_bytes = live_bytes_;
  stats.slice_count = live_count_;
  return stats;
}

}  // namespace tessera::storage
