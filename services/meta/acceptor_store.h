// AcceptorStore: a node's durable Paxos acceptor state for the metadata keys it replicates, in
// one RocksDB database under a directory it is given.
//
// Per key (EncodeMetaKey) one record: a format byte (1) followed by a serialized AcceptorState
// (promised ballot, accepted ballot + value, committed ballot + value). Every state change is
// written with WriteOptions.sync = true before the call returns, so an acceptor never forgets a
// promise or an acceptance it answered, across crashes.
//
// Acceptor rules (Cassandra LWT style, one Paxos instance per update; see paxos.h):
//   Prepare(b): promise b if b > promised; answer with the state either way.
//   Accept(b, v): accept if b >= promised and b > committed ballot (promised := b); else refuse.
//   Commit(b, v): record (b, v) as committed if b > committed ballot, and drop an accepted value
//     whose ballot is <= b. Always succeeds (commits are facts, learned late or twice).
// Layout epochs: every request may carry the epoch of the layout its sender used
// (layout_epoch, 0 = unchecked). The store remembers the highest epoch it has seen (in requests,
// and in committed layout records: table META_TABLE_LAYOUT), durably, and refuses requests with a
// lower one: FAILED_PRECONDITION "stale layout epoch E (this acceptor knows K)". Raising the known
// epoch waits for requests already admitted under the old one, so once a request with epoch E
// returned, no request with an epoch below E is applied afterwards (hand-off relies on this).
// Scan returns committed values (including deletions, exists = false) of one bucket in one
// partition and table, in key order, for listings. A page ends at `limit` entries or before the
// entry that would take the encoded response past scan_page_bytes, whichever comes first, so it
// always fits the node's gRPC message cap (meta_limits.h); it holds at least one entry, unless it
// ended after examining scan_max_examined records without an entry (records that only hold a
// promise), so the work of one page is bounded too.
//
// Compaction (docs/design/metadata.md, "Compaction"): a tombstone (committed deletion, nothing
// accepted above it) whose ballots are older than tombstone_grace is a purge candidate
// (ListPurgeCandidates). The caller (MetaCompactor) first makes sure every replica of the key holds
// the deletion or something newer, then PurgeTombstone drops the record. What a purge forgets is
// summed up by the store's purge floor, a ballot at least as high as every ballot purged: a key
// without a record answers as if it had promised the floor (Prepare and Accept at or below it are
// refused, so a proposer that read the key before the purge cannot complete), and a Commit of an
// old-ballot live value to a key without a record is applied only if its sender observed the value
// after this partition's last purge (CommitRequest.observed_wall_micros, allowing
// max_clock_offset), else refused (ABORTED): it may be a late copy of a value the purged deletion
// had superseded. A deletion at or below the floor on a key without a record is acknowledged and
// not written (the key already reads as absent); when the commit is a compactor's confirmation
// (CommitRequest.purge_confirmation), that acknowledgment counts as a purge of the key's
// partition for the rule above (it may be what lets the other replicas purge their copies). A key
// without a record also reports the floor as AcceptorState.purged_floor (kept by a record a Prepare
// or Accept then creates), so proposers do not take its empty history as proof that an update was
// never applied (paxos.h).
//
// Thread-safety: all methods are thread-safe; updates of one key are serialized by a striped
// lock.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "api/metadata.pb.h"
#include "base/clock.h"
#include "rocksdb/db.h"
#include "services/meta/meta_limits.h"

