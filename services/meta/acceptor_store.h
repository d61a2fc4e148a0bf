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
// always fits the node's gRPC message cap (meta_limits.h); it holds at least one entry.
//
// Thread-safety: all methods are thread-safe; updates of one key are serialized by a striped
// lock.
#pragma once

#include <array>
#include <memory>
#include <string>

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
  // A Prepare or Accept whose sender_wall_micros is further than this from this node's clock is
  // refused with FAILED_PRECONDITION naming the offset (the clock guard, enforced on the acceptor
  // side too). Zero or negative: not checked. Requests without a sender time are not checked.
  absl::Duration max_clock_offset = absl::Milliseconds(500);
  // Byte budget of one scan page (encoded ScanResponse). Default kMetaScanPageBytes.
  size_t scan_page_bytes = kMetaScanPageBytes;
  // Largest response the transport carries (the node's gRPC max send size). A single entry that
  // cannot fit in it is refused (INTERNAL, naming the key and sizes) instead of failing in gRPC.
  size_t max_response_bytes = kMaxMetaResponseBytes;
};

class AcceptorStore {
 public:
  static constexpr uint8_t kFormatVersion = 1;
  static constexpr uint32_t kDefaultScanLimit = 1000;
  static constexpr uint32_t kMaxScanLimit = 10000;

  // Opens (creating it and missing parent directories) the database in `dir`.
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

 private:
  AcceptorStore(std::unique_ptr<rocksdb::DB> db, AcceptorStoreOptions options);
  absl::Mutex& LockFor(const std::string& encoded_key);
  absl::StatusOr<tessera::v1::AcceptorState> Load(const std::string& encoded_key);
  absl::Status Save(const std::string& encoded_key, const tessera::v1::AcceptorState& state);
  int64_t WallMicros() const;
  // Raises the known epoch to `epoch` if higher (waits for admitted requests; persists it).
  absl::Status RaiseEpoch(uint64_t epoch) ABSL_LOCKS_EXCLUDED(epoch_mu_);
  // OK, or FAILED_PRECONDITION for an epoch below the known one. Caller holds epoch_mu_ (shared).
  absl::Status CheckEpoch(uint64_t epoch) ABSL_SHARED_LOCKS_REQUIRED(epoch_mu_);
  absl::Status CheckSenderClock(int64_t sender_wall_micros) const;

  std::unique_ptr<rocksdb::DB> db_;
  const AcceptorStoreOptions options_;
  std::array<absl::Mutex, 64> locks_;
  absl::Mutex epoch_mu_;  // shared by admitted requests, exclusive to raise the epoch
  uint64_t known_epoch_ ABSL_GUARDED_BY(epoch_mu_) = 0;
};

}  // namespace tessera::services
