// Metadata layout: which nodes replicate which partition of the metadata key space.
//
// The key space is hashed into a fixed number of partitions (default 256). A Layout maps every
// partition to an ordered replica set of N nodes (default 3), computed deterministically from a
// member list and stamped with an epoch:
//
//   1. rank the members by RendezvousScore(partition, node id), highest first, where the score is
//      the first 8 bytes (big-endian) of BLAKE2b-256(partition as 4 bytes big-endian || node id)
//      (libsodium crypto_generichash, no key); ties (never seen in practice) break by node id;
//   2. walk the ranking taking at most one node per site until N distinct sites are used (or the
//      ranking is exhausted);
//   3. if fewer than N nodes were taken, fill from the remaining ranking in order.
//
// Rendezvous hashing means a joining or leaving node changes only the replica sets it enters or
// leaves. A LayoutView is what operations use: normally one layout; during a transition the old
// and the new one, and every quorum must then be reached in EACH distinct replica set.
//
// Keys -> partitions: a bucket record lives in PartitionForBucket(bucket id); the object entries of
// index shard s of a bucket live in PartitionForShard(bucket id, s).
//
// Thread-safety: Layout and LayoutView are immutable values; const methods are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tessera::services {

struct MetaMember {
  std::string node_id;
  std::string site;
  std::string address;  // host:port of the node's MetaService
};

struct LayoutOptions {
  uint32_t partitions = 256;  // fixed at cluster creation
  uint32_t replicas = 3;      // N
  uint32_t write_quorum = 2;  // W: acks needed for prepare, accept and commit
  uint32_t read_quorum = 2;   // R: responses needed for a read or a scan

  // INVALID_ARGUMENT unless partitions >= 1, 1 <= W, R <= N, 2W > N (write quorums intersect) and
  // W + R > N (reads see the latest write).
  [[nodiscard]] absl::Status Validate() const;
};

// Version of the three hashes below (inputs, BLAKE2b-256, first 8 bytes big-endian, mod). A change
// moves keys to other partitions, where no reader looks: stored metadata would be orphaned, not
// lost loudly. Acceptor stores record this version and refuse to open under another one; the
// hashes are pinned by known-answer tests (meta_key_test.cc). Bump only with a migration.
inline constexpr uint32_t kPartitionHashVersion = 1;

// Rendezvous score of `node_id` for `partition` (see above).
uint64_t RendezvousScore(uint32_t partition, absl::string_view node_id);
// Partition of a bucket record: BLAKE2b("bucket" || 0 || bucket id) mod partitions.
uint32_t PartitionForBucket(absl::string_view bucket_id, uint32_t partitions);
// Partition of index shard `shard_id` of a bucket:
// BLAKE2b("shard" || 0 || shard id as 4 bytes big-endian || bucket id) mod partitions.
uint32_t PartitionForShard(absl::string_view bucket_id, uint32_t shard_id, uint32_t partitions);

class Layout {
 public:
  // INVALID_ARGUMENT for bad options, an empty member list, or empty / duplicate node ids.
  [[nodiscard]] static absl::StatusOr<Layout> Compute(uint64_t epoch,
                                                      std::vector<MetaMember> members,
                                                      const LayoutOptions& options);

  uint64_t epoch() const { return epoch_; }
  const LayoutOptions& options() const { return options_; }
  uint32_t partitions() const { return options_.partitions; }
  const std::vector<MetaMember>& members() const { return members_; }
  // Node ids of the replicas of `partition` (partition < partitions()), in rank order. Fewer than
  // N when the cluster has fewer than N members.
  const std::vector<std::string>& Replicas(uint32_t partition) const;
  // The member with `node_id`, or nullptr.
  const MetaMember* FindMember(absl::string_view node_id) const;

 private:
  Layout() = default;
  uint64_t epoch_ = 0;
  LayoutOptions options_;
  std::vector<MetaMember> members_;                 // sorted by node id
  std::vector<std::vector<std::string>> replicas_;  // per partition
};

// One replica set and the quorums an operation needs in it.
struct ReplicaSet {
  std::vector<std::string> nodes;
  uint32_t write_quorum = 0;
  uint32_t read_quorum = 0;
};

class LayoutView {
 public:
  // A steady state: one layout.
  explicit LayoutView(Layout current);
  // A transition from `previous` to `current` (both must have the same partition count; checked
  // by Transition).
  [[nodiscard]] static absl::StatusOr<LayoutView> Transition(Layout previous, Layout current);

  const Layout& current() const { return *current_; }
  const Layout* previous() const { return previous_ ? &*previous_ : nullptr; }
  bool in_transition() const { return previous_.has_value(); }
  uint32_t partitions() const { return current_->partitions(); }

  // The replica sets whose quorums every operation on `partition` needs: the current set, then
  // the previous one when in transition and different. Quorums are the layout's W and R for a
  // full set; for a set smaller than N (tiny clusters) a majority and size - majority + 1.
  std::vector<ReplicaSet> ReplicaSets(uint32_t partition) const;
  // The member with `node_id` in either layout, or nullptr.
  const MetaMember* FindMember(absl::string_view node_id) const;

  // True for a view of a consensus-decided layout record (layout_record.h): requests then carry
  // current().epoch() and acceptors refuse older epochs. False (default) for locally computed
  // views, whose epochs are not comparable across proposers and are not sent.
  bool epoch_decided() const { return epoch_decided_; }
  void set_epoch_decided(bool decided) { epoch_decided_ = decided; }

 private:
  bool epoch_decided_ = false;
  std::shared_ptr<const Layout> current_;
  std::optional<Layout> previous_;
};

}  // namespace tessera::services
