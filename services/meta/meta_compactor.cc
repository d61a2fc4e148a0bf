#include "services/meta/meta_compactor.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/logging.h"

namespace tessera::services {

MetaCompactor::MetaCompactor(std::string node_id, AcceptorStore* store, AcceptorClient* client,
                             ViewSource view_source, MetaCompactorOptions options)
    : node_id_(std::move(node_id)),
      store_(store),
      client_(client),
      view_source_(std::move(view_source)),
      options_(options) {}

MetaCompactor::~MetaCompactor() { Stop(); }

std::vector<bool> MetaCompactor::Confirm(const LayoutView& view,
                                         const std::vector<PurgeCandidate>& batch) {
  struct Shared {
    absl::Mutex mu;
    std::vector<int> missing ABSL_GUARDED_BY(mu);  // replicas that have not acknowledged yet
    int pending ABSL_GUARDED_BY(mu) = 0;
  };
  auto shared = std::make_shared<Shared>();
  std::vector<std::vector<std::string>> replicas(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    for (const ReplicaSet& set : view.ReplicaSets(batch[i].key.partition())) {
      for (const std::string& n : set.nodes) {
        if (std::find(replicas[i].begin(), replicas[i].end(), n) == replicas[i].end()) {
          replicas[i].push_back(n);
        }
      }
    }
  }
  {
    absl::MutexLock lock(&shared->mu);
    shared->missing.assign(batch.size(), 0);
    for (size_t i = 0; i < batch.size(); ++i) {
      shared->missing[i] = static_cast<int>(replicas[i].size());
      shared->pending += static_cast<int>(replicas[i].size());
    }
  }
  const uint64_t epoch = view.epoch_decided() ? view.current().epoch() : 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    tessera::v1::CommitRequest req;
    *req.mutable_key() = batch[i].key;
    *req.mutable_ballot() = batch[i].committed_ballot;
    *req.mutable_value() = batch[i].committed_value;
    req.set_layout_epoch(epoch);
    req.set_purge_confirmation(true);  // acceptors without a record count it as a purge
    for (const std::string& node : replicas[i]) {
      // This node's own store is asked like the others: it must still hold the tombstone.
      client_->Commit(node, req, [shared, i](absl::StatusOr<tessera::v1::CommitResponse> r) {
        absl::MutexLock lock(&shared->mu);
        if (r.ok()) --shared->missing[i];
        --shared->pending;
      });
    }
  }
  std::vector<bool> confirmed(batch.size(), false);
  absl::MutexLock lock(&shared->mu);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(shared->mu) { return shared->pending == 0; };
  shared->mu.AwaitWithTimeout(absl::Condition(&done), options_.confirm_timeout);
  for (size_t i = 0; i < batch.size(); ++i) confirmed[i] = shared->missing[i] == 0;
  return confirmed;
}

absl::StatusOr<CompactionStats> MetaCompactor::RunOnce() {
  absl::MutexLock run_lock(&run_mu_);
  CompactionStats stats;
  absl::StatusOr<LayoutView> view = view_source_();
  if (!view.ok()) return view.status();
  std::string after;
  do {
    std::string resume;
    absl::StatusOr<std::vector<PurgeCandidate>> listed =
        store_->ListPurgeCandidates(after, options_.batch, options_.max_examined, &resume);
    if (!listed.ok()) return listed.status();
    std::vector<PurgeCandidate> owned;
    for (PurgeCandidate& c : *listed) {
      ++stats.candidates;
      bool mine = false;
      for (const ReplicaSet& set : view->ReplicaSets(c.key.partition())) {
        mine |= std::find(set.nodes.begin(), set.nodes.end(), node_id_) != set.nodes.end();
      }
      if (mine) {
        owned.push_back(std::move(c));
      } else {
        ++stats.not_owned;
      }
    }
    const std::vector<bool> confirmed = Confirm(*view, owned);
    for (size_t i = 0; i < owned.size(); ++i) {
      if (!confirmed[i]) {
        ++stats.unconfirmed;
        continue;
      }
      absl::StatusOr<bool> purged = store_->PurgeTombstone(owned[i].key, owned[i].committed_ballot);
      if (!purged.ok()) return purged.status();
      if (*purged) ++stats.purged;
    }
    after = std::move(resume);
  } while (!after.empty() && !stopping_.load());
  return stats;
}

void MetaCompactor::Start() {
  if (thread_.joinable()) return;
  stop_ = std::make_unique<absl::Notification>();
  thread_ = std::thread([this] {
    while (!stop_->WaitForNotificationWithTimeout(options_.interval)) {
      absl::StatusOr<CompactionStats> stats = RunOnce();
      if (options_.on_pass) options_.on_pass(stats);
      if (absl::IsNotFound(stats.status())) {
        TESSERA_LOG(DEBUG, "meta_compaction_skipped").Field("reason", stats.status().message());
      } else if (!stats.ok()) {
        TESSERA_LOG(WARNING, "meta_compaction_failed").Field("error", stats.status().message());
      } else if (stats->purged > 0 || stats->unconfirmed > 0) {
        TESSERA_LOG(INFO, "meta_compaction")
            .Field("purged", static_cast<int64_t>(stats->purged))
            .Field("unconfirmed", static_cast<int64_t>(stats->unconfirmed))
            .Field("candidates", static_cast<int64_t>(stats->candidates));
      }
    }
  });
}

void MetaCompactor::Stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  stop_->Notify();
  thread_.join();
  stopping_ = false;
}

}  // namespace tessera::services
