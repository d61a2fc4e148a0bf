#include "services/object/locality_traffic.h"

#include <utility>

namespace tessera::services {

Reach ReachBetween(const v1::Location& a, const v1::Location& b) {
  if (a.site().empty() || b.site().empty()) return Reach::kUnknown;
  if (!a.isp().empty() && !b.isp().empty() && a.isp() != b.isp()) return Reach::kCrossIsp;
  if (a.site() != b.site()) return Reach::kCrossSite;
  if (a.zone() != b.zone()) return Reach::kCrossZone;
  return Reach::kSameZone;
}

const char* ReachName(Reach reach) {
  switch (reach) {
    case Reach::kSameZone:
      return "same_zone";
    case Reach::kCrossZone:
      return "cross_zone";
    case Reach::kCrossSite:
      return "cross_site";
    case Reach::kCrossIsp:
      return "cross_isp";
    case Reach::kUnknown:
      break;
  }
  return "unknown";
}

absl::StatusOr<std::shared_ptr<LocalityTraffic>> LocalityTraffic::Create(
    v1::Location self, Locate locate, std::shared_ptr<p2p::TransferObserver> next,
    Registry* registry) {
  auto family = registry->AddCounter(
      "tessera_slice_traffic_bytes_total",
      "Slice payload bytes this process sent to or received from storage nodes, by the widest "
      "boundary crossed (same_zone, cross_zone, cross_site, cross_isp; unknown without a site).",
      {"direction", "reach"});
  if (!family.ok()) return family.status();
  std::shared_ptr<LocalityTraffic> t(
      new LocalityTraffic(std::move(self), std::move(locate), std::move(next)));
  for (int r = 0; r < kReaches; ++r) {
    const char* name = ReachName(static_cast<Reach>(r));
    t->sent_[r] = &(*family)->WithLabels({"sent", name});
    t->received_[r] = &(*family)->WithLabels({"received", name});
  }
  return t;
}

void LocalityTraffic::OnTransfer(const std::string& peer, p2p::TransferDirection direction,
                                 uint64_t bytes, absl::Duration elapsed) {
  if (next_ != nullptr) next_->OnTransfer(peer, direction, bytes, elapsed);
  const std::optional<v1::Location> where = locate_ ? locate_(peer) : std::nullopt;
  const Reach reach = where.has_value() ? ReachBetween(self_, *where) : Reach::kUnknown;
  Counter* c =
      (direction == p2p::TransferDirection::kSend ? sent_ : received_)[static_cast<int>(reach)];
  c->Increment(static_cast<double>(bytes));
}

}  // namespace tessera::services
