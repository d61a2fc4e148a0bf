#include "services/meta/paxos.h"

#include <algorithm>
#include <map>
#include <memory>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/sodium.h"
#include "base/status_reasons.h"
#include "services/meta/meta_key.h"
#include "services/meta/meta_limits.h"

namespace tessera::services {
namespace {

using tessera::v1::Ballot;
using tessera::v1::MetaKey;
using tessera::v1::PaxosValue;

// The outcome of sending one request to every replica of a set of replica sets.
template <typename Resp>
struct Gathered {
  bool success = false;
  absl::Status failure;  // when !success
  std::map<std::string, absl::StatusOr<Resp>> results;
};

template <typename Resp>
struct GatherState {
  absl::Mutex mu;
  std::map<std::string, absl::StatusOr<Resp>> results ABSL_GUARDED_BY(mu);
  size_t pending ABSL_GUARDED_BY(mu) = 0;
};

std::vector<std::string> DistinctNodes(const std::vector<ReplicaSet>& sets) {
  std::vector<std::string> nodes;
  for (const ReplicaSet& set : sets) {
    for (const std::string& n : set.nodes) {
      if (std::find(nodes.begin(), nodes.end(), n) == nodes.end()) nodes.push_back(n);
    }
  }
  return nodes;
}

// Sends via `send` to every node of `sets`; returns once W (or R) nodes of EACH set answered with
// a `good` response, or once that can no longer happen.
template <typename Resp>
Gathered<Resp> Gather(
    const std::vector<ReplicaSet>& sets, bool write_quorum, absl::string_view what,
    const std::function<void(const std::string&, AcceptorClient::Callback<Resp>)>& send,
    const std::function<bool(const Resp&)>& good) {
  auto state = std::make_shared<GatherState<Resp>>();
  const std::vector<std::string> nodes = DistinctNodes(sets);
  {
    absl::MutexLock lock(&state->mu);
    state->pending = nodes.size();
  }
  for (const std::string& node : nodes) {
    send(node, [state, node](absl::StatusOr<Resp> r) {
      absl::MutexLock lock(&state->mu);
      state->results.emplace(node, std::move(r));
      --state->pending;
    });
  }
  Gathered<Resp> out;
  auto decided = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) {
    bool all_ok = true;
    for (const ReplicaSet& set : sets) {
      const uint32_t q = write_quorum ? set.write_quorum : set.read_quorum;
      uint32_t ok = 0, unanswered = 0;
      for (const std::string& n : set.nodes) {
        auto it = state->results.find(n);
        if (it == state->results.end()) {
          ++unanswered;
        } else if (it->second.ok() && good(*it->second)) {
          ++ok;
        }
      }
      if (ok < q) {
        all_ok = false;
        if (ok + unanswered < q) return true;  // this set can no longer reach its quorum
      }
    }
    if (all_ok) out.success = true;
    return all_ok || state->pending == 0;
  };
  absl::MutexLock lock(&state->mu);
  state->mu.Await(absl::Condition(&decided));
  out.results = state->results;
  if (out.success) return out;
  // A refusal that retrying cannot fix (stale layout epoch, clock offset) is reported as such.
  for (const auto& [node, r] : out.results) {
    if (!r.ok() && absl::IsFailedPrecondition(r.status())) {
      out.failure = Restated(r.status(), absl::StrCat(what, ": ", r.status().message()));
      return out;
    }
  }
  // Describe the first set that failed.
  for (const ReplicaSet& set : sets) {
    const uint32_t q = write_quorum ? set.write_quorum : set.read_quorum;
    uint32_t ok = 0, refused = 0, failed = 0, unanswered = 0;
    absl::Status first_error;
    for (const std::string& n : set.nodes) {
      auto it = out.results.find(n);
      if (it == out.results.end()) {
        ++unanswered;
      } else if (!it->second.ok()) {
        ++failed;
        if (first_error.ok()) first_error = it->second.status();
      } else if (good(*it->second)) {
        ++ok;
      } else {
        ++refused;
      }
    }
    if (ok >= q) continue;
    const std::string detail = absl::StrCat(
        what, ": no quorum: ", failed, " of ", set.nodes.size(), " replicas unreachable, ", refused,
        " refused (contention), ", ok, " agreed, ", unanswered, " not yet answered (need ", q,
        " of ", set.nodes.size(), ")",
        first_error.ok() ? "" : absl::StrCat("; first error: ", first_error.message()));
    if (failed + unanswered > set.nodes.size() - q) {
      out.failure = absl::UnavailableError(detail);
    } else {
      out.failure = absl::AbortedError(detail);
    }
    break;
  }
  if (out.failure.ok()) out.failure = absl::UnavailableError(absl::StrCat(what, ": no quorum"));
  return out;
}

// Requests on the layout record itself are not epoch-checked.
uint64_t LayoutEpochFor(const LayoutView& view, const MetaKey& key) {
  if (!view.epoch_decided() || key.table() == tessera::v1::META_TABLE_LAYOUT) return 0;
  return view.current().epoch();
}

bool HasBallot(const Ballot& b) { return !b.proposer().empty(); }

// Ballot timestamp only (commit ballots in histories keep no proposer id).
bool TimestampLess(int64_t wall_a, uint32_t logical_a, int64_t wall_b, uint32_t logical_b) {
  return std::tie(wall_a, logical_a) < std::tie(wall_b, logical_b);
}

MetaValue ToMetaValue(const PaxosValue& v) {
  if (!v.exists()) return std::nullopt;
  return v.data();
}

// The highest committed and highest accepted value among good responses.
struct Current {
  Ballot committed_ballot;
  PaxosValue committed;
  bool in_progress = false;
  Ballot accepted_ballot;
  PaxosValue accepted;
  // The highest AcceptorState.purged_floor among the responses (no proposer: none). When no
  // responder holds a committed value, the key's earlier values and their op histories may have
  // been purged at or below it.
  Ballot purged_floor;
};

template <typename Resp>
Current Summarize(const std::map<std::string, absl::StatusOr<Resp>>& results,
                  const std::function<bool(const Resp&)>& good,
                  const std::function<const tessera::v1::AcceptorState&(const Resp&)>& state_of) {
  Current c;
  bool have_accepted = false;
  for (const auto& [node, r] : results) {
    if (!r.ok() || !good(*r)) continue;
    const auto& s = state_of(*r);
    if (BallotLess(c.committed_ballot, s.committed_ballot())) {
      c.committed_ballot = s.committed_ballot();
      c.committed = s.committed_value();
    }
    if (s.has_accepted() &&
        (!have_accepted || BallotLess(c.accepted_ballot, s.accepted_ballot()))) {
      have_accepted = true;
      c.accepted_ballot = s.accepted_ballot();
      c.accepted = s.accepted_value();
    }
    if (BallotLess(c.purged_floor, s.purged_floor())) c.purged_floor = s.purged_floor();
  }
  c.in_progress = have_accepted && BallotLess(c.committed_ballot, c.accepted_ballot);
  return c;
}

// What the replicas that promised in a Prepare round hold.
Current SummarizePromises(
    const std::map<std::string, absl::StatusOr<tessera::v1::PrepareResponse>>& results) {
  return Summarize<tessera::v1::PrepareResponse>(
      results, [](const tessera::v1::PrepareResponse& r) { return r.promised(); },
      [](const tessera::v1::PrepareResponse& r) -> const tessera::v1::AcceptorState& {
        return r.state();
      });
}

}  // namespace

