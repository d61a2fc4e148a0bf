// FaultyManifestStore (tests only): a ManifestStore that forwards to another and injects the
// failures a replicated metadata store can produce around a commit, so callers' cleanup rules
// can be tested deterministically:
//   - a commit (Commit or PutIfAbsent) that fails WITHOUT being applied (a plain UNAVAILABLE);
//   - a commit that IS applied but reports failure with IsOutcomeUnknown (the commit went
//     through, its acknowledgement was lost);
//   - a hook run just before the next CompareAndSet on a given bucket (to interleave another
//     request at the worst moment);
//   - a CompareAndSet that loses to concurrent updates (ABORTED), without being applied or
//     applied with its acknowledgement lost (outcome unknown);
//   - an outcome-unknown failure carrying a definite-looking code, as Paxos surfaces it when a
//     retried round's CAS function sees its own earlier round's write (ALREADY_EXISTS for "bucket
//     exists", ConditionNotMet, NOT_FOUND): front ends must not answer it as that code.
//
// Thread-safety: the knobs are set by the test thread while no request is running; calls are
// then safe from any thread (a mutex guards the counters).
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "base/status_reasons.h"
#include "services/object/manifest_store.h"

namespace tessera::services::testing {

class FaultyManifestStore : public ManifestStore {
 public:
  explicit FaultyManifestStore(ManifestStore* base) : base_(base) {}

  // The next `n` commits (Commit or PutIfAbsent) into bucket `bucket` fail UNAVAILABLE and write
  // nothing.
  void FailPutsNotApplied(const std::string& bucket, int n) {
    absl::MutexLock lock(&mu_);
    bucket_ = bucket;
    not_applied_ = n;
  }
  // The next `n` commits into `bucket` are written, then fail outcome-unknown.
  void FailPutsAfterApplying(const std::string& bucket, int n) {
    absl::MutexLock lock(&mu_);
    bucket_ = bucket;
    after_applying_ = n;
  }
  // The next `not_applied` CompareAndSet calls on `bucket` fail ABORTED and write nothing; the
  // `after_applying` after them are forwarded, then reported ABORTED with IsOutcomeUnknown.
  void AbortCompareAndSets(const std::string& bucket, int not_applied, int after_applying) {
    absl::MutexLock lock(&mu_);
    abort_bucket_ = bucket;
    cas_not_applied_ = not_applied;
    cas_after_applying_ = after_applying;
  }
  // The next `n` commits into `bucket` are written, then fail with `status` (not OK) marked
  // outcome unknown.
  void FailPutsAfterApplyingWith(const std::string& bucket, int n, absl::Status status) {
    absl::MutexLock lock(&mu_);
    bucket_ = bucket;
    after_applying_ = n;
    after_applying_status_ = std::move(status);
  }
  // The next `n` CreateBucket calls are forwarded, then fail with `status` (not OK) marked
  // outcome unknown, whatever the forwarded call returned.
  void FailCreateBucketsWith(int n, absl::Status status) {
    absl::MutexLock lock(&mu_);
    create_bucket_failures_ = n;
    create_bucket_status_ = std::move(status);
  }
  // Runs `hook` once, right before the next CompareAndSet on `bucket` is forwarded.
  void BeforeNextCompareAndSet(const std::string& bucket, std::function<void()> hook) {
    absl::MutexLock lock(&mu_);
    cas_bucket_ = bucket;
    cas_hook_ = std::move(hook);
  }

