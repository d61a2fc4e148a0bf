// NodeMetrics: the storage node's Prometheus metrics (see docs/design/node.md for the list).
//
//   tessera_node_rpcs_total{method,code}               counter
//   tessera_node_rpc_duration_seconds{method,code}     histogram
//   tessera_node_rpc_received_bytes_total{method}      counter (slice payload bytes)
//   tessera_node_rpc_sent_bytes_total{method}          counter (slice payload bytes)
//   tessera_node_store_capacity_bytes / _free_bytes / _used_bytes / tessera_node_store_slices
//                                                      gauges, refreshed by UpdateStore()
//   tessera_node_put_buffered_bytes                    gauge, bytes held by open PutSlice streams
//   tessera_node_auth_failures_total{method,reason}    counter, calls refused for their token
//   tessera_node_meta_compaction_passes_total{result}  counter, compaction passes (ok, error)
//   tessera_node_meta_compaction_purged_total          counter, tombstones purged
//   tessera_node_meta_compaction_unconfirmed_total     counter, candidates left for a later pass
//   tessera_node_meta_records                          gauge, acceptor records after the last pass
//   tessera_scrub_passes_total                         counter, completed scrub passes
//   tessera_scrub_checked_slices_total / _checked_bytes_total
//                                                      counters, slices (bytes) verified
//   tessera_scrub_corrupt_slices_total                 counter, slices that failed verification
//   tessera_scrub_errors_total                         counter, other scrub failures (I/O, listing)
//   tessera_scrub_pass_checked_slices                  gauge, slices verified in the pass in
//                                                      progress (progress: /
//                                                      tessera_node_store_slices)
//   tessera_membership_members{liveness,state}         gauge, this node's membership view:
//                                                      liveness alive/suspect/dead x state
//                                                      alive/draining/left
//
// Thread-safety: thread-safe.
#pragma once

#include <cstdint>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/metrics.h"
#include "p2p/membership/membership_view.h"
#include "services/node/slice_service.h"
#include "storage/store/scrubber.h"
#include "storage/store/slice_store.h"

namespace tessera::services {

class NodeMetrics final : public RpcObserver {
 public:
  // Registers the families in `registry` (not owned; must outlive this object).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<NodeMetrics>> Create(Registry* registry);

  void OnRpcDone(absl::string_view method, absl::StatusCode code, absl::Duration latency,
                 uint64_t bytes_in, uint64_t bytes_out) override;
  void OnAuthFailure(absl::string_view method, absl::string_view reason) override;
  void UpdateStore(const storage::StoreStats& stats, uint64_t put_buffered_bytes);
  // After a metadata compaction pass; `records` < 0: not known.
  void OnMetaCompactionPass(bool ok, uint64_t purged, uint64_t unconfirmed, int64_t records);
  // From the scrubber's cumulative stats (counters advance by the difference since the last call).
  void UpdateScrub(const storage::ScrubberStats& stats);
  // Counts the members of `view` by liveness and state (null: membership not started, all 0).
  void UpdateMembership(const p2p::MembershipView* view);

 private:
  NodeMetrics() = default;
  CounterFamily* rpcs_ = nullptr;
  HistogramFamily* latency_ = nullptr;
  CounterFamily* received_ = nullptr;
  CounterFamily* sent_ = nullptr;
  CounterFamily* auth_failures_ = nullptr;
  Gauge* capacity_ = nullptr;
  Gauge* free_ = nullptr;
  Gauge* used_ = nullptr;
  Gauge* slices_ = nullptr;
  Gauge* buffered_ = nullptr;
  CounterFamily* compaction_passes_ = nullptr;
  Counter* compaction_purged_ = nullptr;
  Counter* compaction_unconfirmed_ = nullptr;
  Gauge* meta_records_ = nullptr;
  Counter* scrub_passes_ = nullptr;
  Counter* scrub_slices_ = nullptr;
  Counter* scrub_bytes_ = nullptr;
  Counter* scrub_corrupt_ = nullptr;
  Counter* scrub_errors_ = nullptr;
  Gauge* scrub_pass_slices_ = nullptr;
  GaugeFamily* members_ = nullptr;
  absl::Mutex scrub_mu_;
  storage::ScrubberStats last_scrub_ ABSL_GUARDED_BY(scrub_mu_);
};

}  // namespace tessera::services
