#include "p2p/bandwidth/estimator.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace tessera::p2p {
namespace {

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

BandwidthEstimatorOptions Sanitized(BandwidthEstimatorOptions o) {
  const BandwidthEstimatorOptions d;
  if (o.half_life <= absl::ZeroDuration()) o.half_life = d.half_life;
  if (!(o.confidence_weight > 0)) o.confidence_weight = d.confidence_weight;
  if (o.assumed_rtt < absl::ZeroDuration()) o.assumed_rtt = d.assumed_rtt;
  if (!(o.assumed_bytes_per_second > 0)) o.assumed_bytes_per_second = d.assumed_bytes_per_second;
  return o;
}

}  // namespace

absl::Status BandwidthEstimatorOptions::Validate() const {
  if (half_life <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("half_life must be > 0");
  }
  if (!(confidence_weight > 0)) {
    return absl::InvalidArgumentError("confidence_weight must be > 0");
  }
  if (assumed_rtt < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("assumed_rtt must be >= 0");
  }
  if (!(assumed_bytes_per_second > 0)) {
    return absl::InvalidArgumentError("assumed_bytes_per_second must be > 0");
  }
  return absl::OkStatus();
}

BandwidthEstimator::BandwidthEstimator(BandwidthEstimatorOptions options)
    : options_(Sanitized(std::move(options))),
      clock_(options_.clock != nullptr ? options_.clock : Clock::Real()) {}

double BandwidthEstimator::Decay(absl::Time from, absl::Time to) const {
  // A clock that went back decays nothing (never amplifies).
  if (to <= from) return 1.0;
  return std::exp2(-absl::FDivDuration(to - from, options_.half_life));
}

void BandwidthEstimator::Add(Stat& s, absl::Time now, double x) const {
  if (s.samples > 0) {
    const double d = Decay(s.at, now);
    s.w *= d;
    s.wx *= d;
    s.wxx *= d;
  }
  s.at = std::max(s.at, now);
  s.w += 1;
  s.wx += x;
  s.wxx += x * x;
  ++s.samples;
}

DecayedEstimate BandwidthEstimator::Read(const Stat& s, absl::Time now) const {
  DecayedEstimate e;
  if (s.samples == 0 || !(s.w > 0)) return e;
  e.samples = s.samples;
  e.mean = s.wx / s.w;
  // Decay scales all three sums alike: mean and variance do not change with age, only weight.
  e.stddev = std::sqrt(std::max(0.0, s.wxx / s.w - e.mean * e.mean));
  e.weight = s.w * Decay(s.at, now);
  e.age = std::max(absl::ZeroDuration(), now - s.at);
  e.confidence = e.weight / (e.weight + options_.confidence_weight);
  return e;
}

void BandwidthEstimator::OnTransfer(const std::string& peer, TransferDirection direction,
                                    uint64_t bytes, absl::Duration elapsed) {
  if (elapsed < absl::ZeroDuration()) return;
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  Peer& p = peers_[peer];
  const double seconds = absl::ToDoubleSeconds(elapsed);
  if (bytes <= options_.small_transfer_bytes) {
    Add(p.rtt, now, seconds);
    return;
  }
  const double rtt = p.rtt.samples > 0 ? p.rtt.wx / p.rtt.w : 0.0;
  const double transfer_seconds = std::max(seconds - rtt, seconds / 10);
  if (!(transfer_seconds > 0)) return;  // a zero-duration clock reading: no information
  Add(direction == TransferDirection::kSend ? p.send : p.receive, now,
      static_cast<double>(bytes) / transfer_seconds);
}

void BandwidthEstimator::RecordRtt(const std::string& peer, absl::Duration rtt) {
  if (rtt < absl::ZeroDuration()) return;
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  Add(peers_[peer].rtt, now, absl::ToDoubleSeconds(rtt));
}

std::optional<PeerEstimate> BandwidthEstimator::Estimate(const std::string& peer) const {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(peer);
  if (it == peers_.end()) return std::nullopt;
  PeerEstimate e;
  e.rtt_seconds = Read(it->second.rtt, now);
  e.send_bytes_per_second = Read(it->second.send, now);
  e.receive_bytes_per_second = Read(it->second.receive, now);
  return e;
}

TransferPrediction BandwidthEstimator::PredictTransferTime(const std::string& peer, uint64_t bytes,
                                                           TransferDirection direction) const {
  const std::optional<PeerEstimate> e = Estimate(peer);
  DecayedEstimate rtt, rate;
  if (e.has_value()) {
    rtt = e->rtt_seconds;
    rate = direction == TransferDirection::kSend ? e->send_bytes_per_second
                                                 : e->receive_bytes_per_second;
  }
  const double rtt_s = rtt.known() ? rtt.mean : absl::ToDoubleSeconds(options_.assumed_rtt);
  const double bps = rate.known() && rate.mean > 0 ? rate.mean : options_.assumed_bytes_per_second;
  const double xfer_s = static_cast<double>(bytes) / bps;
  TransferPrediction p;
  p.time = absl::Seconds(rtt_s + xfer_s);
  const double total = rtt_s + xfer_s;
  p.confidence =
      total > 0 ? (rtt_s * rtt.confidence + xfer_s * rate.confidence) / total : rtt.confidence;
  return p;
}

std::vector<std::string> BandwidthEstimator::Peers() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  out.reserve(peers_.size());
  for (const auto& [peer, unused] : peers_) out.push_back(peer);
  return out;
}

std::vector<std::string> BandwidthEstimator::ColdPeers(const std::vector<std::string>& candidates,
                                                       double min_confidence) const {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const std::string& c : candidates) {
    auto it = peers_.find(c);
    if (it == peers_.end() || Read(it->second.rtt, now).confidence < min_confidence) {
      out.push_back(c);
    }
  }
  return out;
}

BandwidthSummary BandwidthEstimator::Summarize() const {
  const absl::Time now = clock_->Now();
  std::vector<double> send, receive, rtt;
  uint32_t peers = 0;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [unused, p] : peers_) {
      bool any = false;
      if (p.send.samples > 0) {
        send.push_back(Read(p.send, now).mean);
        any = true;
      }
      if (p.receive.samples > 0) {
        receive.push_back(Read(p.receive, now).mean);
        any = true;
      }
      if (p.rtt.samples > 0) {
        rtt.push_back(Read(p.rtt, now).mean);
        any = true;
      }
      if (any) ++peers;
    }
  }
  BandwidthSummary s;
  s.egress_bytes_per_second = Median(std::move(send));
  s.ingress_bytes_per_second = Median(std::move(receive));
  s.median_rtt = absl::Seconds(Median(std::move(rtt)));
  s.peers = peers;
  return s;
}

void BandwidthEstimator::Forget(const std::string& peer) {
  absl::MutexLock lock(&mu_);
  peers_.erase(peer);
}

}  // namespace tessera::p2p
