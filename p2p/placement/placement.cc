#include "p2p/placement/placement.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tessera::p2p {
namespace {

// A stable 64-bit hash (FNV-1a): placements must not change between processes or builds, which
// rules out absl::Hash (seeded per process).
uint64_t StableHash(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

bool Eligible(const PlacementCandidate& c, const PlacementRequest& request) {
  return c.alive && !c.draining && c.free_bytes >= request.slice_bytes && !c.node_id.empty();
}

absl::Status CheckRequest(const PlacementRequest& request) {
  if (request.k < 1 || request.m < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("placement needs k >= 1 and m >= 0, got k=", request.k, " m=", request.m));
  }
  return absl::OkStatus();
}

// Eligible candidates ordered by their Efraimidis-Spirakis key for this seed: smaller keys are
// drawn first, and a node's chance of an early draw grows with its free space. Each node's key
// depends only on (seed, node id, weight), never on the order of the candidate list.
std::vector<const PlacementCandidate*> DrawOrder(const std::vector<PlacementCandidate>& candidates,
                                                 const PlacementRequest& request) {
  std::vector<std::pair<double, const PlacementCandidate*>> keyed;
  for (const auto& c : candidates) {
    if (!Eligible(c, request)) continue;
    uint64_t bits = SplitMix64(request.seed ^ StableHash(c.node_id));
    double u = (static_cast<double>(bits >> 11) + 0.5) / 9007199254740992.0;  // (0, 1)
    const double speed = std::isnan(c.speed) ? 1.0 : std::clamp(c.speed, 1e-3, 1.0);
    const double weight = static_cast<double>(std::max<uint64_t>(c.free_bytes, 1)) * speed;
    keyed.emplace_back(-std::log(u) / weight, &c);
  }
  std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    return a.second->node_id < b.second->node_id;
  });
  std::vector<const PlacementCandidate*> order;
  order.reserve(keyed.size());
  for (const auto& [key, c] : keyed) order.push_back(c);
  return order;
}

}  // namespace

absl::StatusOr<int> SiteCap(const std::vector<PlacementCandidate>& candidates,
                            const PlacementRequest& request) {
  if (absl::Status s = CheckRequest(request); !s.ok()) return s;
  const int n = request.k + request.m;
  std::map<std::string, int> per_site;
  absl::flat_hash_set<std::string> seen;
  int eligible = 0;
  for (const auto& c : candidates) {
    if (!Eligible(c, request) || !seen.insert(c.node_id).second) continue;
    ++per_site[c.site];
    ++eligible;
  }
  if (eligible < n) {
    return absl::FailedPreconditionError(absl::StrCat("placement needs ", n,
                                                      " eligible nodes (k=", request.k,
                                                      " m=", request.m, "), have ", eligible));
  }
  auto fits = [&](int cap) {
    int total = 0;
    for (const auto& [site, count] : per_site) total += std::min(count, cap);
    return total >= n;
  };
  if (request.m > 0 && fits(request.m)) return request.m;
  int cap = 1;
  while (!fits(cap)) ++cap;  // terminates: cap = n always fits since eligible >= n
  return cap;
}

absl::StatusOr<std::vector<std::string>> PlaceStripe(
    const std::vector<PlacementCandidate>& candidates, const PlacementRequest& request) {
  absl::StatusOr<int> cap = SiteCap(candidates, request);
  if (!cap.ok()) return cap.status();
  const size_t n = static_cast<size_t>(request.k + request.m);
  std::map<std::string, int> per_site;
  absl::flat_hash_set<std::string> chosen_ids;
  std::vector<std::string> chosen;
  for (const PlacementCandidate* c : DrawOrder(candidates, request)) {
    if (chosen.size() == n) break;
    if (per_site[c->site] >= *cap || !chosen_ids.insert(c->node_id).second) continue;
    ++per_site[c->site];
    chosen.push_back(c->node_id);
  }
  // SiteCap guarantees the capped sites can hold n slices, so the walk above always fills up.
  if (chosen.size() != n) {
    return absl::InternalError(absl::StrCat("placement filled ", chosen.size(), " of ", n));
  }
  return chosen;
}

absl::StatusOr<std::string> PlaceReplacement(const std::vector<PlacementCandidate>& candidates,
                                             const PlacementRequest& request,
                                             const std::vector<std::string>& current,
                                             int slice_index,
                                             const std::vector<std::string>& excluded) {
  if (slice_index < 0 || static_cast<size_t>(slice_index) >= current.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("slice index ", slice_index, " outside placement of ", current.size()));
  }
  absl::StatusOr<int> cap = SiteCap(candidates, request);
  // Too few eligible nodes for a whole stripe may still leave one for a single slice: cap at m
  // (or 1 without parity) then.
  int site_cap = cap.ok() ? *cap : std::max(request.m, 1);
  absl::flat_hash_set<std::string> taken(current.begin(), current.end());
  taken.insert(excluded.begin(), excluded.end());
  std::map<std::string, std::string> site_of;
  for (const auto& c : candidates) site_of[c.node_id] = c.site;
  std::map<std::string, int> per_site;
  for (size_t i = 0; i < current.size(); ++i) {
    if (static_cast<int>(i) == slice_index) continue;
    auto it = site_of.find(current[i]);
    if (it != site_of.end()) ++per_site[it->second];
  }
  for (const PlacementCandidate* c : DrawOrder(candidates, request)) {
    if (taken.contains(c->node_id) || per_site[c->site] >= site_cap) continue;
    return c->node_id;
  }
  return absl::FailedPreconditionError(absl::StrCat("no eligible node can take slice ", slice_index,
                                                    " without breaking the site cap of ",
                                                    site_cap));
}

}  // namespace tessera::p2p