namespace tessera::services {

struct AcceptorStoreOptions {
  // Stamps wall_micros in responses. Not owned; default the real clock.
  Clock* clock = nullptr;
  // fsync every state change before answering (never turn off outside benchmarks).
  bool sync = true;
  // A Prepare or Accept whose sender_wall_micros is more than this ahead of this node's clock is
  // refused with FAILED_PRECONDITION (reason kClockOffset) naming the offset: the clock guard,
  // enforced on the acceptor side too. A sender that looks behind is not refused here, since
  // transit time looks the same (the proposer's own guard covers a lagging clock). Zero or
  // negative: not checked. Requests without a sender time are not checked.
  absl::Duration max_clock_offset = absl::Milliseconds(500);
  // Byte budget of one scan page (encoded ScanResponse). Default kMetaScanPageBytes.
  size_t scan_page_bytes = kMetaScanPageBytes;
  // Largest response the transport carries (the node's gRPC max send size). A single entry that
  // cannot fit in it is refused (INTERNAL, naming the key and sizes) instead of failing in gRPC.
  size_t max_response_bytes = kMaxMetaResponseBytes;
  // Records a scan page examines at most (entries or not) before it ends with a page token.
  uint32_t scan_max_examined = 10000;
  // A tombstone becomes a purge candidate once its ballots are older than this. Longer than any
  // Paxos round, commit retry or hand-off page (seconds) plus max_clock_offset, by a wide margin;
  // safety does not depend on it (see above), only how often a slow proposer is refused.
  absl::Duration tombstone_grace = absl::Minutes(10);
};

// What Open records and checks: "meta_key=<kMetaKeyFormatVersion> partition_hash=
// <kPartitionHashVersion>" (exposed for tests).
std::string KeyFormatStamp();

// A tombstone ListPurgeCandidates found.
struct PurgeCandidate {
  tessera::v1::MetaKey key;
  tessera::v1::Ballot committed_ballot;     // of the deletion
  tessera::v1::PaxosValue committed_value;  // the deletion (exists = false)
};

class AcceptorStore {
 public:
  static constexpr uint8_t kFormatVersion = 1;
  static constexpr uint32_t kDefaultScanLimit = 1000;
  static constexpr uint32_t kMaxScanLimit = 10000;

  // Opens (creating it and missing parent directories) the database in `dir`. The store records
  // the formats its keys were written in (kMetaKeyFormatVersion, kPartitionHashVersion; a store
  // from before the record existed was written in version 1 of both and is stamped so).
  // FAILED_PRECONDITION, touching nothing, when the recorded formats are not this binary's: its
  // keys would be unreachable (orphaned) under the new encoding or partitioning.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<AcceptorStore>> Open(
      const std::string& dir, AcceptorStoreOptions options = {});
  ~AcceptorStore();

  AcceptorStore(const AcceptorStore&) = delete;
  AcceptorStore& operator=(const AcceptorStore&) = delete;

  // INVALID_ARGUMENT for a request without a key table or ballot; INTERNAL / DATA_LOSS for
  // storage failures and corrupt records.
  [[nodiscard]] absl::StatusOr<tessera::v1::PrepareResponse> Prepare(
      const tessera::v1::PrepareRequest& request);
  [[nodiscard]] absl::StatusOr<tessera::v1::AcceptResponse> Accept(
      const tessera::v1::AcceptRequest& request);
  [[nodiscard]] absl::StatusOr<tessera::v1::CommitResponse> Commit(
      const tessera::v1::CommitRequest& request);
  [[nodiscard]] absl::StatusOr<tessera::v1::ReadResponse> Read(
      const tessera::v1::ReadRequest& request);
  // The highest layout epoch this acceptor has seen (0: none).
  uint64_t known_layout_epoch();

  // INVALID_ARGUMENT for a page token that does not belong to the requested bucket; INTERNAL when
  // the first entry of the page alone exceeds max_response_bytes (cannot be sent).
  [[nodiscard]] absl::StatusOr<tessera::v1::ScanResponse> Scan(
      const tessera::v1::ScanRequest& request);

  // Prepares this acceptor for partitions it joins (JoinPartitionsRequest): drops every bucket
  // and object record of `wipe_partitions` (each under its key's lock), then raises the purge
  // floor to `raise_purge_floor` if higher, in one synced write that also makes the deletions
  // durable. FAILED_PRECONDITION "stale layout epoch" like every request (a wipe of an older
  // epoch than this acceptor knows is refused: it might drop data of a newer layout);
  // INVALID_ARGUMENT for a floor without a proposer; INTERNAL for storage failures.
  [[nodiscard]] absl::StatusOr<tessera::v1::JoinPartitionsResponse> JoinPartitions(
      const tessera::v1::JoinPartitionsRequest& request);

