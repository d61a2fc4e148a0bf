#include "services/meta/layout.h"

#include <sodium.h>

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "base/sodium.h"

namespace tessera::services {
namespace {

uint64_t HashPrefix64(absl::string_view data) {
  unsigned char out[crypto_generichash_BYTES];
  crypto_generichash(out, sizeof(out), reinterpret_cast<const unsigned char*>(data.data()),
                     data.size(), nullptr, 0);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | out[i];
  return v;
}

void PutBigEndian32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out->push_back(static_cast<char>((v >> shift) & 0xff));
}

ReplicaSet MakeSet(const std::vector<std::string>& nodes, const LayoutOptions& options) {
  ReplicaSet set;
  set.nodes = nodes;
  const uint32_t size = static_cast<uint32_t>(nodes.size());
  if (size >= options.replicas) {
    set.write_quorum = options.write_quorum;
    set.read_quorum = options.read_quorum;
  } else {
    set.write_quorum = size / 2 + 1;
    set.read_quorum = size - set.write_quorum + 1;
  }
  return set;
}

}  // namespace

absl::Status LayoutOptions::Validate() const {
  if (partitions < 1) return absl::InvalidArgumentError("LayoutOptions.partitions must be >= 1");
  if (replicas < 1) return absl::InvalidArgumentError("LayoutOptions.replicas must be >= 1");
  if (write_quorum < 1 || write_quorum > replicas || read_quorum < 1 || read_quorum > replicas) {
    return absl::InvalidArgumentError(
        absl::StrCat("LayoutOptions quorums must be in [1, replicas]: W=", write_quorum,
                     " R=", read_quorum, " N=", replicas));
  }
  if (2 * write_quorum <= replicas) {
    return absl::InvalidArgumentError(absl::StrCat("LayoutOptions.write_quorum ", write_quorum,
                                                   " is not a majority of ", replicas));
  }
  if (write_quorum + read_quorum <= replicas) {
    return absl::InvalidArgumentError(absl::StrCat(
        "LayoutOptions needs W + R > N: W=", write_quorum, " R=", read_quorum, " N=", replicas));
  }
  return absl::OkStatus();
}

uint64_t RendezvousScore(uint32_t partition, absl::string_view node_id) {
  std::string input;
  PutBigEndian32(&input, partition);
  input.append(node_id.data(), node_id.size());
  return HashPrefix64(input);
}

uint32_t PartitionForBucket(absl::string_view bucket_id, uint32_t partitions) {
  std::string input("bucket");
  input.push_back('\0');
  input.append(bucket_id.data(), bucket_id.size());
  return static_cast<uint32_t>(HashPrefix64(input) % std::max<uint32_t>(partitions, 1));
}

uint32_t PartitionForShard(absl::string_view bucket_id, uint32_t shard_id, uint32_t partitions) {
  std::string input("shard");
  input.push_back('\0');
  PutBigEndian32(&input, shard_id);
  input.append(bucket_id.data(), bucket_id.size());
  return static_cast<uint32_t>(HashPrefix64(input) % std::max<uint32_t>(partitions, 1));
}

absl::StatusOr<Layout> Layout::Compute(uint64_t epoch, std::vector<MetaMember> members,
                                       const LayoutOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  if (members.empty()) return absl::InvalidArgumentError("layout needs at least one member");
  EnsureSodiumInitialized();
  absl::flat_hash_set<std::string> seen;
  for (const MetaMember& m : members) {
    if (m.node_id.empty()) return absl::InvalidArgumentError("layout member with empty node id");
    if (!seen.insert(m.node_id).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate node id in layout: ", m.node_id));
    }
  }
  std::sort(members.begin(), members.end(),
            [](const MetaMember& a, const MetaMember& b) { return a.node_id < b.node_id; });
  Layout layout;
  layout.epoch_ = epoch;
  layout.options_ = options;
  layout.members_ = std::move(members);
  layout.replicas_.resize(options.partitions);
  const size_t n = std::min<size_t>(options.replicas, layout.members_.size());
  std::vector<std::pair<uint64_t, const MetaMember*>> ranking(layout.members_.size());
  for (uint32_t p = 0; p < options.partitions; ++p) {
    for (size_t i = 0; i < layout.members_.size(); ++i) {
      ranking[i] = {RendezvousScore(p, layout.members_[i].node_id), &layout.members_[i]};
    }
    std::sort(ranking.begin(), ranking.end(), [](const auto& a, const auto& b) {
      if (a.first != b.first) return a.first > b.first;
      return a.second->node_id < b.second->node_id;
    });
    std::vector<std::string>& out = layout.replicas_[p];
    std::vector<bool> taken(ranking.size(), false);
    absl::flat_hash_set<absl::string_view> sites;
    for (size_t i = 0; i < ranking.size() && out.size() < n; ++i) {
      if (sites.insert(ranking[i].second->site).second) {
        out.push_back(ranking[i].second->node_id);
        taken[i] = true;
      }
    }
    for (size_t i = 0; i < ranking.size() && out.size() < n; ++i) {
      if (!taken[i]) out.push_back(ranking[i].second->node_id);
    }
  }
  return layout;
}

const std::vector<std::string>& Layout::Replicas(uint32_t partition) const {
  return replicas_[partition % replicas_.size()];
}

const MetaMember* Layout::FindMember(absl::string_view node_id) const {
  auto it = std::lower_bound(
      members_.begin(), members_.end(), node_id,
      [](const MetaMember& m, absl::string_view id) { return absl::string_view(m.node_id) < id; });
  if (it == members_.end() || it->node_id != node_id) return nullptr;
  return &*it;
}

LayoutView::LayoutView(Layout current)
    : current_(std::make_shared<const Layout>(std::move(current))) {}

absl::StatusOr<LayoutView> LayoutView::Transition(Layout previous, Layout current) {
  if (previous.partitions() != current.partitions()) {
    return absl::InvalidArgumentError(
        absl::StrCat("layout transition changes the partition count from ", previous.partitions(),
                     " to ", current.partitions()));
  }
  if (current.epoch() <= previous.epoch()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "layout transition must raise the epoch: ", previous.epoch(), " -> ", current.epoch()));
  }
  LayoutView view(std::move(current));
  view.previous_ = std::move(previous);
  return view;
}

std::vector<ReplicaSet> LayoutView::ReplicaSets(uint32_t partition) const {
  std::vector<ReplicaSet> sets;
  sets.push_back(MakeSet(current_->Replicas(partition), current_->options()));
  if (previous_) {
    std::vector<std::string> old = previous_->Replicas(partition);
    std::vector<std::string> a = sets[0].nodes;
    std::sort(a.begin(), a.end());
    std::vector<std::string> b = old;
    std::sort(b.begin(), b.end());
    if (a != b) sets.push_back(MakeSet(old, previous_->options()));
  }
  return sets;
}

const MetaMember* LayoutView::FindMember(absl::string_view node_id) const {
  if (const MetaMember* m = current_->FindMember(node_id)) return m;
  return previous_ ? previous_->FindMember(node_id) : nullptr;
}

}  // namespace tessera::services