absl::Status PaxosOptions::Validate() const {
  if (max_rounds < 1) return absl::InvalidArgumentError("PaxosOptions.max_rounds must be >= 1");
  if (backoff_base <= absl::ZeroDuration() || backoff_max < backoff_base) {
    return absl::InvalidArgumentError("PaxosOptions needs 0 < backoff_base <= backoff_max");
  }
  if (op_history < 1) return absl::InvalidArgumentError("PaxosOptions.op_history must be >= 1");
  if (commit_retries < 0) {
    return absl::InvalidArgumentError("PaxosOptions.commit_retries must be >= 0");
  }
  return absl::OkStatus();
}

// One proposer's view of one key during a CompareAndSet or Read.
struct PaxosProposer::Round {
  PaxosProposer* self;
  const std::vector<ReplicaSet>& sets;
  const MetaKey& key;
  uint64_t layout_epoch = 0;

  // Sends `req` to every replica with `method`, stamping the sender's wall clock, and learns
  // from each answer: the peer's clock offset (for the max-offset guard) and its promised ballot
  // (so our hybrid clock never issues a ballot below one already seen).
  template <typename Req, typename Resp>
  Gathered<Resp> SendObserving(Req& req, const char* what,
                               void (AcceptorClient::*method)(const std::string&, const Req&,
                                                              AcceptorClient::Callback<Resp>),
                               bool (*good)(const Resp&)) {
    req.set_layout_epoch(layout_epoch);
    HybridClock* hlc = self->hlc_;
    AcceptorClient* client = self->client_;
    return Gather<Resp>(
        sets, true, what,
        [&](const std::string& node, AcceptorClient::Callback<Resp> done) {
          const absl::Time sent = hlc->clock()->Now();
          req.set_sender_wall_micros(absl::ToUnixMicros(sent));
          (client->*method)(node, req,
                            [hlc, node, sent, done = std::move(done)](absl::StatusOr<Resp> r) {
                              if (r.ok()) {
                                hlc->ObservePeerClock(node, absl::FromUnixMicros(r->wall_micros()),
                                                      sent, hlc->clock()->Now());
                                const Ballot& p = r->promised_ballot();
                                hlc->Update(HlcTimestamp{p.wall_micros(), p.logical()});
                              }
                              done(std::move(r));
                            });
        },
        [good](const Resp& r) { return good(r); });
  }

