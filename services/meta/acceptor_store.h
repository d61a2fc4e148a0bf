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
// Scan returns committed values (including deletions, exists = false) of one bucket in one
// partition and table, in key order, for listings.
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

namespace tessera::services {

struct AcceptorStoreOptions {
  // Stamps wall_micros in responses. Not owned; default the real clock.
  Clock* clock = nullptr;
  // fsync every state change before answering (never turn off outside benchmarks).
  bool sync = true;
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
  // INVALID_ARGUMENT for a page token that does not belong to the requested bucket.
  [[nodiscard]] absl::StatusOr<tessera::v1::ScanResponse> Scan(
      const tessera::v1::ScanRequest& request);

 private:
  AcceptorStore(std::unique_ptr<rocksdb::DB> db, AcceptorStoreOptions options);
  absl::Mutex& LockFor(const std::string& encoded_key);
  absl::StatusOr<tessera::v1::AcceptorState> Load(const std::string& encoded_key);
  absl::Status Save(const std::string& encoded_key, const tessera::v1::AcceptorState& state);
  int64_t WallMicros() const;

  std::unique_ptr<rocksdb::DB> db_;
  const AcceptorStoreOptions options_;
  std::array<absl::Mutex, 64> locks_;
};

}  // namespace tessera::services
