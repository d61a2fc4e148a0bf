#include "services/repair/repair_metrics.h"

#include "base/status_macros.h"

namespace tessera::services {
namespace {

absl::StatusOr<Counter*> AddCounter(Registry* r, const std::string& name, const std::string& help) {
  auto family = r->AddCounter(name, help);
  if (!family.ok()) return family.status();
  return &(*family)->WithLabels({});
}

absl::StatusOr<Gauge*> AddGauge(Registry* r, const std::string& name, const std::string& help) {
  auto family = r->AddGauge(name, help);
  if (!family.ok()) return family.status();
  return &(*family)->WithLabels({});
}

}  // namespace

absl::StatusOr<std::unique_ptr<RepairMetrics>> RepairMetrics::Create(Registry* registry) {
  std::unique_ptr<RepairMetrics> m(new RepairMetrics());
  TESSERA_ASSIGN_OR_RETURN(
      m->passes, AddCounter(registry, "tessera_repair_passes_total", "Repair passes run."));
  TESSERA_ASSIGN_OR_RETURN(
      m->degraded,
      registry->AddGauge("tessera_repair_degraded_stripes",
                         "Stripes needing repair at the last scan, by spare slices left "
                         "(healthy - k; 'unreadable' below k).",
                         {"redundancy"}));
  TESSERA_ASSIGN_OR_RETURN(m->queue_stripes, AddGauge(registry, "tessera_repair_queue_stripes",
                                                      "Stripes waiting for repair in this pass."));
  TESSERA_ASSIGN_OR_RETURN(m->queue_bytes,
                           AddGauge(registry, "tessera_repair_queue_bytes",
                                    "Bytes the waiting stripes' repairs will move."));
  TESSERA_ASSIGN_OR_RETURN(m->repaired,
                           AddCounter(registry, "tessera_repair_stripes_repaired_total",
                                      "Stripes repaired (new slices recorded)."));
  TESSERA_ASSIGN_OR_RETURN(m->failures,
                           registry->AddCounter("tessera_repair_stripe_failures_total",
                                                "Stripe repairs that did not complete, by "
                                                "reason.",
                                                {"reason"}));
  TESSERA_ASSIGN_OR_RETURN(m->slices_rebuilt,
                           AddCounter(registry, "tessera_repair_slices_rebuilt_total",
                                      "Slices rebuilt and stored by repair."));
  TESSERA_ASSIGN_OR_RETURN(m->slices_released,
                           AddCounter(registry, "tessera_repair_slices_released_total",
                                      "Copies deleted from draining nodes after their move."));
  TESSERA_ASSIGN_OR_RETURN(m->read_bytes, AddCounter(registry, "tessera_repair_read_bytes_total",
                                                     "Bytes repair read from source slices."));
  TESSERA_ASSIGN_OR_RETURN(m->written_bytes,
                           AddCounter(registry, "tessera_repair_written_bytes_total",
                                      "Bytes repair wrote to new slices."));
  TESSERA_ASSIGN_OR_RETURN(m->damaged_slices,
                           AddGauge(registry, "tessera_repair_damaged_slices",
                                    "Slices the nodes reported damaged (corrupt or missing) at the "
                                    "last pass."));
  TESSERA_ASSIGN_OR_RETURN(
      m->last_pass_seconds,
      AddGauge(registry, "tessera_repair_last_pass_seconds", "Duration of the last repair pass."));
  TESSERA_ASSIGN_OR_RETURN(m->bytes_per_second,
                           AddGauge(registry, "tessera_repair_bytes_per_second",
                                    "Repair transfer rate (bytes read plus written per second) of "
                                    "the current or last pass."));
  TESSERA_ASSIGN_OR_RETURN(m->time_to_redundancy,
                           AddGauge(registry, "tessera_repair_time_to_redundancy_seconds",
                                    "Estimated time until every queued stripe is repaired, at the "
                                    "current repair rate (0 when nothing waits)."));
  TESSERA_ASSIGN_OR_RETURN(m->buckets_leased,
                           AddGauge(registry, "tessera_repair_buckets_leased",
                                    "Buckets whose repair lease this node holds."));
  for (const char* reason : {"data_loss", "conflict", "no_target", "unavailable", "other"}) {
    m->failures->WithLabels({reason});
  }
  m->SetDegraded({});
  return m;
}

void RepairMetrics::SetDegraded(const std::map<std::string, double>& by_label) {
  absl::MutexLock lock(&mu_);
  for (const char* label : {"0", "1", "unreadable"}) degraded_seen_.emplace(label, nullptr);
  for (const auto& [label, value] : by_label) degraded_seen_.emplace(label, nullptr);
  for (auto& [label, gauge] : degraded_seen_) {
    if (gauge == nullptr) gauge = &degraded->WithLabels({label});
    auto it = by_label.find(label);
    gauge->Set(it == by_label.end() ? 0 : it->second);
  }
}

v1::RepairStatus RepairMetrics::Status() const {
  auto count = [](const auto* metric) {
    const double v = metric->Value();
    return v > 0 ? static_cast<uint64_t>(v) : uint64_t{0};
  };
  v1::RepairStatus out;
  out.set_passes(count(passes));
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [label, gauge] : degraded_seen_) {
      if (gauge != nullptr && gauge->Value() > 0) {
        (*out.mutable_degraded_stripes())[label] = count(gauge);
      }
    }
  }
  out.set_queue_stripes(count(queue_stripes));
  out.set_queue_bytes(count(queue_bytes));
  out.set_stripes_repaired(count(repaired));
  out.set_bytes_read(count(read_bytes));
  out.set_bytes_written(count(written_bytes));
  out.set_bytes_per_second(bytes_per_second->Value());
  out.set_time_to_redundancy_seconds(time_to_redundancy->Value());
  out.set_last_pass_seconds(last_pass_seconds->Value());
  out.set_buckets_leased(static_cast<uint32_t>(count(buckets_leased)));
  out.set_damaged_slices(count(damaged_slices));
  return out;
}

}  // namespace tessera::services
