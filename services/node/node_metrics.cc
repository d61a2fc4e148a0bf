#include "services/node/node_metrics.h"

#include <string>

namespace tessera::services {

absl::StatusOr<std::unique_ptr<NodeMetrics>> NodeMetrics::Create(Registry* registry) {
  std::unique_ptr<NodeMetrics> m(new NodeMetrics());
  auto rpcs = registry->AddCounter("tessera_node_rpcs_total",
                                   "SliceService RPCs finished, by method and status code.",
                                   {"method", "code"});
  if (!rpcs.ok()) return rpcs.status();
  m->rpcs_ = *rpcs;
  // 100 us .. ~26 s: from an inline stat to a 16 MiB synced put on a slow disk.
  auto latency = registry->AddHistogram(
      "tessera_node_rpc_duration_seconds",
      "SliceService RPC latency from arrival to completion, by method and status code.",
      {"method", "code"}, ExponentialBuckets(0.0001, 2.0, 19));
  if (!latency.ok()) return latency.status();
  m->latency_ = *latency;
  auto received = registry->AddCounter("tessera_node_rpc_received_bytes_total",
                                       "Slice payload bytes received, by method.", {"method"});
  if (!received.ok()) return received.status();
  m->received_ = *received;
  auto sent = registry->AddCounter("tessera_node_rpc_sent_bytes_total",
                                   "Slice payload bytes sent, by method.", {"method"});
  if (!sent.ok()) return sent.status();
  m->sent_ = *sent;
  auto auth_failures = registry->AddCounter(
      "tessera_node_auth_failures_total",
      "Calls refused with UNAUTHENTICATED, by method and reason (missing, malformed, bad_mac, "
      "expired).",
      {"method", "reason"});
  if (!auth_failures.ok()) return auth_failures.status();
  m->auth_failures_ = *auth_failures;
  auto passes =
      registry->AddCounter("tessera_node_meta_compaction_passes_total",
                           "Metadata compaction passes, by result (ok, error).", {"result"});
  if (!passes.ok()) return passes.status();
  m->compaction_passes_ = *passes;
  auto purged = registry->AddCounter("tessera_node_meta_compaction_purged_total",
                                     "Metadata tombstones purged by compaction.");
  if (!purged.ok()) return purged.status();
  m->compaction_purged_ = &(*purged)->WithLabels({});
  auto unconfirmed =
      registry->AddCounter("tessera_node_meta_compaction_unconfirmed_total",
                           "Metadata tombstones left for a later pass: a replica did not confirm.");
  if (!unconfirmed.ok()) return unconfirmed.status();
  m->compaction_unconfirmed_ = &(*unconfirmed)->WithLabels({});
  struct {
    const char* name;
    const char* help;
    Gauge** out;
  } gauges[] = {
      {"tessera_node_store_capacity_bytes", "Capacity of the slice store in bytes.", &m->capacity_},
      {"tessera_node_store_free_bytes", "Bytes the slice store can still use.", &m->free_},
      {"tessera_node_store_used_bytes", "Bytes of live slices.", &m->used_},
      {"tessera_node_store_slices", "Number of live slices.", &m->slices_},
      {"tessera_node_put_buffered_bytes", "Bytes buffered by open PutSlice streams.",
       &m->buffered_},
      {"tessera_node_meta_records", "Metadata acceptor records after the last compaction pass.",
       &m->meta_records_},
  };
  for (const auto& g : gauges) {
    auto family = registry->AddGauge(g.name, g.help);
    if (!family.ok()) return family.status();
    *g.out = &(*family)->WithLabels({});
  }
  struct {
    const char* name;
    const char* help;
    Counter** out;
  } scrub_counters[] = {
      {"tessera_scrub_passes_total", "Completed scrub passes over every slice.", &m->scrub_passes_},
      {"tessera_scrub_checked_slices_total", "Slices whose checksums the scrubber verified.",
       &m->scrub_slices_},
      {"tessera_scrub_checked_bytes_total", "Bytes of the slices the scrubber verified.",
       &m->scrub_bytes_},
      {"tessera_scrub_corrupt_slices_total",
       "Slices the scrubber found damaged (marked corrupt, left for repair).", &m->scrub_corrupt_},
      {"tessera_scrub_errors_total", "Scrub failures other than damage (I/O, listing).",
       &m->scrub_errors_},
  };
  for (const auto& c : scrub_counters) {
    auto family = registry->AddCounter(c.name, c.help);
    if (!family.ok()) return family.status();
    *c.out = &(*family)->WithLabels({});
  }
  auto pass_slices = registry->AddGauge("tessera_scrub_pass_checked_slices",
                                        "Slices verified so far in the scrub pass in progress.");
  if (!pass_slices.ok()) return pass_slices.status();
  m->scrub_pass_slices_ = &(*pass_slices)->WithLabels({});
  auto members = registry->AddGauge(
      "tessera_membership_members",
      "Members of this node's membership view, by liveness (this node's failure detector: alive, "
      "suspect, dead) and state (what the member says: alive, draining, left).",
      {"liveness", "state"});
  if (!members.ok()) return members.status();
  m->members_ = *members;
  return m;
}

void NodeMetrics::OnRpcDone(absl::string_view method, absl::StatusCode code, absl::Duration latency,
                            uint64_t bytes_in, uint64_t bytes_out) {
  const std::string m(method);
  const std::string c = absl::StatusCodeToString(code);
  rpcs_->WithLabels({m, c}).Increment();
  latency_->WithLabels({m, c}).Observe(absl::ToDoubleSeconds(latency));
  if (bytes_in > 0) received_->WithLabels({m}).Increment(static_cast<double>(bytes_in));
  if (bytes_out > 0) sent_->WithLabels({m}).Increment(static_cast<double>(bytes_out));
}

void NodeMetrics::UpdateStore(const storage::StoreStats& stats, uint64_t put_buffered_bytes) {
  capacity_->Set(static_cast<double>(stats.capacity_bytes));
  free_->Set(static_cast<double>(stats.free_bytes));
  used_->Set(static_cast<double>(stats.used_bytes));
  slices_->Set(static_cast<double>(stats.slice_count));
  buffered_->Set(static_cast<double>(put_buffered_bytes));
}

void NodeMetrics::OnMetaCompactionPass(bool ok, uint64_t purged, uint64_t unconfirmed,
                                       int64_t records) {
  compaction_passes_->WithLabels({ok ? "ok" : "error"}).Increment();
  if (purged > 0) compaction_purged_->Increment(static_cast<double>(purged));
  if (unconfirmed > 0) compaction_unconfirmed_->Increment(static_cast<double>(unconfirmed));
  if (records >= 0) meta_records_->Set(static_cast<double>(records));
}

void NodeMetrics::UpdateScrub(const storage::ScrubberStats& stats) {
  absl::MutexLock lock(&scrub_mu_);
  auto advance = [](Counter* c, uint64_t now, uint64_t before) {
    if (now > before) c->Increment(static_cast<double>(now - before));
  };
  advance(scrub_passes_, stats.passes, last_scrub_.passes);
  advance(scrub_slices_, stats.slices_checked, last_scrub_.slices_checked);
  advance(scrub_bytes_, stats.bytes_checked, last_scrub_.bytes_checked);
  advance(scrub_corrupt_, stats.corrupt_found, last_scrub_.corrupt_found);
  advance(scrub_errors_, stats.errors, last_scrub_.errors);
  scrub_pass_slices_->Set(static_cast<double>(stats.pass_slices_checked));
  last_scrub_ = stats;
}

void NodeMetrics::UpdateMembership(const p2p::MembershipView* view) {
  constexpr p2p::MemberLiveness kLiveness[] = {
      p2p::MemberLiveness::kAlive, p2p::MemberLiveness::kSuspect, p2p::MemberLiveness::kDead};
  constexpr p2p::MemberState kStates[] = {p2p::MemberState::kAlive, p2p::MemberState::kDraining,
                                          p2p::MemberState::kLeft};
  for (p2p::MemberLiveness l : kLiveness) {
    for (p2p::MemberState s : kStates) {
      int n = 0;
      if (view != nullptr) {
        for (const p2p::MemberInfo& m : view->members()) n += m.liveness == l && m.state == s;
      }
      members_->WithLabels({p2p::MemberLivenessName(l), p2p::MemberStateName(s)}).Set(n);
    }
  }
}

void NodeMetrics::OnAuthFailure(absl::string_view method, absl::string_view reason) {
  auth_failures_->WithLabels({std::string(method), std::string(reason)}).Increment();
}

}  // namespace tessera::services
