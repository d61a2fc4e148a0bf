// PaxosProposer: linearizable compare-and-set and reads of one metadata key, by single-decree
// Paxos per update on the key's replica sets (Cassandra lightweight-transaction style).
//
// CompareAndSet(key, fn), one round:
//   1. Prepare(ballot) to every replica of every active replica set (LayoutView: the current
//      layout, plus the previous one mid-transition); needs W promises in EACH set. Ballots are
//      (HLC timestamp, proposer id); a refusal names the higher promise, and the HLC moves past
//      it so the next round's ballot is higher.
//   2. The promises carry each replica's accepted and committed values. The current value is the
//      committed value with the highest ballot. An accepted value with a higher ballot than that is
//      an update in progress: the proposer first finishes it (Accept + Commit at its own ballot)
//      and starts a new round.
//   3. new = fn(current). fn may refuse (its status is returned as is, e.g. FAILED_PRECONDITION
//      "bucket exists"). Accept(ballot, new) needs W acks in each set; then Commit(ballot, new),
//      waiting for W commit acks in each set before returning OK, so a later read or scan of any
//      R replicas sees it (scans read committed values only, so OK is never returned for a value
//      that is chosen but not committed on W replicas of each set).
// A chosen value whose commits cannot reach W replicas of each set (up to `commit_retries`
// extra attempts, e.g. refused with "stale layout epoch" because the layout moved meanwhile) is
// finished by FinishChosen on the same view; if that fails too, the call fails outcome-unknown
// (IsOutcomeUnknown) and, when the caller asked for it, reports the chosen ballot and value so it
// can finish the value on a newer layout view (MetaClient does: reload, FinishChosen, then OK).
// Rounds that fail (contention, unreachable replicas) are retried after a randomized,
// exponentially growing backoff, at most `max_rounds` times; then ABORTED (contention) or
// UNAVAILABLE (too few replicas answered: the message says how many of how many).
//
// Exactly once: every update carries a random op id, and each value keeps the op ids (with their
// commit ballots) of the last `op_history` updates before it. If an Accept of this call's value
// went out but did not get a quorum, later rounds learn from the promises whether that value was
// applied (it is the current value, is in progress, or is in the history): if so the call returns
// OK without applying fn again; if the history proves it was not, fn runs again on the new current
// value. If neither can be shown before the rounds run out, the call fails with a status for which
// IsOutcomeUnknown() is true (the update may or may not have been applied, once at most).
// Purged tombstones (MetaCompactor) take their histories with them: a key without a value whose
// replicas report a purge floor (AcceptorState.purged_floor) proves nothing about updates whose
// first Accept is not above that floor, and a value written on such a key starts a truncated
// history whose oldest entry (op id 0) is the floor. A call whose fn refuses (or whose value is
// too large) in a later round, while its earlier proposal is above the current value and so not
// yet ruled out (a replica outside this round's quorum may hold it accepted), also fails
// outcome-unknown, keeping fn's status code.
//
// Read(key): a quorum read (R replicas per set). If no responder has an accepted value above the
// highest committed one, that committed value is the answer (stale responders are repaired with
// a Commit, asynchronously). Otherwise the read runs a Paxos round with no value change: Prepare,
// finish the in-progress value, and read again. So a read that starts after a CompareAndSet
// returned OK sees it (or something newer), from any proposer.
//
// Clock guard: before proposing, HybridClock::CheckOffset() must pass, else FAILED_PRECONDITION.
//
// Thread-safety: thread-safe; concurrent calls run independently.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "api/metadata.pb.h"
#include "base/random.h"
#include "base/status_reasons.h"
#include "services/meta/acceptor_client.h"
#include "services/meta/hlc.h"
#include "services/meta/layout.h"

namespace tessera::services {

struct PaxosOptions {
  int max_rounds = 10;
  absl::Duration backoff_base = absl::Milliseconds(2);
  absl::Duration backoff_max = absl::Milliseconds(200);
  // Op ids remembered per value (exactly-once detection window).
  uint32_t op_history = 16;
  // Extra attempts at reaching W commit acks once a value is chosen.
  int commit_retries = 3;

