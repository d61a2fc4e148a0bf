// RepairBudget: how fast repair may move bytes, so it never saturates a node, a link or the
// cluster while clients are served (docs/design/repair.md "Budgets").
//
// Three limits, all enforced on every slice transfer a repair makes:
//   - per node, a byte rate: `node_share` of the node's measured bandwidth (the summary it
//     publishes through membership: egress for reads from it, ingress for writes to it), or
//     `default_node_bytes_per_second` while it has published none; a node measured slower
//     (throttled link, busy disk) therefore gets proportionally less repair traffic;
//   - per node, at most `max_transfers_per_node` repair transfers at once;
//   - per repairer, `max_bytes_per_second` over all nodes (the cluster-wide share of repair:
//     with R repairers the cluster sees at most R times it).
// Rates are enforced as token buckets (virtual finish times) with one second of burst.
//
// Thread-safety: thread-safe; Transfer blocks the calling thread (on the clock) until allowed.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "services/object/cluster_view.h"

namespace tessera::services {

struct RepairBudgetOptions {
  // Repair's share of each node's measured bandwidth, in (0, 1]. Default 0.5.
  double node_share = 0.5;
  // Per-node rate while a node has published no measurement. Default 64 MiB/s.
  double default_node_bytes_per_second = 64.0 * (1 << 20);
  // All repair traffic of this repairer. Default 256 MiB/s; 0 = no cluster-wide cap.
  double max_bytes_per_second = 256.0 * (1 << 20);
  // Concurrent repair transfers per node. Default 4.
  int max_transfers_per_node = 4;
  // Clock the rates are measured and waited on. Null = real.
  Clock* clock = nullptr;

  [[nodiscard]] absl::Status Validate() const;
};

enum class TransferDirection { kFromNode, kToNode };

class RepairBudget {
 public:
  explicit RepairBudget(RepairBudgetOptions options);

  // Waits until `node` may move `bytes` in `direction` (a transfer slot and the rates), then
  // holds the slot until the returned object is destroyed.
  class Slot {
   public:
    Slot(Slot&& other) noexcept : budget_(other.budget_), node_(std::move(other.node_)) {
      other.budget_ = nullptr;
    }
    Slot(const Slot&) = delete;
    ~Slot();

   private:
    friend class RepairBudget;
    Slot(RepairBudget* budget, std::string node) : budget_(budget), node_(std::move(node)) {}
    RepairBudget* budget_;
    std::string node_;
  };
  [[nodiscard]] Slot Transfer(const StorageNode& node, TransferDirection direction, uint64_t bytes);

  // The byte rate `node` gets in `direction` (for status and tests).
  double NodeRate(const StorageNode& node, TransferDirection direction) const;
  const RepairBudgetOptions& options() const { return options_; }

 private:
  // Reserves `bytes` on a bucket of `rate` bytes/s; returns how long the caller must wait.
  static absl::Duration Reserve(absl::Time& finish, absl::Time now, double rate, uint64_t bytes);
  void Release(const std::string& node);

  const RepairBudgetOptions options_;
  Clock* const clock_;
  absl::Mutex mu_;
  absl::Time global_finish_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::map<std::pair<std::string, TransferDirection>, absl::Time> node_finish_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> in_flight_ ABSL_GUARDED_BY(mu_);
  absl::CondVar slot_freed_;
};

}  // namespace tessera::services
