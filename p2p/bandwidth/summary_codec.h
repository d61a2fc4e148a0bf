// Wire form of BandwidthSummary (api/node.proto tessera.v1.BandwidthSummary), carried in the
// signed NodeRecord and in ClusterMember. Integers on the wire: rates in whole bytes per second,
// RTT in microseconds (saturating), so an encoded summary is at most kMaxEncodedSummaryBytes.
// Thread-safe (pure functions).
#pragma once

#include <cstddef>

#include "api/node.pb.h"
#include "p2p/bandwidth/summary.h"

namespace tessera::p2p {

inline constexpr uint32_t kBandwidthSummaryFormatVersion = 1;
// Upper bound of BandwidthSummaryToProto(s).ByteSizeLong() for any s (5 fields, worst-case
// varints: 2 + 11 + 11 + 6 + 6).
inline constexpr size_t kMaxEncodedSummaryBytes = 36;

tessera::v1::BandwidthSummary BandwidthSummaryToProto(const BandwidthSummary& summary);
// Unknown format versions and negative/NaN inputs never fail: a summary is advice, and a reader
// takes what it understands (fields of a newer version it does not know are skipped by protobuf).
BandwidthSummary BandwidthSummaryFromProto(const tessera::v1::BandwidthSummary& proto);

}  // namespace tessera::p2p
