// An in-memory SliceStore for unit tests of the service logic only (process-level and gRPC tests
// use the real store). Follows the SliceStore contract for the calls the service makes.
#pragma once

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "storage/slice/crc32c.h"
#include "storage/store/slice_store.h"

namespace tessera::services::testing {

class FakeSliceStore : public storage::SliceStore {
 public:
  explicit FakeSliceStore(uint64_t max_slice_bytes = 16 << 20) : max_(max_slice_bytes) {}

  absl::Status Put(const storage::SliceId& id, absl::string_view data,
                   std::optional<uint32_t> crc) override {
    if (!id.Valid() || data.size() > max_) return absl::InvalidArgumentError("bad put");
    if (crc.has_value() && storage::crc32c::Value(data) != *crc) {
      return absl::DataLossError("crc mismatch");
    }
    absl::MutexLock lock(&mu_);
    if (full_) return absl::ResourceExhaustedError("disk full");
    auto it = slices_.find(Key(id));
    if (it != slices_.end()) {
      return it->second.data == data ? absl::OkStatus() : absl::AlreadyExistsError("differs");
    }
    ++puts_;
    slices_[Key(id)] = Entry{id, std::string(data), storage::crc32c::Value(data), absl::Now(),
                             storage::SliceState::kLive};
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> Get(const storage::SliceId& id, storage::ByteRange r) override {
    absl::MutexLock lock(&mu_);
    auto it = slices_.find(Key(id));
    if (it == slices_.end()) return absl::NotFoundError("no slice");
    if (corrupt_) return absl::DataLossError("checksum");
    const std::string& d = it->second.data;
    if (r.offset > d.size()) return absl::OutOfRangeError("past end");
    return d.substr(r.offset, r.length == 0 ? std::string::npos : r.length);
  }
  absl::StatusOr<storage::SliceInfo> Stat(const storage::SliceId& id) override {
    absl::MutexLock lock(&mu_);
    auto it = slices_.find(Key(id));
    if (it == slices_.end()) return absl::NotFoundError("no slice");
    return Info(it->second);
  }
  absl::Status Delete(const storage::SliceId& id) override {
    absl::MutexLock lock(&mu_);
    return slices_.erase(Key(id)) == 1 ? absl::OkStatus() : absl::NotFoundError("no slice");
  }
  absl::Status DeleteIfCreatedAt(const storage::SliceId& id, absl::Time created) override {
    absl::MutexLock lock(&mu_);
    auto it = slices_.find(Key(id));
    if (it == slices_.end()) return absl::NotFoundError("no slice");
    if (it->second.created != created) return absl::FailedPreconditionError("rewritten since");
    slices_.erase(it);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<storage::SliceInfo>> List(
      const std::optional<storage::SliceId>& start_after, size_t limit) override {
    absl::MutexLock lock(&mu_);
    std::vector<storage::SliceInfo> out;
    auto it = start_after ? slices_.upper_bound(Key(*start_after)) : slices_.begin();
    for (; it != slices_.end() && out.size() < limit; ++it) out.push_back(Info(it->second));
    return out;
  }
  storage::StoreStats Stats() override {
    absl::MutexLock lock(&mu_);
    storage::StoreStats s;
    s.capacity_bytes = 1 << 30;
    for (const auto& [k, e] : slices_) s.used_bytes += e.data.size();
    s.slice_count = slices_.size();
    s.free_bytes = s.capacity_bytes - s.used_bytes;
    return s;
  }
  const storage::RecoveryReport& recovery_report() const override { return report_; }
  absl::Status Verify(const storage::SliceId& id) override { return Stat(id).status(); }

  void set_full(bool full) {
    absl::MutexLock lock(&mu_);
    full_ = full;
  }
  void set_corrupt(bool corrupt) {
    absl::MutexLock lock(&mu_);
    corrupt_ = corrupt;
  }
  int puts() {
    absl::MutexLock lock(&mu_);
    return puts_;
  }
  // Flags one slice as a read or the scrubber would (List reports the state).
  void set_state(const storage::SliceId& id, storage::SliceState state) {
    absl::MutexLock lock(&mu_);
    auto it = slices_.find(Key(id));
    if (it != slices_.end()) it->second.state = state;
  }

 private:
  using K = std::tuple<std::string, uint32_t, uint32_t, uint32_t>;
  struct Entry {
    storage::SliceId id;
    std::string data;
    uint32_t crc;
    absl::Time created;
    storage::SliceState state;
  };
  static K Key(const storage::SliceId& id) { return {id.version_id, id.part, id.stripe, id.index}; }
  static storage::SliceInfo Info(const Entry& e) {
    storage::SliceInfo i;
    i.id = e.id;
    i.length = e.data.size();
    i.crc32c = e.crc;
    i.created = e.created;
    i.state = e.state;
    return i;
  }

  const uint64_t max_;
  absl::Mutex mu_;
  std::map<K, Entry> slices_ ABSL_GUARDED_BY(mu_);
  bool full_ ABSL_GUARDED_BY(mu_) = false;
  bool corrupt_ ABSL_GUARDED_BY(mu_) = false;
  int puts_ ABSL_GUARDED_BY(mu_) = 0;
  storage::RecoveryReport report_;
};

}  // namespace tessera::services::testing