  Gathered<tessera::v1::PrepareResponse> Prepare(const Ballot& ballot) {
    tessera::v1::PrepareRequest req;
    *req.mutable_key() = key;
    *req.mutable_ballot() = ballot;
    return SendObserving<tessera::v1::PrepareRequest, tessera::v1::PrepareResponse>(
        req, "prepare", &AcceptorClient::Prepare,
        [](const tessera::v1::PrepareResponse& r) { return r.promised(); });
  }

  // Prepare at `ballot`. OK once a quorum of each set promised; *cur then summarises what the
  // promising replicas hold. Else the quorum failure (FAILED_PRECONDITION: stale layout epoch).
  absl::Status PrepareQuorum(const Ballot& ballot, Current* cur) {
    auto prep = Prepare(ballot);
    if (!prep.success) return prep.failure;
    *cur = SummarizePromises(prep.results);
    return absl::OkStatus();
  }

  Gathered<tessera::v1::AcceptResponse> Accept(const Ballot& ballot, const PaxosValue& value) {
    tessera::v1::AcceptRequest req;
    *req.mutable_key() = key;
    *req.mutable_ballot() = ballot;
    *req.mutable_value() = value;
    return SendObserving<tessera::v1::AcceptRequest, tessera::v1::AcceptResponse>(
        req, "accept", &AcceptorClient::Accept,
        [](const tessera::v1::AcceptResponse& r) { return r.accepted(); });
  }

  // `observed`: when this proposer started the requests that showed `value` to be the newest
  // (acceptors that purged the key check it; CommitRequest.observed_wall_micros).
  Gathered<tessera::v1::CommitResponse> Commit(const Ballot& ballot, const PaxosValue& value,
                                               absl::Time observed) {
    tessera::v1::CommitRequest req;
    *req.mutable_key() = key;
    *req.mutable_ballot() = ballot;
    *req.mutable_value() = value;
    req.set_layout_epoch(layout_epoch);
    req.set_observed_wall_micros(absl::ToUnixMicros(observed));
    AcceptorClient* client = self->client_;
    HybridClock* hlc = self->hlc_;
    return Gather<tessera::v1::CommitResponse>(
        sets, true, "commit",
        [&](const std::string& node, AcceptorClient::Callback<tessera::v1::CommitResponse> done) {
          req.set_sender_wall_micros(absl::ToUnixMicros(hlc->clock()->Now()));
          client->Commit(node, req, std::move(done));
        },
        [](const tessera::v1::CommitResponse&) { return true; });
  }

