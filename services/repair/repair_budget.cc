#include "services/repair/repair_budget.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tessera::services {
namespace {

// Rates are token buckets with this much burst.
constexpr absl::Duration kBurst = absl::Seconds(1);

}  // namespace

absl::Status RepairBudgetOptions::Validate() const {
  if (!(node_share > 0 && node_share <= 1)) {
    return absl::InvalidArgumentError("RepairBudgetOptions.node_share must be in (0, 1]");
  }
  if (!(default_node_bytes_per_second > 0)) {
    return absl::InvalidArgumentError(
        "RepairBudgetOptions.default_node_bytes_per_second must be > 0");
  }
  if (max_bytes_per_second < 0) {
    return absl::InvalidArgumentError("RepairBudgetOptions.max_bytes_per_second must be >= 0");
  }
  if (max_transfers_per_node < 1) {
    return absl::InvalidArgumentError("RepairBudgetOptions.max_transfers_per_node must be >= 1");
  }
  return absl::OkStatus();
}

RepairBudget::RepairBudget(RepairBudgetOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : Clock::Real()) {}

RepairBudget::Slot::~Slot() {
  if (budget_ != nullptr) budget_->Release(node_);
}

double RepairBudget::NodeRate(const StorageNode& node, TransferDirection direction) const {
  const uint64_t measured = direction == TransferDirection::kFromNode
                                ? node.egress_bytes_per_second
                                : node.ingress_bytes_per_second;
  if (measured == 0) return options_.default_node_bytes_per_second;
  return options_.node_share * static_cast<double>(measured);
}

absl::Duration RepairBudget::Reserve(absl::Time& finish, absl::Time now, double rate,
                                     uint64_t bytes) {
  // Virtual finish time: the bucket is "busy" until `finish`; up to kBurst of backlog runs at
  // once, anything beyond waits.
  finish = std::max(finish, now) + absl::Seconds(static_cast<double>(bytes) / rate);
  return std::max(absl::ZeroDuration(), finish - now - kBurst);
}

RepairBudget::Slot RepairBudget::Transfer(const StorageNode& node, TransferDirection direction,
                                          uint64_t bytes) {
  absl::Duration wait;
  {
    absl::MutexLock lock(&mu_);
    while (in_flight_[node.id] >= options_.max_transfers_per_node) slot_freed_.Wait(&mu_);
    ++in_flight_[node.id];
    const absl::Time now = clock_->Now();
    wait = Reserve(node_finish_[{node.id, direction}], now, NodeRate(node, direction), bytes);
    if (options_.max_bytes_per_second > 0) {
      wait = std::max(wait, Reserve(global_finish_, now, options_.max_bytes_per_second, bytes));
    }
  }
  if (wait > absl::ZeroDuration()) clock_->SleepFor(wait);
  return Slot(this, node.id);
}

void RepairBudget::Release(const std::string& node) {
  absl::MutexLock lock(&mu_);
  if (--in_flight_[node] <= 0) in_flight_.erase(node);
  slot_freed_.SignalAll();
}

}  // namespace tessera::services
