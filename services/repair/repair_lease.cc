#include "services/repair/repair_lease.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "api/manifest.pb.h"
#include "base/logging.h"
#include "services/meta/meta_key.h"

namespace tessera::services {
namespace {

constexpr uint32_t kLeaseFormat = 1;

// Refuses the compare-and-set: someone else holds the lease (no write is made).
absl::Status HeldByOther(const std::string& holder) {
  return absl::AlreadyExistsError(absl::StrCat("repair lease held by ", holder));
}

}  // namespace

absl::Status RepairLeaseOptions::Validate() const {
  if (holder.empty()) return absl::InvalidArgumentError("RepairLeaseOptions.holder is required");
  if (duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("RepairLeaseOptions.duration must be > 0");
  }
  return absl::OkStatus();
}

RepairLeases::RepairLeases(MetaClient* meta, RepairLeaseOptions options)
    : meta_(meta),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : Clock::Real()) {}

absl::StatusOr<bool> RepairLeases::Acquire(const std::string& bucket) {
  const absl::Time now = clock_->Now();
  absl::StatusOr<MetaValue> written = meta_->CompareAndSet(
      ObjectEntryKey(kRepairLeaseField, 0, bucket, "", meta_->partitions()),
      [&](const MetaValue& current) -> absl::StatusOr<MetaValue> {
        v1::RepairLease lease;
        if (current.has_value() && !lease.ParseFromString(*current)) {
          return absl::DataLossError("unreadable repair lease");
        }
        if (lease.format_version() > kLeaseFormat) {
          return absl::FailedPreconditionError(
              absl::StrCat("repair lease format ", lease.format_version(), " is newer than ",
                           kLeaseFormat, ": upgrade this node"));
        }
        const bool mine = lease.holder() == options_.holder;
        if (current.has_value() && !mine && lease.expires_unix_micros() > absl::ToUnixMicros(now)) {
          return HeldByOther(lease.holder());
        }
        v1::RepairLease next;
        next.set_format_version(kLeaseFormat);
        next.set_holder(options_.holder);
        next.set_expires_unix_micros(absl::ToUnixMicros(now + options_.duration));
        next.set_term(mine ? lease.term() : lease.term() + 1);
        return MetaValue(next.SerializeAsString());
      });
  absl::MutexLock lock(&mu_);
  if (!written.ok()) {
    renewed_.erase(bucket);
    if (written.status().code() == absl::StatusCode::kAlreadyExists) return false;
    return written.status();
  }
  renewed_[bucket] = now;
  return true;
}

bool RepairLeases::Holds(const std::string& bucket) const {
  absl::MutexLock lock(&mu_);
  auto it = renewed_.find(bucket);
  return it != renewed_.end() && clock_->Now() - it->second < options_.duration / 2;
}

int RepairLeases::RenewAll() {
  int held = 0;
  for (const std::string& bucket : Held()) {
    absl::StatusOr<bool> renewed = Acquire(bucket);
    if (renewed.ok() && *renewed) {
      ++held;
    } else if (!renewed.ok()) {
      TESSERA_LOG(WARNING, "repair_lease_renew_failed")
          .Field("bucket", bucket)
          .Field("status", renewed.status());
    }
  }
  return held;
}

std::vector<std::string> RepairLeases::Held() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [bucket, at] : renewed_) out.push_back(bucket);
  return out;
}

void RepairLeases::Release(const std::string& bucket) {
  {
    absl::MutexLock lock(&mu_);
    if (renewed_.erase(bucket) == 0) return;
  }
  absl::StatusOr<MetaValue> released =
      meta_->CompareAndSet(ObjectEntryKey(kRepairLeaseField, 0, bucket, "", meta_->partitions()),
                           [&](const MetaValue& current) -> absl::StatusOr<MetaValue> {
                             v1::RepairLease lease;
                             if (!current.has_value() || !lease.ParseFromString(*current) ||
                                 lease.holder() != options_.holder) {
                               return HeldByOther(lease.holder());
                             }
                             lease.set_expires_unix_micros(0);
                             return MetaValue(lease.SerializeAsString());
                           });
  (void)released;  // best effort
}

void RepairLeases::ReleaseAll() {
  for (const std::string& bucket : Held()) Release(bucket);
}

}  // namespace tessera::services