  // Accept then Commit (with retries of the commit). OK only once the value is committed on W
  // replicas of each set: scans read committed values only, so a chosen but uncommitted value
  // is not yet visible to them. *chosen tells whether the Accept reached its quorums (then a
  // failure is the commit's, e.g. "stale layout epoch" after a layout change).
  absl::Status Propose(const Ballot& ballot, const PaxosValue& value, bool* chosen) {
    *chosen = false;
    const absl::Time observed = self->hlc_->clock()->Now();
    auto accepted = Accept(ballot, value);
    if (!accepted.success) return accepted.failure;
    *chosen = true;
    absl::Status last = absl::UnavailableError("commit: not attempted");
    for (int attempt = 0; attempt <= self->options_.commit_retries; ++attempt) {
      if (attempt > 0) self->Backoff(attempt);
      auto committed = Commit(ballot, value, observed);
      if (committed.success) return absl::OkStatus();
      last = committed.failure;
      if (absl::IsFailedPrecondition(last)) break;  // stale layout epoch: retrying cannot help
    }
    TESSERA_LOG(WARNING, "meta_commit_incomplete")
        .Field("ballot", BallotToString(ballot))
        .Field("error", last.message());
    return last;
  }
};

PaxosProposer::PaxosProposer(std::string proposer_id, HybridClock* hlc, AcceptorClient* client,
                             PaxosOptions options)
    : proposer_id_(std::move(proposer_id)),
      hlc_(hlc),
      client_(client),
      options_(options.Validate().ok() ? options : PaxosOptions{}),
      random_(std::hash<std::string>()(proposer_id_) ^
              static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()))) {}

Ballot PaxosProposer::NewBallot() {
  HlcTimestamp ts = hlc_->Now();
  Ballot b;
  b.set_wall_micros(ts.wall_micros);
  b.set_logical(ts.logical);
  b.set_proposer(proposer_id_);
  return b;
}

uint64_t PaxosProposer::NewOpId() {
  uint64_t id = 0;
  while (id == 0) id = SecureRandomU64();
  return id;
}

void PaxosProposer::Backoff(int round) {
  absl::Duration cap = options_.backoff_base * (int64_t{1} << std::min(round, 16));
  if (cap > options_.backoff_max) cap = options_.backoff_max;
  int64_t micros = absl::ToInt64Microseconds(cap);
  int64_t sleep = 0;
  {
    absl::MutexLock lock(&mu_);
    sleep = random_.Range(micros / 2, std::max<int64_t>(micros, 1));
  }
  hlc_->clock()->SleepFor(absl::Microseconds(sleep));
}

// One CompareAndSet call, split into the phases of a round. Each round runs
//   Prepare -> LearnEarlierProposal (only once a proposal of this operation is in flight)
//           -> FinishInProgress (someone else's update) -> ProposeUpdate (Accept, then Commit)
// and each phase either hands over to the next one, ends the round (retry after a backoff),
// gives up (a stale layout epoch: no round on this view can succeed) or ends the call.
// Not thread-safe: one object per call, on the caller's stack.
struct PaxosProposer::CasOperation {
  // What a phase tells the round loop to do next.
  enum class Flow {
    kNextPhase,  // go on with the next phase of this round
    kNextRound,  // end this round; retry after a backoff (last_error says why)
    kGiveUp,     // stop retrying: last_error is final (stale layout epoch)
    kDone,       // the call is over: result holds its outcome
  };

  PaxosProposer* self;
  const LayoutView& view;
  const MetaKey& key;
  const UpdateFn& fn;
  std::optional<ChosenUncommitted>* unfinished;
  // Carried across calls of the same logical operation (see CasProgress): the op id, the lowest
  // ballot an Accept of this operation's value was sent at without learning that it was chosen,
  // and the value last proposed.
  CasProgress& state;
  Round round;
  absl::Status last_error = absl::AbortedError("no round ran");
  std::optional<absl::StatusOr<MetaValue>> result = std::nullopt;

  absl::StatusOr<MetaValue> Run() {
    if (state.op_id == 0) state.op_id = self->NewOpId();
    for (int r = 0; r < self->options_.max_rounds; ++r) {
      if (r > 0) self->Backoff(r);
      if (!state.first_in_flight) {
        if (absl::Status s = self->hlc_->CheckOffset(); !s.ok()) return s;
      }
      const Ballot ballot = self->NewBallot();
      Current cur;
      Flow flow = Prepare(ballot, &cur);
      if (flow == Flow::kNextPhase && state.first_in_flight) {
        flow = LearnEarlierProposal(ballot, cur);
      }
      if (flow == Flow::kNextPhase) flow = FinishInProgress(ballot, cur);
      if (flow == Flow::kNextPhase) flow = ProposeUpdate(ballot, cur);
      if (flow == Flow::kDone) return *std::move(result);
      if (flow == Flow::kGiveUp) break;
    }
    return RoundsExhausted();
  }

