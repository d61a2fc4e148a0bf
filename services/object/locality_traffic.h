// LocalityTraffic: counts the slice bytes this process moves by how far they travel, from its own
// location and the peer's (as membership reports it): within one zone, across zones of a site,
// across sites, across ISPs. Exported as
//   tessera_slice_traffic_bytes_total{direction="sent|received",
//                                     reach="same_zone|cross_zone|cross_site|cross_isp|unknown"}
// so operators see what crosses the expensive links (P4P's concern: docs/design/bandwidth.md).
// "unknown": this process or the peer has no site.
//
// It is a p2p::TransferObserver (the slice client tells it of every successful call) that passes
// each transfer on to `next` (the bandwidth estimator).
//
// Thread-safety: OnTransfer is thread-safe (one atomic add per call after an O(nodes) lookup).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "api/node.pb.h"
#include "base/metrics.h"
#include "p2p/bandwidth/estimator.h"

namespace tessera::services {

enum class Reach { kSameZone, kCrossZone, kCrossSite, kCrossIsp, kUnknown };

// The widest boundary between two locations: ISP (both known and different), then site, then
// zone. kUnknown when either has no site.
Reach ReachBetween(const v1::Location& a, const v1::Location& b);
const char* ReachName(Reach reach);

class LocalityTraffic final : public p2p::TransferObserver {
 public:
  // The peer's location by the address the slice client calls, or nullopt if unknown.
  using Locate = std::function<std::optional<v1::Location>(const std::string& address)>;

  // Registers (or joins: several backends in one process share it) the counter family in
  // `registry`. `next` may be null. INVALID_ARGUMENT/ALREADY_EXISTS from the registry.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<LocalityTraffic>> Create(
      v1::Location self, Locate locate, std::shared_ptr<p2p::TransferObserver> next,
      Registry* registry);

  void OnTransfer(const std::string& peer, p2p::TransferDirection direction, uint64_t bytes,
                  absl::Duration elapsed) override;

 private:
  static constexpr int kReaches = 5;
  LocalityTraffic(v1::Location self, Locate locate, std::shared_ptr<p2p::TransferObserver> next)
      : self_(std::move(self)), locate_(std::move(locate)), next_(std::move(next)) {}

  const v1::Location self_;
  const Locate locate_;
  const std::shared_ptr<p2p::TransferObserver> next_;
  Counter* sent_[kReaches] = {};
  Counter* received_[kReaches] = {};
};

}  // namespace tessera::services
