// BackendMetrics: a front end's view of cluster health as Prometheus gauges, refreshed from
// ObjectBackend::Health() on every scrape (tessera-s3 and tessera-gateway both export them).
//
//   tessera_cluster_storage_nodes{state}      gauge, storage nodes: writable, draining, down
//   tessera_cluster_write_width               gauge, writable nodes a full-redundancy write needs
//   tessera_meta_layout_epoch                 gauge, epoch of the followed metadata layout
//   tessera_meta_layout_in_transition         gauge, 1 while a layout hand-off is in progress
//   tessera_meta_partitions{quorum}           gauge, metadata partitions: healthy, at_risk
//                                             (exactly a write quorum alive), unavailable
//
// Thread-safety: thread-safe (gauge stores).
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "base/metrics.h"
#include "services/object/object_backend.h"

namespace tessera::services {

class BackendMetrics {
 public:
  // Registers the families in `registry` (not owned; must outlive this object). ALREADY_EXISTS if
  // the registry holds a different family of the same name.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<BackendMetrics>> Create(Registry* registry);

  void Update(const BackendHealth& health);

 private:
  BackendMetrics() = default;
  Gauge* writable_ = nullptr;
  Gauge* draining_ = nullptr;
  Gauge* down_ = nullptr;
  Gauge* write_width_ = nullptr;
  Gauge* epoch_ = nullptr;
  Gauge* in_transition_ = nullptr;
  Gauge* healthy_ = nullptr;
  Gauge* at_risk_ = nullptr;
  Gauge* unavailable_ = nullptr;
};

}  // namespace tessera::services
