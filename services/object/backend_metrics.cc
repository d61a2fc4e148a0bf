#include "services/object/backend_metrics.h"

namespace tessera::services {

absl::StatusOr<std::unique_ptr<BackendMetrics>> BackendMetrics::Create(Registry* registry) {
  std::unique_ptr<BackendMetrics> m(new BackendMetrics());
  auto nodes = registry->AddGauge("tessera_cluster_storage_nodes",
                                  "Storage nodes in this front end's cluster view, by state "
                                  "(writable, draining, down).",
                                  {"state"});
  if (!nodes.ok()) return nodes.status();
  m->writable_ = &(*nodes)->WithLabels({"writable"});
  m->draining_ = &(*nodes)->WithLabels({"draining"});
  m->down_ = &(*nodes)->WithLabels({"down"});
  auto width =
      registry->AddGauge("tessera_cluster_write_width",
                         "Writable storage nodes a write at full redundancy needs (k + m).", {});
  if (!width.ok()) return width.status();
  m->write_width_ = &(*width)->WithLabels({});
  auto epoch =
      registry->AddGauge("tessera_meta_layout_epoch", "Epoch of the followed metadata layout.", {});
  if (!epoch.ok()) return epoch.status();
  m->epoch_ = &(*epoch)->WithLabels({});
  auto transition = registry->AddGauge("tessera_meta_layout_in_transition",
                                       "1 while a metadata layout hand-off is in progress.", {});
  if (!transition.ok()) return transition.status();
  m->in_transition_ = &(*transition)->WithLabels({});
  auto partitions = registry->AddGauge(
      "tessera_meta_partitions",
      "Metadata partitions by quorum health: healthy, at_risk (exactly a write quorum of a "
      "replica set alive), unavailable (fewer: writes fail).",
      {"quorum"});
  if (!partitions.ok()) return partitions.status();
  m->healthy_ = &(*partitions)->WithLabels({"healthy"});
  m->at_risk_ = &(*partitions)->WithLabels({"at_risk"});
  m->unavailable_ = &(*partitions)->WithLabels({"unavailable"});
  return m;
}

void BackendMetrics::Update(const BackendHealth& h) {
  writable_->Set(h.nodes_writable);
  draining_->Set(h.nodes_draining);
  down_->Set(h.nodes_down);
  write_width_->Set(h.write_width);
  epoch_->Set(static_cast<double>(h.layout_epoch));
  in_transition_->Set(h.layout_in_transition ? 1 : 0);
  healthy_->Set(h.partitions_healthy);
  at_risk_->Set(h.partitions_at_risk);
  unavailable_->Set(h.partitions_unavailable);
}

}  // namespace tessera::services