  Flow Done(absl::StatusOr<MetaValue> outcome) {
    result = std::move(outcome);
    return Flow::kDone;
  }

  // Records a failed step of this round: a stale layout epoch ends the call, anything else
  // (no quorum, a lost race) is retried in a new round.
  Flow Failed(absl::Status status) {
    last_error = std::move(status);
    return absl::IsFailedPrecondition(last_error) ? Flow::kGiveUp : Flow::kNextRound;
  }

  // Phase 1: win a Prepare quorum at `ballot`; *cur is what the promising replicas hold.
  Flow Prepare(const Ballot& ballot, Current* cur) {
    absl::Status s = round.PrepareQuorum(ballot, cur);
    return s.ok() ? Flow::kNextPhase : Failed(std::move(s));
  }

  // Phase 2, once an Accept of this operation was sent without learning its outcome (in this
  // call or an earlier one): was that proposal applied? Ends the call when it was, or when the
  // answer cannot be known; else the prepare just won means it never will be, so go on.
  Flow LearnEarlierProposal(const Ballot& ballot, const Current& cur) {
    const uint64_t op_id = state.op_id;
    const Ballot& first_in_flight = *state.first_in_flight;
    if (cur.committed.op_id() == op_id) return Done(ToMetaValue(cur.committed));
    if (cur.in_progress && cur.accepted.op_id() == op_id) {
      bool chosen = false;
      absl::Status s = round.Propose(ballot, cur.accepted, &chosen);
      if (s.ok()) return Done(ToMetaValue(cur.accepted));
      if (chosen) return Done(FinishOrReportChosen(ballot, ToMetaValue(cur.accepted), s));
      return Failed(std::move(s));
    }
    bool in_history = false;
    for (const auto& h : cur.committed.history()) in_history |= h.op_id() == op_id;
    if (in_history) return Done(ToMetaValue(state.proposed));
    // Every update committed at or after our first Accept must be listed to rule ours out.
    bool complete = !BallotLess(first_in_flight, cur.committed_ballot) &&
                    CompareBallots(first_in_flight, cur.committed_ballot) != 0;
    if (!HasBallot(cur.committed_ballot) && HasBallot(cur.purged_floor)) {
      // No value, but the key was purged: ours may have been applied and then purged with its
      // op id (it would have been committed at or after our first Accept), unless the purges
      // only forgot updates committed before it.
      complete = BallotLess(cur.purged_floor, first_in_flight);
    } else if (!complete) {
      if (!cur.committed.history_truncated()) {
        complete = true;
      } else if (cur.committed.history_size() > 0) {
        const auto& oldest = cur.committed.history(cur.committed.history_size() - 1);
        complete = TimestampLess(oldest.commit_wall_micros(), oldest.commit_logical(),
                                 first_in_flight.wall_micros(), first_in_flight.logical());
      }
    }
    if (!complete) {
      return Done(MarkOutcomeUnknown(absl::AbortedError(
          "compare-and-set outcome unknown: too many concurrent updates of the key since this "
          "update's proposal; it was applied at most once")));
    }
    return Flow::kNextPhase;
  }

  // Phase 3: an update of someone else is in progress: finish it first, then start over.
  Flow FinishInProgress(const Ballot& ballot, const Current& cur) {
    if (!cur.in_progress) return Flow::kNextPhase;
    bool chosen = false;
    absl::Status s = round.Propose(ballot, cur.accepted, &chosen);
    if (s.ok()) s = absl::AbortedError("finished an in-progress update; retrying");
    return Failed(std::move(s));
  }

  // Phase 4: apply fn to the committed value, then Accept and Commit the result at `ballot`.
  Flow ProposeUpdate(const Ballot& ballot, const Current& cur) {
    absl::StatusOr<MetaValue> next = fn(ToMetaValue(cur.committed));
    if (!next.ok()) return Done(Refuse(cur, next.status()));
    if (next->has_value() && (*next)->size() > kMaxMetaValueBytes) {
      // Acceptors could not receive it (meta_limits.h): refuse before proposing anything.
      return Done(Refuse(cur, absl::InvalidArgumentError(absl::StrCat(
                                  "metadata value of ", (*next)->size(),
                                  " bytes exceeds the limit of ", kMaxMetaValueBytes, " bytes"))));
    }
    BuildProposal(cur, *next);
    std::optional<Ballot>& first_in_flight = state.first_in_flight;
    if (!first_in_flight || BallotLess(ballot, *first_in_flight)) first_in_flight = ballot;
    bool chosen = false;
    absl::Status s = round.Propose(ballot, state.proposed, &chosen);
    if (s.ok()) return Done(*std::move(next));
    if (chosen) return Done(FinishOrReportChosen(ballot, *std::move(next), s));
    return Failed(std::move(s));
  }