  // ---- Compaction ----
  // Purge candidates (see above) among the records after encoded key `after` (empty: from the
  // start), in key order: at most `max_candidates`, examining at most `max_examined` records.
  // *resume is set to the encoded key to continue after, or empty once the store was walked.
  // Bucket and object tables only (never the layout record).
  [[nodiscard]] absl::StatusOr<std::vector<PurgeCandidate>> ListPurgeCandidates(
      const std::string& after, size_t max_candidates, size_t max_examined, std::string* resume);
  // Drops the record of `key` if it is still a purge candidate whose deletion was committed at
  // `committed_ballot` (true), else leaves it (false: it changed since it was listed). The purge
  // floor is raised and the record deleted in one synced write.
  [[nodiscard]] absl::StatusOr<bool> PurgeTombstone(const tessera::v1::MetaKey& key,
                                                    const tessera::v1::Ballot& committed_ballot);
  // The purge floor (no proposer: nothing purged yet).
  tessera::v1::Ballot purge_floor();
  // Records (keys) in the store, the epoch key excluded; walks the whole store (tests, metrics).
  [[nodiscard]] absl::StatusOr<uint64_t> CountRecords();
  // Asks RocksDB to compact the whole key range now (tests; RocksDB does it on its own later).
  [[nodiscard]] absl::Status CompactStorage();

  // ---- Backup (docs/design/metadata.md "Backup and restore") ----
  // Writes a consistent copy of the whole store, as of one instant, to the new directory
  // `backup_dir` (a RocksDB checkpoint: SST files hard-linked when on the same file system, else
  // copied; the rest copied and synced). Safe while requests run. ALREADY_EXISTS if `backup_dir`
  // exists; INTERNAL for storage failures (a partial directory may be left: remove it).
  [[nodiscard]] absl::Status Backup(const std::string& backup_dir);
  // Offline restore: copies the backup in `backup_dir` to `dir` (which must not exist, or be an
  // empty directory: move the current store aside first) and checks that it opens (formats as in
  // Open). The backup itself is not modified. FAILED_PRECONDITION if `dir` holds files, or the
  // backup was written in other key formats; NOT_FOUND if `backup_dir` does not exist; INTERNAL /
  // UNAVAILABLE for copy and open failures (then nothing is left at `dir`).
  [[nodiscard]] static absl::Status RestoreBackup(const std::string& backup_dir,
                                                  const std::string& dir);

 private:
  AcceptorStore(std::unique_ptr<rocksdb::DB> db, AcceptorStoreOptions options);
  absl::Mutex& LockFor(const std::string& encoded_key);
  // The record of `encoded_key`; a key without one (*absent = true) reads as an empty state that
  // promised the purge floor.
  absl::StatusOr<tessera::v1::AcceptorState> Load(const std::string& encoded_key,
                                                  bool* absent = nullptr);
  absl::Status Save(const std::string& encoded_key, const tessera::v1::AcceptorState& state);
  int64_t WallMicros() const;
  // Raises the known epoch to `epoch` if higher (waits for admitted requests; persists it).
  absl::Status RaiseEpoch(uint64_t epoch) ABSL_LOCKS_EXCLUDED(epoch_mu_);
  // OK, or FAILED_PRECONDITION for an epoch below the known one. Caller holds epoch_mu_ (shared).
  absl::Status CheckEpoch(uint64_t epoch) ABSL_SHARED_LOCKS_REQUIRED(epoch_mu_);
  absl::Status CheckSenderClock(int64_t sender_wall_micros) const;
  // Whether `state` (of a bucket or object key) may be purged now.
  bool IsPurgeCandidate(const tessera::v1::AcceptorState& state) const;
  // For a Commit of a live value at or below the floor to a key without a record: whether it was
  // observed after the partition's last purge here.
  bool ObservedAfterPurge(uint32_t partition, int64_t observed_wall_micros)
      ABSL_LOCKS_EXCLUDED(purge_mu_);

  std::unique_ptr<rocksdb::DB> db_;
  const AcceptorStoreOptions options_;
  std::array<absl::Mutex, 64> locks_;
  absl::Mutex epoch_mu_;  // shared by admitted requests, exclusive to raise the epoch
  uint64_t known_epoch_ ABSL_GUARDED_BY(epoch_mu_) = 0;
  absl::Mutex purge_mu_;
  tessera::v1::Ballot floor_ ABSL_GUARDED_BY(purge_mu_);
  // Wall micros of the last purge per partition since the store was opened; partitions without
  // an entry count as purged at opened_micros_ (purges before a restart are not remembered).
  absl::flat_hash_map<uint32_t, int64_t> last_purge_micros_ ABSL_GUARDED_BY(purge_mu_);
  int64_t opened_micros_ = 0;
};

}  // namespace tessera::services
