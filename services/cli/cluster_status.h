// `tessera cluster status [--json]`: what the gateway reports about the cluster, with the nodes'
// own repair and scrub figures summed into cluster totals (docs/design/repair.md
// "Observability").
//
// Thread-safety: plain functions over values.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "api/sdk/client.h"

namespace tessera::cli {

// Cluster-wide repair and scrub figures: sums over the nodes that reported (each node repairs the
// buckets it leases, so nothing is counted twice), except the time to full redundancy, which is
// the longest of any node's.
struct RepairTotals {
  int nodes_reported = 0;                            // nodes that answered the gateway
  int nodes_repairing = 0;                           // of which run a repair scheduler
  std::map<std::string, uint64_t> degraded_stripes;  // by spare slices left, as the nodes label it
  uint64_t degraded_total = 0;
  uint64_t queue_stripes = 0;
  uint64_t queue_bytes = 0;
  uint64_t stripes_repaired = 0;
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  double bytes_per_second = 0;
  // 0: nothing queued; -1: some node has work queued and no rate measured yet.
  double time_to_redundancy_seconds = 0;
  uint64_t damaged_slices = 0;
  uint64_t scrub_slices_checked = 0;
  uint64_t scrub_corrupt_found = 0;
  uint64_t scrub_errors = 0;
  uint64_t slices = 0;  // slices stored on the reporting nodes
};

RepairTotals SumRepair(const sdk::ClusterStatus& status);

// The human-readable report (several lines) and the JSON one (one object, one line).
std::string FormatClusterStatus(const std::string& endpoint, const sdk::ClusterStatus& status);
std::string ClusterStatusJson(const std::string& endpoint, const sdk::ClusterStatus& status);

}  // namespace tessera::cli
