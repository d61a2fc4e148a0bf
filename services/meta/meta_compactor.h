// MetaCompactor: the background sweep that purges a node's old metadata tombstones
// (docs/design/metadata.md, "Compaction"), so the acceptor store does not grow with every
// version ever deleted and scans over hot deleted keys stay short.
//
// One pass (RunOnce) walks the node's AcceptorStore in bounded batches
// (ListPurgeCandidates: committed deletions, nothing accepted above them, ballots older than the
// store's tombstone_grace). For each candidate whose partition this node replicates in the
// current layout view, it commits the deletion, at its own ballot, to EVERY replica of every
// replica set of the view (not a quorum: all of them must acknowledge), so no replica still holds
// an older live value that a later quorum read could return once this copy is gone; then it
// purges the local record (PurgeTombstone, which refuses if the record changed meanwhile).
// Candidates it cannot confirm (a replica down, a stale layout epoch, a partition this node does
// not replicate) are left for a later pass.
//
// Why an explicit sweep and not a RocksDB compaction filter: the decision needs the network (the
// all-replica confirmation), the key's lock, and a durable purge floor written atomically with the
// deletion; a compaction filter runs inside RocksDB's background threads at times RocksDB picks,
// with none of these. RocksDB's own compactions then reclaim the deleted records' space.
//
// Thread-safety: RunOnce may be called from any thread; Start/Stop manage one background thread
// (Stop waits for a pass in progress). Not copyable.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "services/meta/acceptor_client.h"
#include "services/meta/acceptor_store.h"
#include "services/meta/layout.h"

namespace tessera::services {

struct CompactionStats {
  uint64_t candidates = 0;   // tombstones old enough
  uint64_t purged = 0;       // records dropped
  uint64_t unconfirmed = 0;  // left for later: a replica did not acknowledge
  uint64_t not_owned = 0;    // left: this node does not replicate the partition in the view
};

struct MetaCompactorOptions {
  // Time between the end of one pass and the start of the next (background mode).
  absl::Duration interval = absl::Minutes(1);
  // Candidates confirmed at once, and records examined per store batch.
  size_t batch = 128;
  size_t max_examined = 10000;
  // How long to wait for the confirmation commits of one batch.
  absl::Duration confirm_timeout = absl::Seconds(10);
  // Background mode: called after every pass with its stats, or with the pass's error (metrics).
  // A view source answering NOT_FOUND (no layout record yet) skips the pass quietly.
  std::function<void(const absl::StatusOr<CompactionStats>&)> on_pass;
};

class MetaCompactor {
 public:
  // The layout view to confirm against (the node's copy of the layout record); an error skips
  // the pass (nothing is purged without a view).
  using ViewSource = std::function<absl::StatusOr<LayoutView>()>;

  // `store` and `client` are not owned and must outlive this object; `node_id` is this node's id
  // in layout views.
  MetaCompactor(std::string node_id, AcceptorStore* store, AcceptorClient* client,
                ViewSource view_source, MetaCompactorOptions options = {});
  ~MetaCompactor();
  MetaCompactor(const MetaCompactor&) = delete;
  MetaCompactor& operator=(const MetaCompactor&) = delete;

  // One pass over the whole store. Errors of the store (INTERNAL, DATA_LOSS) or of the view
  // source end the pass; unreachable replicas do not (they count as unconfirmed).
  [[nodiscard]] absl::StatusOr<CompactionStats> RunOnce();

  // Runs RunOnce every `interval` on a background thread until Stop (or destruction); failures
  // are logged (meta_compaction_failed). Stop ends a pass in progress after its current batch.
  void Start();
  void Stop();

 private:
  // Commits each candidate's deletion to every replica of `view`; returns for each whether all
  // acknowledged.
  std::vector<bool> Confirm(const LayoutView& view, const std::vector<PurgeCandidate>& batch);

  const std::string node_id_;
  AcceptorStore* const store_;
  AcceptorClient* const client_;
  const ViewSource view_source_;
  const MetaCompactorOptions options_;
  absl::Mutex run_mu_;  // one pass at a time
  std::atomic<bool> stopping_{false};
  std::unique_ptr<absl::Notification> stop_;
  std::thread thread_;
};

}  // namespace tessera::services