  // Refusing proposes nothing, but an earlier proposal of this update above the current value
  // is not yet ruled out: a replica outside this round's quorum may hold it accepted, and a later
  // round (another proposer's) may finish it. Only a value committed above it does.
  absl::Status Refuse(const Current& cur, absl::Status status) const {
    const bool earlier_may_apply =
        state.first_in_flight && BallotLess(cur.committed_ballot, *state.first_in_flight);
    if (!earlier_may_apply) return status;
    return MarkOutcomeUnknown(
        Restated(status, absl::StrCat(status.message(),
                                      " (an earlier proposal of this compare-and-set may yet "
                                      "be applied, at most once)")));
  }

  // Sets state.proposed to `next` with this operation's id and the op history of the key: the
  // committed value's op first, then its own history, truncated to options.op_history entries.
  void BuildProposal(const Current& cur, const MetaValue& next) {
    PaxosValue& proposed = state.proposed;
    proposed.Clear();
    proposed.set_format_version(1);
    proposed.set_exists(next.has_value());
    if (next.has_value()) proposed.set_data(*next);
    proposed.set_op_id(state.op_id);
    bool truncated = cur.committed.history_truncated();
    if (cur.committed.op_id() != 0) {
      auto* h = proposed.add_history();
      h->set_op_id(cur.committed.op_id());
      h->set_commit_wall_micros(cur.committed_ballot.wall_micros());
      h->set_commit_logical(cur.committed_ballot.logical());
    }
    if (!HasBallot(cur.committed_ballot) && HasBallot(cur.purged_floor)) {
      // A value on a purged key: the updates before it are forgotten up to the floor. Op id 0
      // (never an update's) marks how far, as the oldest entry of a truncated history.
      auto* h = proposed.add_history();
      h->set_commit_wall_micros(cur.purged_floor.wall_micros());
      h->set_commit_logical(cur.purged_floor.logical());
      truncated = true;
    }
    for (const auto& h : cur.committed.history()) {
      if (static_cast<uint32_t>(proposed.history_size()) >= self->options_.op_history) {
        truncated = true;
        break;
      }
      *proposed.add_history() = h;
    }
    proposed.set_history_truncated(truncated);
  }

  // A value of this call was chosen at `ballot` but its commits failed: finish it on this view,
  // else fail outcome-unknown and report it so the caller can finish it on a newer view.
  absl::StatusOr<MetaValue> FinishOrReportChosen(const Ballot& ballot, MetaValue value,
                                                 const absl::Status& commit_error) {
    absl::Status finish = absl::IsFailedPrecondition(commit_error)
                              ? commit_error
                              : self->FinishChosen(view, key, ballot);
    if (finish.ok()) return value;
    if (unfinished != nullptr) *unfinished = ChosenUncommitted{ballot, std::move(value)};
    return MarkOutcomeUnknown(Restated(
        finish,
        absl::StrCat(
            "compare-and-set chosen but not committed (key partition ", key.partition(),
            "); it is applied once a read or a later update finishes it: ", finish.message())));
  }

  // No round succeeded within options.max_rounds (or the layout epoch is stale).
  absl::Status RoundsExhausted() const {
    const std::string where = absl::StrCat(" (key partition ", key.partition(), ", after ",
                                           self->options_.max_rounds, " rounds)");
    if (state.first_in_flight) {
      return MarkOutcomeUnknown(Restated(
          last_error, absl::StrCat("compare-and-set outcome unknown, it may yet be applied "
                                   "(at most once): ",
                                   last_error.message(), where)));
    }
    return Restated(last_error, absl::StrCat(last_error.message(), where));
  }
};