  // INVALID_ARGUMENT unless max_rounds >= 1, 0 < backoff_base <= backoff_max, op_history >= 1,
  // commit_retries >= 0.
  [[nodiscard]] absl::Status Validate() const;
};

// A CompareAndSet failure after which the update may or may not have been applied carries the
// typed reason IsOutcomeUnknown() (base/status_reasons.h).
using ::tessera::IsOutcomeUnknown;
using ::tessera::MarkOutcomeUnknown;

// The value a CompareAndSet function sees and returns: nullopt = the key does not exist (or is
// deleted); returning nullopt deletes it.
using MetaValue = std::optional<std::string>;
using UpdateFn = std::function<absl::StatusOr<MetaValue>(const MetaValue& current)>;

// A committed, existing entry returned by ScanBucket.
struct ScanItem {
  tessera::v1::MetaKey key;
  std::string value;
};
// A CompareAndSet whose value was chosen (accepted by W replicas of each set) but could not be
// committed on W replicas of each set of the view it ran on.
struct ChosenUncommitted {
  tessera::v1::Ballot ballot;  // the ballot the value was chosen at
  MetaValue value;             // what CompareAndSet would have returned
};

// What one logical CompareAndSet has done so far, carried across calls when the caller retries it
// on a newer layout (MetaClient after a "stale layout epoch"): the retry keeps the operation id and
// first asks whether the earlier, unacknowledged proposal was applied, so the update is applied at
// most once instead of once per attempt.
struct CasProgress {
  uint64_t op_id = 0;  // 0 = not started
  std::optional<tessera::v1::Ballot> first_in_flight;
  tessera::v1::PaxosValue proposed;
};

struct ScanResult {
  std::vector<ScanItem> items;
  std::string next_page_token;  // empty when the range is exhausted
};

class PaxosProposer {
 public:
  // `proposer_id` must be unique among proposers (a node id, or a random gateway id). `hlc` and
  // `client` are not owned and must outlive this object.
  PaxosProposer(std::string proposer_id, HybridClock* hlc, AcceptorClient* client,
                PaxosOptions options = {});

  // Applies fn to the current value of `key` atomically; returns the value written. When the
  // value was chosen but could not be committed (see above) the call fails outcome-unknown and,
  // if `unfinished` is not null, sets *unfinished (else leaves it unset).
  [[nodiscard]] absl::StatusOr<MetaValue> CompareAndSet(
      const LayoutView& view, const tessera::v1::MetaKey& key, const UpdateFn& fn,
      std::optional<ChosenUncommitted>* unfinished = nullptr, CasProgress* progress = nullptr);
  // Linearizable read of `key`. OK only once the value returned is committed on W replicas of
  // each set when the read had to finish an update in progress.
  [[nodiscard]] absl::StatusOr<MetaValue> Read(const LayoutView& view,
                                               const tessera::v1::MetaKey& key);
  // Makes sure that the value chosen for `key` at `chosen_ballot` (or a later value, which
  // includes it) is committed on W replicas of each set of `view`: a Paxos round on `view` that
  // finishes the update in progress (re-proposing the accepted value at a new ballot and
  // committing it), or, when none is in progress, commits the current value again on every
  // replica (W acks per set). FAILED_PRECONDITION for a stale view ("stale layout epoch"), and
  // DATA_LOSS if `view` shows no value at or after `chosen_ballot` (the view does not overlap the
  // one the value was chosen on).
  [[nodiscard]] absl::Status FinishChosen(const LayoutView& view, const tessera::v1::MetaKey& key,
                                          const tessera::v1::Ballot& chosen_ballot);

  // Committed entries of `table`/`bucket` in `partition` with start <= object key < end (empty
  // end: no bound), at most `limit` (>= 1) existing ones, merged from R replicas of each set
  // (highest committed ballot wins per key; deletions hidden), in key order. The result also ends
  // once its values reach kScanResultBytes, so callers must follow next_page_token rather than
  // count entries (replicas' pages are bounded by bytes too; see meta_limits.h). `page_token`:
  // from a previous result. Contacts only the replicas of `partition`.
  [[nodiscard]] absl::StatusOr<ScanResult> Scan(const LayoutView& view, uint32_t partition,
                                                tessera::v1::MetaTable table,
                                                const std::string& bucket, const std::string& start,
                                                const std::string& end, uint32_t limit,
                                                const std::string& page_token);

  const std::string& proposer_id() const { return proposer_id_; }

  // Bytes of values after which Scan returns a short result (with a page token).
  static constexpr size_t kScanResultBytes = 4u << 20;

 private:
  struct Round;         // one key's replicas and the Prepare/Accept/Commit requests to them
  struct CasOperation;  // one CompareAndSet call, phase by phase (paxos.cc)
  tessera::v1::Ballot NewBallot();
  void Backoff(int round);
  uint64_t NewOpId();

  const std::string proposer_id_;
  HybridClock* const hlc_;
  AcceptorClient* const client_;
  const PaxosOptions options_;
  absl::Mutex mu_;
  Random random_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::services
