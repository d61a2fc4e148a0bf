#include "p2p/bandwidth/summary_codec.h"

#include <cmath>
#include <cstdint>
#include <limits>

namespace tessera::p2p {
namespace {

// Rounds a non-negative rate to an integer; NaN/negative -> 0; saturates.
uint64_t Rate(double v) {
  if (!(v > 0)) return 0;
  if (v >= 1.8e19) return std::numeric_limits<uint64_t>::max();
  return static_cast<uint64_t>(std::llround(v));
}

}  // namespace

tessera::v1::BandwidthSummary BandwidthSummaryToProto(const BandwidthSummary& summary) {
  tessera::v1::BandwidthSummary p;
  p.set_format_version(kBandwidthSummaryFormatVersion);
  p.set_egress_bytes_per_second(Rate(summary.egress_bytes_per_second));
  p.set_ingress_bytes_per_second(Rate(summary.ingress_bytes_per_second));
  const int64_t micros = absl::ToInt64Microseconds(summary.median_rtt);
  p.set_median_rtt_micros(micros <= 0 ? 0
                          : micros >= std::numeric_limits<uint32_t>::max()
                              ? std::numeric_limits<uint32_t>::max()
                              : static_cast<uint32_t>(micros));
  p.set_peers(summary.peers);
  return p;
}

BandwidthSummary BandwidthSummaryFromProto(const tessera::v1::BandwidthSummary& proto) {
  BandwidthSummary s;
  s.egress_bytes_per_second = static_cast<double>(proto.egress_bytes_per_second());
  s.ingress_bytes_per_second = static_cast<double>(proto.ingress_bytes_per_second());
  s.median_rtt = absl::Microseconds(proto.median_rtt_micros());
  s.peers = proto.peers();
  return s;
}

}  // namespace tessera::p2p
