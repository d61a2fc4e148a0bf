// RepairMetrics: what repair exports (tessera-node's /metrics; docs/design/repair.md).
//
//   tessera_repair_passes_total                      counter, repair passes completed
//   tessera_repair_degraded_stripes{redundancy}      gauge, stripes needing repair at the last
//                                                    scan, by spare slices left ("0", "1", ...,
//                                                    "unreadable" below k healthy)
//   tessera_repair_queue_stripes                     gauge, stripes waiting in this pass
//   tessera_repair_queue_bytes                       gauge, bytes those stripes will move
//   tessera_repair_stripes_repaired_total            counter
//   tessera_repair_stripe_failures_total{reason}     counter: data_loss, conflict, no_target,
//                                                    unavailable, other
//   tessera_repair_slices_rebuilt_total              counter, slices stored by repair
//   tessera_repair_slices_released_total             counter, copies deleted from draining
//                                                    nodes once their move was recorded
//   tessera_repair_read_bytes_total                  counter, bytes read from sources
//   tessera_repair_written_bytes_total               counter, bytes written to targets
//   tessera_repair_damaged_slices                    gauge, slices nodes reported damaged
//   tessera_repair_last_pass_seconds                 gauge, duration of the last pass
//   tessera_repair_bytes_per_second                  gauge, repair transfer rate (read + written)
//                                                    of the current or last pass
//   tessera_repair_time_to_redundancy_seconds        gauge, estimated time until the queue is
//                                                    empty at the current repair rate (0: empty,
//                                                    -1: no rate measured yet)
//   tessera_repair_buckets_leased                    gauge, buckets this node repairs now
//
// Status() gives the same figures as a v1::RepairStatus, for NodeInfo and `tessera cluster status`.
//
// Thread-safety: thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "api/node.pb.h"
#include "base/metrics.h"

namespace tessera::services {

class RepairMetrics {
 public:
  // Registers the families in `registry` (not owned; must outlive this object).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<RepairMetrics>> Create(Registry* registry);

  Counter* passes = nullptr;
  GaugeFamily* degraded = nullptr;
  Gauge* queue_stripes = nullptr;
  Gauge* queue_bytes = nullptr;
  Counter* repaired = nullptr;
  CounterFamily* failures = nullptr;
  Counter* slices_rebuilt = nullptr;
  Counter* slices_released = nullptr;
  Counter* read_bytes = nullptr;
  Counter* written_bytes = nullptr;
  Gauge* damaged_slices = nullptr;
  Gauge* last_pass_seconds = nullptr;
  Gauge* bytes_per_second = nullptr;
  Gauge* time_to_redundancy = nullptr;
  Gauge* buckets_leased = nullptr;

  // Sets the degraded gauges to `by_label` (labels absent from it go to 0).
  void SetDegraded(const std::map<std::string, double>& by_label);

  // The current values, as NodeInfo reports them.
  v1::RepairStatus Status() const;

 private:
  RepairMetrics() = default;
  mutable absl::Mutex mu_;
  std::map<std::string, Gauge*> degraded_seen_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::services