absl::StatusOr<MetaValue> PaxosProposer::CompareAndSet(const LayoutView& view, const MetaKey& key,
                                                       const UpdateFn& fn,
                                                       std::optional<ChosenUncommitted>* unfinished,
                                                       CasProgress* progress) {
  const std::vector<ReplicaSet> sets = view.ReplicaSets(key.partition());
  CasProgress local_progress;
  CasOperation op{this,
                  view,
                  key,
                  fn,
                  unfinished,
                  progress != nullptr ? *progress : local_progress,
                  Round{this, sets, key, LayoutEpochFor(view, key)}};
  return op.Run();
}

absl::StatusOr<MetaValue> PaxosProposer::Read(const LayoutView& view, const MetaKey& key) {
  const std::vector<ReplicaSet> sets = view.ReplicaSets(key.partition());
  Round round{this, sets, key, LayoutEpochFor(view, key)};
  absl::Status last_error = absl::UnavailableError("no round ran");
  tessera::v1::ReadRequest req;
  *req.mutable_key() = key;
  req.set_layout_epoch(round.layout_epoch);
  const std::function<bool(const tessera::v1::ReadResponse&)> any = [](const auto&) {
    return true;
  };
  const std::function<const tessera::v1::AcceptorState&(const tessera::v1::ReadResponse&)>
      read_state = [](const tessera::v1::ReadResponse& r) -> const tessera::v1::AcceptorState& {
    return r.state();
  };

  for (int r = 0; r < options_.max_rounds; ++r) {
    if (r > 0) Backoff(r);
    const absl::Time observed = hlc_->clock()->Now();
    auto reads = Gather<tessera::v1::ReadResponse>(
        sets, false, "read",
        [&](const std::string& node, AcceptorClient::Callback<tessera::v1::ReadResponse> done) {
          client_->Read(node, req, std::move(done));
        },
        any);
    if (!reads.success) {
      last_error = reads.failure;
      if (absl::IsFailedPrecondition(last_error)) break;
      continue;
    }
    Current cur = Summarize(reads.results, any, read_state);
    if (!cur.in_progress) {
      // Repair responders that missed the latest commit (fire and forget).
      if (HasBallot(cur.committed_ballot)) {
        for (const auto& [node, resp] : reads.results) {
          if (!resp.ok() || !BallotLess(resp->state().committed_ballot(), cur.committed_ballot)) {
            continue;
          }
          tessera::v1::CommitRequest c;
          *c.mutable_key() = key;
          *c.mutable_ballot() = cur.committed_ballot;
          *c.mutable_value() = cur.committed;
          c.set_layout_epoch(round.layout_epoch);
          c.set_sender_wall_micros(absl::ToUnixMicros(hlc_->clock()->Now()));
          c.set_observed_wall_micros(absl::ToUnixMicros(observed));
          client_->Commit(node, c, [](absl::StatusOr<tessera::v1::CommitResponse>) {});
        }
      }
      return ToMetaValue(cur.committed);
    }
    // An update is in progress: a Paxos round without a change of our own settles it.
    const Ballot ballot = NewBallot();
    Current pc;
    if (absl::Status s = round.PrepareQuorum(ballot, &pc); !s.ok()) {
      last_error = s;
      if (absl::IsFailedPrecondition(last_error)) break;
      continue;
    }
    if (!pc.in_progress) return ToMetaValue(pc.committed);
    bool chosen = false;
    absl::Status s = round.Propose(ballot, pc.accepted, &chosen);
    if (s.ok()) return ToMetaValue(pc.accepted);
    last_error = s;
    if (absl::IsFailedPrecondition(last_error)) break;
  }
  return Restated(last_error,
                  absl::StrCat(last_error.message(), " (key partition ", key.partition(),
                               ", after ", options_.max_rounds, " rounds)"));
}

