#include "services/cli/cluster_status.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/logging.h"

namespace tessera::cli {
namespace {

std::string Rate(uint64_t bytes_per_second) {
  return bytes_per_second == 0 ? std::string("-") : sdk::FormatBytes(bytes_per_second) + "/s";
}

// "12 s", "4.5 min", "2.1 h".
std::string Eta(double seconds) {
  if (seconds < 0) return "not yet measured";
  if (seconds < 120) return absl::StrFormat("%.0f s", seconds);
  if (seconds < 7200) return absl::StrFormat("%.1f min", seconds / 60);
  return absl::StrFormat("%.1f h", seconds / 3600);
}

// "0 spare: 2, 1 spare: 10, unreadable: 1"
std::string ByRedundancy(const std::map<std::string, uint64_t>& degraded) {
  std::vector<std::string> parts;
  for (const auto& [label, count] : degraded) {
    if (count == 0) continue;
    parts.push_back(label == "unreadable" ? absl::StrCat("unreadable: ", count)
                                          : absl::StrCat(label, " spare: ", count));
  }
  return absl::StrJoin(parts, ", ");
}

std::string JsonCounts(const std::map<std::string, uint64_t>& counts) {
  std::vector<std::string> parts;
  for (const auto& [label, count] : counts) {
    parts.push_back(absl::StrCat(LogJsonQuote(label), ":", count));
  }
  return absl::StrCat("{", absl::StrJoin(parts, ","), "}");
}

}  // namespace

RepairTotals SumRepair(const sdk::ClusterStatus& status) {
  RepairTotals t;
  for (const sdk::NodeStatus& node : status.nodes) {
    if (!node.reported) continue;
    ++t.nodes_reported;
    t.slices += node.slice_count;
    if (node.has_scrub) {
      t.scrub_slices_checked += node.scrub.slices_checked;
      t.scrub_corrupt_found += node.scrub.corrupt_found;
      t.scrub_errors += node.scrub.errors;
    }
    if (!node.has_repair) continue;
    ++t.nodes_repairing;
    const sdk::NodeStatus::Repair& r = node.repair;
    for (const auto& [label, count] : r.degraded_stripes) {
      t.degraded_stripes[label] += count;
      t.degraded_total += count;
    }
    t.queue_stripes += r.queue_stripes;
    t.queue_bytes += r.queue_bytes;
    t.stripes_repaired += r.stripes_repaired;
    t.bytes_read += r.bytes_read;
    t.bytes_written += r.bytes_written;
    t.bytes_per_second += r.bytes_per_second;
    t.damaged_slices += r.damaged_slices;
    // The cluster is back at full redundancy when its slowest repairer is done.
    if (t.time_to_redundancy_seconds >= 0) {
      t.time_to_redundancy_seconds =
          r.time_to_redundancy_seconds < 0
              ? -1
              : std::max(t.time_to_redundancy_seconds, r.time_to_redundancy_seconds);
    }
  }
  return t;
}

std::string FormatClusterStatus(const std::string& endpoint, const sdk::ClusterStatus& st) {
  std::string out;
  int alive = 0;
  for (const sdk::NodeStatus& node : st.nodes) alive += node.state == "alive" ? 1 : 0;
  absl::StrAppendFormat(
      &out, "gateway %s: %d of %zu nodes alive, erasure coding %u+%u (tolerates %u lost)\n",
      endpoint, alive, st.nodes.size(), st.data_shards, st.parity_shards, st.parity_shards);
  // Totals are sums of what each node reports (nodes sharing a disk, as in `tessera dev`, each
  // count it); exact byte counts as well, for scripts.
  uint64_t total_capacity = 0, total_free = 0;
  for (const sdk::NodeStatus& node : st.nodes) {
    total_capacity += node.capacity_bytes;
    total_free += node.free_bytes;
  }
  absl::StrAppendFormat(&out, "capacity %s, free %s (%llu / %llu bytes)\n",
                        sdk::FormatBytes(total_capacity), sdk::FormatBytes(total_free),
                        static_cast<unsigned long long>(total_capacity),
                        static_cast<unsigned long long>(total_free));

  const RepairTotals t = SumRepair(st);
  if (t.nodes_repairing == 0) {
    absl::StrAppend(&out, "repair: no node reported a repair scheduler\n");
  } else if (t.degraded_total == 0 && t.queue_stripes == 0) {
    absl::StrAppendFormat(&out,
                          "repair: every stripe at full redundancy at the last scans; %llu "
                          "stripes repaired since the nodes started (%s written)\n",
                          static_cast<unsigned long long>(t.stripes_repaired),
                          sdk::FormatBytes(t.bytes_written));
  } else {
    absl::StrAppendFormat(
        &out,
        "repair: %llu stripes degraded (%s), %llu queued (%s) at %s, full redundancy in %s; "
        "%llu repaired since the nodes started (%s written)\n",
        static_cast<unsigned long long>(t.degraded_total), ByRedundancy(t.degraded_stripes),
        static_cast<unsigned long long>(t.queue_stripes), sdk::FormatBytes(t.queue_bytes),
        Rate(static_cast<uint64_t>(t.bytes_per_second)), Eta(t.time_to_redundancy_seconds),
        static_cast<unsigned long long>(t.stripes_repaired), sdk::FormatBytes(t.bytes_written));
  }
  absl::StrAppendFormat(&out,
                        "scrub: %llu slices checked, %llu corrupt found, %llu errors; %llu "
                        "damaged slices reported to repair\n",
                        static_cast<unsigned long long>(t.scrub_slices_checked),
                        static_cast<unsigned long long>(t.scrub_corrupt_found),
                        static_cast<unsigned long long>(t.scrub_errors),
                        static_cast<unsigned long long>(t.damaged_slices));

  // EGRESS/INGRESS/RTT: each node's published bandwidth summary (docs/design/bandwidth.md);
  // SLICES and REPAIR (stripes queued there): its own report, "?" when it did not answer.
  absl::StrAppendFormat(&out, "%-32s  %-21s  %-8s  %-8s  %10s  %10s  %11s  %11s  %8s  %8s  %6s\n",
                        "NODE", "ADDRESS", "SITE", "STATE", "CAPACITY", "FREE", "EGRESS", "INGRESS",
                        "RTT", "SLICES", "REPAIR");
  for (const sdk::NodeStatus& node : st.nodes) {
    const std::string rtt = node.median_rtt_micros == 0
                                ? std::string("-")
                                : absl::StrFormat("%.1fms", node.median_rtt_micros / 1000.0);
    const std::string slices = node.reported ? absl::StrCat(node.slice_count) : "?";
    const std::string repair = !node.reported    ? "?"
                               : node.has_repair ? absl::StrCat(node.repair.queue_stripes)
                                                 : "off";
    absl::StrAppendFormat(&out, "%-32s  %-21s  %-8s  %-8s  %10s  %10s  %11s  %11s  %8s  %8s  %6s\n",
                          node.node_id.empty() ? "(unknown)" : node.node_id, node.address,
                          node.site.empty() ? "-" : node.site, node.state,
                          sdk::FormatBytes(node.capacity_bytes), sdk::FormatBytes(node.free_bytes),
                          Rate(node.egress_bytes_per_second), Rate(node.ingress_bytes_per_second),
                          rtt, slices, repair);
  }
  return out;
}

std::string ClusterStatusJson(const std::string& endpoint, const sdk::ClusterStatus& st) {
  std::vector<std::string> nodes;
  for (const sdk::NodeStatus& n : st.nodes) {
    std::string node = absl::StrCat(
        "{\"node_id\":", LogJsonQuote(n.node_id), ",\"address\":", LogJsonQuote(n.address),
        ",\"site\":", LogJsonQuote(n.site), ",\"state\":", LogJsonQuote(n.state),
        ",\"capacity_bytes\":", n.capacity_bytes, ",\"free_bytes\":", n.free_bytes,
        ",\"egress_bytes_per_second\":", n.egress_bytes_per_second,
        ",\"ingress_bytes_per_second\":", n.ingress_bytes_per_second,
        ",\"median_rtt_micros\":", n.median_rtt_micros,
        ",\"reported\":", n.reported ? "true" : "false");
    if (n.reported) absl::StrAppend(&node, ",\"slices\":", n.slice_count);
    if (n.has_repair) {
      const sdk::NodeStatus::Repair& r = n.repair;
      absl::StrAppend(
          &node, ",\"repair\":{\"passes\":", r.passes,
          ",\"degraded_stripes\":", JsonCounts(r.degraded_stripes),
          ",\"queue_stripes\":", r.queue_stripes, ",\"queue_bytes\":", r.queue_bytes,
          ",\"stripes_repaired\":", r.stripes_repaired, ",\"bytes_read\":", r.bytes_read,
          ",\"bytes_written\":", r.bytes_written, ",\"bytes_per_second\":", r.bytes_per_second,
          ",\"time_to_redundancy_seconds\":", r.time_to_redundancy_seconds,
          ",\"buckets_leased\":", r.buckets_leased, ",\"damaged_slices\":", r.damaged_slices, "}");
    }
    if (n.has_scrub) {
      absl::StrAppend(&node, ",\"scrub\":{\"passes\":", n.scrub.passes,
                      ",\"slices_checked\":", n.scrub.slices_checked,
                      ",\"bytes_checked\":", n.scrub.bytes_checked,
                      ",\"corrupt_found\":", n.scrub.corrupt_found, ",\"errors\":", n.scrub.errors,
                      ",\"pass_slices_checked\":", n.scrub.pass_slices_checked, "}");
    }
    nodes.push_back(absl::StrCat(node, "}"));
  }
  const RepairTotals t = SumRepair(st);
  return absl::StrCat(
      "{\"gateway\":", LogJsonQuote(endpoint), ",\"data_shards\":", st.data_shards,
      ",\"parity_shards\":", st.parity_shards, ",\"nodes\":[", absl::StrJoin(nodes, ","),
      "],\"repair\":{\"nodes_reported\":", t.nodes_reported,
      ",\"nodes_repairing\":", t.nodes_repairing,
      ",\"degraded_stripes\":", JsonCounts(t.degraded_stripes),
      ",\"degraded_total\":", t.degraded_total, ",\"queue_stripes\":", t.queue_stripes,
      ",\"queue_bytes\":", t.queue_bytes, ",\"stripes_repaired\":", t.stripes_repaired,
      ",\"bytes_read\":", t.bytes_read, ",\"bytes_written\":", t.bytes_written,
      ",\"bytes_per_second\":", t.bytes_per_second,
      ",\"time_to_redundancy_seconds\":", t.time_to_redundancy_seconds,
      ",\"damaged_slices\":", t.damaged_slices,
      "},\"scrub\":{\"slices_checked\":", t.scrub_slices_checked,
      ",\"corrupt_found\":", t.scrub_corrupt_found, ",\"errors\":", t.scrub_errors,
      "},\"slices\":", t.slices, "}\n");
}

}  // namespace tessera::cli
