#include "services/node/bandwidth_reporter.h"

#include <chrono>
#include <cmath>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace tessera::services {
namespace {

bool Moved(double before, double now, double fraction) {
  if (before == now) return false;
  if (before == 0 || now == 0) return true;
  return std::abs(now - before) > fraction * before;
}

}  // namespace

absl::Status BandwidthReporterOptions::Validate() const {
  if (interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("bandwidth interval must be > 0");
  }
  if (max_probes_per_round < 0) {
    return absl::InvalidArgumentError("bandwidth max_probes_per_round must be >= 0");
  }
  if (!(min_confidence >= 0 && min_confidence <= 1)) {
    return absl::InvalidArgumentError("bandwidth min_confidence must be in [0, 1]");
  }
  if (!(republish_change >= 0)) {
    return absl::InvalidArgumentError("bandwidth republish_change must be >= 0");
  }
  return absl::OkStatus();
}

BandwidthReporter::BandwidthReporter(BandwidthReporterOptions options, BandwidthReporterDeps deps)
    : options_(std::move(options)), deps_(std::move(deps)) {}

BandwidthReporter::~BandwidthReporter() { Stop(); }

void BandwidthReporter::Start() {
  thread_ = std::thread([this] {
    while (!stop_.WaitForNotificationWithTimeout(options_.interval)) RunOnce();
  });
}

void BandwidthReporter::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

bool BandwidthReporter::Changed(const p2p::BandwidthSummary& now) const {
  const double f = options_.republish_change;
  return now.peers != published_.peers ||
         Moved(published_.egress_bytes_per_second, now.egress_bytes_per_second, f) ||
         Moved(published_.ingress_bytes_per_second, now.ingress_bytes_per_second, f) ||
         Moved(absl::ToDoubleSeconds(published_.median_rtt), absl::ToDoubleSeconds(now.median_rtt),
               f);
}

void BandwidthReporter::RunOnce() {
  const std::shared_ptr<const p2p::MembershipView> view = deps_.view ? deps_.view() : nullptr;
  if (view != nullptr && deps_.probe) {
    std::vector<std::string> addresses;
    std::vector<std::string> ids;
    for (const p2p::MemberInfo& m : view->members()) {
      if (m.is_self || m.liveness != p2p::MemberLiveness::kAlive || m.grpc_address.empty()) {
        continue;
      }
      addresses.push_back(m.grpc_address);
    }
    std::vector<std::string> cold = deps_.estimator->ColdPeers(addresses, options_.min_confidence);
    int probes = 0;
    for (const std::string& address : cold) {
      if (probes >= options_.max_probes_per_round || stop_.HasBeenNotified()) break;
      std::string node_id;
      for (const p2p::MemberInfo& m : view->members()) {
        if (m.grpc_address == address) node_id = m.node_id;
      }
      ++probes;
      const auto start = std::chrono::steady_clock::now();
      if (deps_.probe(node_id, address).ok()) {
        deps_.estimator->RecordRtt(address,
                                   absl::FromChrono(std::chrono::steady_clock::now() - start));
      }
    }
  }
  const p2p::BandwidthSummary summary = deps_.estimator->Summarize();
  if (!summary.empty() && Changed(summary) && deps_.publish) {
    deps_.publish(summary);
    published_ = summary;
  }
}

std::string BandwidthMetricsText(const p2p::MembershipView& view) {
  struct Family {
    const char* name;
    const char* help;
    double (*value)(const p2p::BandwidthSummary&);
  };
  static const Family kFamilies[] = {
      {"tessera_member_bandwidth_egress_bytes_per_second",
       "Median sending throughput a member measured to its peers (its published summary).",
       [](const p2p::BandwidthSummary& s) { return s.egress_bytes_per_second; }},
      {"tessera_member_bandwidth_ingress_bytes_per_second",
       "Median receiving throughput a member measured from its peers (its published summary).",
       [](const p2p::BandwidthSummary& s) { return s.ingress_bytes_per_second; }},
      {"tessera_member_median_rtt_seconds",
       "Median round-trip time a member measured to its peers (its published summary).",
       [](const p2p::BandwidthSummary& s) { return absl::ToDoubleSeconds(s.median_rtt); }},
  };
  std::string out;
  for (const Family& f : kFamilies) {
    std::string series;
    for (const p2p::MemberInfo& m : view.members()) {
      if (m.bandwidth.empty()) continue;
      // Node ids are hex: nothing to escape.
      absl::StrAppend(&series, f.name, "{node=\"", m.node_id, "\"} ", f.value(m.bandwidth), "\n");
    }
    if (series.empty()) continue;
    absl::StrAppend(&out, "# HELP ", f.name, " ", f.help, "\n# TYPE ", f.name, " gauge\n", series);
  }
  return out;
}

}  // namespace tessera::services