absl::Status PaxosProposer::FinishChosen(const LayoutView& view, const MetaKey& key,
                                         const Ballot& chosen_ballot) {
  const std::vector<ReplicaSet> sets = view.ReplicaSets(key.partition());
  Round round{this, sets, key, LayoutEpochFor(view, key)};
  absl::Status last_error = absl::UnavailableError("no round ran");
  for (int r = 0; r < options_.max_rounds; ++r) {
    if (r > 0) Backoff(r);
    const Ballot ballot = NewBallot();
    const absl::Time observed = hlc_->clock()->Now();
    Current cur;
    if (absl::Status s = round.PrepareQuorum(ballot, &cur); !s.ok()) {
      last_error = s;
      if (absl::IsFailedPrecondition(last_error)) break;
      continue;
    }
    // A Prepare quorum of a view that overlaps the one the value was chosen on holds that value
    // (accepted or committed) or a later one.
    const Ballot& newest = cur.in_progress ? cur.accepted_ballot : cur.committed_ballot;
    if (BallotLess(newest, chosen_ballot)) {
      return absl::DataLossError(
          absl::StrCat("finishing a chosen update: no replica of the view holds it (key partition ",
                       key.partition(), ", ballot ", BallotToString(chosen_ballot), ")"));
    }
    if (cur.in_progress) {
      // The chosen value, or a later update built on it: finish it at our ballot.
      bool chosen = false;
      last_error = round.Propose(ballot, cur.accepted, &chosen);
      if (last_error.ok()) return absl::OkStatus();
      if (absl::IsFailedPrecondition(last_error)) break;
      continue;
    }
    // Committed somewhere: commit the current value (at its own ballot) on W of each set.
    auto committed = round.Commit(cur.committed_ballot, cur.committed, observed);
    if (committed.success) return absl::OkStatus();
    last_error = committed.failure;
    if (absl::IsFailedPrecondition(last_error)) break;
  }
  return Restated(last_error, absl::StrCat("finishing a chosen update: ", last_error.message(),
                                           " (key partition ", key.partition(), ")"));
}

absl::StatusOr<ScanResult> PaxosProposer::Scan(const LayoutView& view, uint32_t partition,
                                               tessera::v1::MetaTable table,
                                               const std::string& bucket, const std::string& start,
                                               const std::string& end, uint32_t limit,
                                               const std::string& page_token) {
  if (limit == 0) return absl::InvalidArgumentError("scan limit must be >= 1");
  const std::vector<ReplicaSet> sets = view.ReplicaSets(partition);
  ScanResult out;
  size_t bytes = 0;  // values in `out`
  std::string token = page_token;
  const std::function<bool(const tessera::v1::ScanResponse&)> any = [](const auto&) {
    return true;
  };
  for (int page = 0; page < 10000; ++page) {
    tessera::v1::ScanRequest req;
    req.set_partition(partition);
    req.set_table(table);
    req.set_bucket(bucket);
    req.set_start_key(start);
    req.set_end_key(end);
    req.set_limit(std::max<uint32_t>(limit - static_cast<uint32_t>(out.items.size()), 16));
    req.set_page_token(token);
    req.set_layout_epoch(view.epoch_decided() ? view.current().epoch() : 0);
    auto got = Gather<tessera::v1::ScanResponse>(
        sets, false, "scan",
        [&](const std::string& node, AcceptorClient::Callback<tessera::v1::ScanResponse> done) {
          client_->Scan(node, req, std::move(done));
        },
        any);
    if (!got.success) {
      return Restated(got.failure,
                      absl::StrCat(got.failure.message(), " (partition ", partition, ")"));
    }
    // Merge: per encoded key the entry with the highest committed ballot. A replica that stopped
    // at a page boundary has not told us about keys past it, so stop at the smallest boundary.
    std::map<std::string, const tessera::v1::ScanEntry*> merged;
    std::optional<std::string> cut;
    for (const auto& [node, r] : got.results) {
      if (!r.ok()) continue;
      for (const auto& e : r->entries()) {
        std::string k = EncodeMetaKey(e.key());
        auto [it, inserted] = merged.emplace(k, &e);
        if (!inserted && BallotLess(it->second->committed_ballot(), e.committed_ballot())) {
          it->second = &e;
        }
      }
      if (!r->next_page_token().empty() && (!cut || r->next_page_token() < *cut)) {
        cut = r->next_page_token();
      }
    }
    for (const auto& [k, e] : merged) {
      if (cut && k > *cut) break;
      if (!e->value().exists()) continue;
      out.items.push_back(ScanItem{e->key(), e->value().data()});
      bytes += e->value().data().size();
      if (out.items.size() == limit || bytes >= kScanResultBytes) {
        // More may follow unless every replica reached the end of the range here.
        if (cut || k != merged.rbegin()->first) out.next_page_token = k;
        return out;
      }
    }
    if (!cut) return out;
    token = *cut;
  }
  return absl::DeadlineExceededError("scan did not finish within 10000 pages");
}

}  // namespace tessera::services