  absl::Status CreateBucket(const v1::BucketRecord& record) override {
    absl::Status injected;
    {
      absl::MutexLock lock(&mu_);
      if (create_bucket_failures_ > 0) {
        --create_bucket_failures_;
        injected = create_bucket_status_;
      }
    }
    absl::Status s = base_->CreateBucket(record);
    if (!injected.ok()) return MarkOutcomeUnknown(injected);
    return s;
  }
  absl::StatusOr<v1::BucketRecord> GetBucket(const std::string& name) override {
    return base_->GetBucket(name);
  }
  absl::Status DeleteBucketIfEmpty(const std::string& name) override {
    return base_->DeleteBucketIfEmpty(name);
  }
  absl::StatusOr<std::vector<v1::BucketRecord>> ListBuckets() override {
    return base_->ListBuckets();
  }
  absl::StatusOr<v1::ObjectManifest> GetLatest(const std::string& bucket,
                                               const std::string& key) override {
    return base_->GetLatest(bucket, key);
  }
  absl::StatusOr<v1::ObjectManifest> Get(const std::string& bucket, const std::string& key,
                                         const std::string& version_id) override {
    return base_->Get(bucket, key, version_id);
  }
  absl::StatusOr<v1::ObjectManifest> Commit(const v1::ObjectManifest& manifest,
                                            const CommitCondition& condition) override {
    absl::StatusOr<v1::ObjectManifest> out;
    absl::Status s = Inject(manifest.bucket(), [&] {
      out = base_->Commit(manifest, condition);
      return out.status();
    });
    if (!s.ok()) return s;
    return out;
  }
  absl::Status PutIfAbsent(const v1::ObjectManifest& manifest) override {
    return Inject(manifest.bucket(), [&] { return base_->PutIfAbsent(manifest); });
  }
  absl::Status CompareAndSet(const std::string& bucket, const std::string& key,
                             const std::string& version_id, const ManifestUpdate& update) override {
    std::function<void()> hook;
    bool not_applied = false, after_applying = false;
    {
      absl::MutexLock lock(&mu_);
      if (cas_hook_ && bucket == cas_bucket_) hook = std::exchange(cas_hook_, nullptr);
      if (bucket == abort_bucket_ && cas_not_applied_ > 0) {
        --cas_not_applied_;
        not_applied = true;
      } else if (bucket == abort_bucket_ && cas_after_applying_ > 0) {
        --cas_after_applying_;
        after_applying = true;
      }
    }
    if (hook) hook();
    if (not_applied) return absl::AbortedError("injected: lost to concurrent updates");
    absl::Status s = base_->CompareAndSet(bucket, key, version_id, update);
    if (after_applying && s.ok()) {
      return MarkOutcomeUnknown(absl::AbortedError("injected: applied, acknowledgement lost"));
    }
    return s;
  }
  absl::StatusOr<ListResult> List(const std::string& bucket, const ListRequest& request) override {
    return base_->List(bucket, request);
  }
  absl::StatusOr<std::vector<KeyVersions>> ScanVersions(const std::string& bucket,
                                                        const std::string& start_after,
                                                        int max_keys) override {
    return base_->ScanVersions(bucket, start_after, max_keys);
  }

 private:
  // Runs `commit` unless a failure is due for `bucket`, and applies the failure knobs.
  absl::Status Inject(const std::string& bucket, const std::function<absl::Status()>& commit) {
    bool not_applied = false, after_applying = false;
    {
      absl::MutexLock lock(&mu_);
      if (bucket == bucket_ && not_applied_ > 0) {
        --not_applied_;
        not_applied = true;
      } else if (bucket == bucket_ && after_applying_ > 0) {
        --after_applying_;
        after_applying = true;
      }
    }
    if (not_applied) return absl::UnavailableError("injected: metadata quorum unreachable");
    absl::Status s = commit();
    if (after_applying && s.ok()) {
      absl::MutexLock lock(&mu_);
      return MarkOutcomeUnknown(after_applying_status_);
    }
    return s;
  }

  ManifestStore* const base_;
  absl::Mutex mu_;
  std::string bucket_ ABSL_GUARDED_BY(mu_);
  int not_applied_ ABSL_GUARDED_BY(mu_) = 0;
  int after_applying_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status after_applying_status_ ABSL_GUARDED_BY(mu_) =
      absl::UnavailableError("injected: commit acknowledgement lost");
  int create_bucket_failures_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status create_bucket_status_ ABSL_GUARDED_BY(mu_);
  std::string cas_bucket_ ABSL_GUARDED_BY(mu_);
  std::function<void()> cas_hook_ ABSL_GUARDED_BY(mu_);
  std::string abort_bucket_ ABSL_GUARDED_BY(mu_);
  int cas_not_applied_ ABSL_GUARDED_BY(mu_) = 0;
  int cas_after_applying_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tessera::services::testing
