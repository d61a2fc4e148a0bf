#include "services/meta/meta_client.h"

#include <chrono>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "base/logging.h"
#include "base/sodium.h"
#include "base/status_reasons.h"
#include "services/meta/acceptor_store.h"
#include "services/meta/meta_key.h"
#include "services/meta/meta_limits.h"
#include "services/meta/meta_service.h"

namespace tessera::services {

void GrpcAcceptorClient::SetMembers(const std::vector<MetaMember>& members) {
  absl::MutexLock lock(&mu_);
  addresses_.clear();
  for (const MetaMember& m : members) addresses_[m.node_id] = m.address;
}

void GrpcAcceptorClient::AddMembers(const std::vector<MetaMember>& members) {
  absl::MutexLock lock(&mu_);
  for (const MetaMember& m : members) addresses_[m.node_id] = m.address;
}

std::shared_ptr<tessera::v1::MetaService::Stub> GrpcAcceptorClient::StubFor(
    const std::string& node_id, std::string* address) {
  absl::MutexLock lock(&mu_);
  auto it = addresses_.find(node_id);
  if (it == addresses_.end()) return nullptr;
  *address = it->second;
  // Keyed by id and address: the channel checks over TLS that its peer is `node_id`, so a
  // different node taking over the address needs a channel of its own.
  auto& stub = stubs_[std::make_pair(node_id, it->second)];
  if (!stub) {
    // Responses up to what nodes send (meta_limits.h: a Prepare carrying two large values).
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(static_cast<int>(kMaxMetaResponseBytes));
    // Retry a refused connection at least every second (gRPC's default backoff grows to 120 s):
    // a node restarted at its address must count towards quorums again at once, not minutes
    // later, or the next failure in that window costs quorums the cluster actually has.
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    // Mutual TLS: the server must prove it is `node_id` (p2p/auth/cluster_tls.h).
    stub =
        tessera::v1::MetaService::NewStub(p2p::CreateNodeChannel(it->second, args, auth_, node_id));
  }
  return stub;
}

template <typename Req, typename Resp, typename Method>
void GrpcAcceptorClient::Call(const std::string& node_id, const char* name, const Req& request,
                              Callback<Resp> done, Method method) {
  if (observer_) observer_(node_id, name);
  std::string address;
  std::shared_ptr<tessera::v1::MetaService::Stub> stub = StubFor(node_id, &address);
  if (stub == nullptr) {
    done(absl::UnavailableError(absl::StrCat("no address for metadata node ", node_id)));
    return;
  }
  struct State {
    grpc::ClientContext context;
    Req request;
    Resp response;
    Callback<Resp> done;
    std::shared_ptr<tessera::v1::MetaService::Stub> stub;
    std::string node;
  };
  auto* state = new State;
  state->request = request;
  state->done = std::move(done);
  state->stub = stub;
  state->node = node_id;
  state->context.set_deadline(std::chrono::system_clock::now() +
                              absl::ToChronoMilliseconds(deadline_));
  {
    absl::MutexLock lock(&in_flight_mu_);
    ++in_flight_;
  }
  (stub->async()->*method)(
      &state->context, &state->request, &state->response, [this, state](grpc::Status s) {
        {
          std::unique_ptr<State> owned(state);
          if (s.ok()) {
            owned->done(std::move(owned->response));
          } else {
            absl::Status st = FromGrpcStatus(s);
            owned->done(
                Restated(st, absl::StrCat("metadata node ", owned->node, ": ", st.message())));
          }
        }
        // Last touch of `this`: the destructor may run as soon as the count drops.
        absl::MutexLock lock(&in_flight_mu_);
        --in_flight_;
      });
}

GrpcAcceptorClient::~GrpcAcceptorClient() {
  absl::MutexLock lock(&in_flight_mu_);
  in_flight_mu_.Await(absl::Condition(
      +[](int* n) { return *n == 0; }, &in_flight_));
}

void GrpcAcceptorClient::Prepare(const std::string& node_id,
                                 const tessera::v1::PrepareRequest& request,
                                 Callback<tessera::v1::PrepareResponse> done) {
  Call<tessera::v1::PrepareRequest, tessera::v1::PrepareResponse>(
      node_id, "Prepare", request, std::move(done),
      static_cast<void (tessera::v1::MetaService::Stub::async_interface::*)(
          grpc::ClientContext*, const tessera::v1::PrepareRequest*, tessera::v1::PrepareResponse*,
          std::function<void(grpc::Status)>)>(
          &tessera::v1::MetaService::Stub::async_interface::Prepare));
}
void GrpcAcceptorClient::Accept(const std::string& node_id,
                                const tessera::v1::AcceptRequest& request,
                                Callback<tessera::v1::AcceptResponse> done) {
  Call<tessera::v1::AcceptRequest, tessera::v1::AcceptResponse>(
      node_id, "Accept", request, std::move(done),
      static_cast<void (tessera::v1::MetaService::Stub::async_interface::*)(
          grpc::ClientContext*, const tessera::v1::AcceptRequest*, tessera::v1::AcceptResponse*,
          std::function<void(grpc::Status)>)>(
          &tessera::v1::MetaService::Stub::async_interface::Accept));
}
void GrpcAcceptorClient::Commit(const std::string& node_id,
                                const tessera::v1::CommitRequest& request,
                                Callback<tessera::v1::CommitResponse> done) {
  Call<tessera::v1::CommitRequest, tessera::v1::CommitResponse>(
      node_id, "Commit", request, std::move(done),
      static_cast<void (tessera::v1::MetaService::Stub::async_interface::*)(
          grpc::ClientContext*, const tessera::v1::CommitRequest*, tessera::v1::CommitResponse*,
          std::function<void(grpc::Status)>)>(
          &tessera::v1::MetaService::Stub::async_interface::Commit));
}
void GrpcAcceptorClient::Read(const std::string& node_id, const tessera::v1::ReadRequest& request,
                              Callback<tessera::v1::ReadResponse> done) {
  Call<tessera::v1::ReadRequest, tessera::v1::ReadResponse>(
      node_id, "Read", request, std::move(done),
      static_cast<void (tessera::v1::MetaService::Stub::async_interface::*)(
          grpc::ClientContext*, const tessera::v1::ReadRequest*, tessera::v1::ReadResponse*,
          std::function<void(grpc::Status)>)>(
          &tessera::v1::MetaService::Stub::async_interface::Read));
}
void GrpcAcceptorClient::Scan(const std::string& node_id, const tessera::v1::ScanRequest& request,
                              Callback<tessera::v1::ScanResponse> done) {
  Call<tessera::v1::ScanRequest, tessera::v1::ScanResponse>(
      node_id, "Scan", request, std::move(done),
      static_cast<void (tessera::v1::MetaService::Stub::async_interface::*)(
          grpc::ClientContext*, const tessera::v1::ScanRequest*, tessera::v1::ScanResponse*,
          std::function<void(grpc::Status)>)>(
          &tessera::v1::MetaService::Stub::async_interface::Scan));
}

void GrpcAcceptorClient::JoinPartitions(const std::string& node_id,
                                        const tessera::v1::JoinPartitionsRequest& request,
                                        Callback<tessera::v1::JoinPartitionsResponse> done) {
  Call<tessera::v1::JoinPartitionsRequest, tessera::v1::JoinPartitionsResponse>(
      node_id, "JoinPartitions", request, std::move(done),
      static_cast<void (tessera::v1::MetaService::Stub::async_interface::*)(
          grpc::ClientContext*, const tessera::v1::JoinPartitionsRequest*,
          tessera::v1::JoinPartitionsResponse*, std::function<void(grpc::Status)>)>(
          &tessera::v1::MetaService::Stub::async_interface::JoinPartitions));
}

absl::Status MetaClientOptions::Validate() const {
  if (absl::Status s = paxos.Validate(); !s.ok()) return s;
  if (absl::Status s = clock_options.Validate(); !s.ok()) return s;
  if (rpc_deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("MetaClientOptions.rpc_deadline must be > 0");
  }
  return absl::OkStatus();
}

namespace {
std::string RandomClientId() {
  return absl::StrCat("gw-", absl::BytesToHexString(SecureRandomString(8)));
}
}  // namespace

absl::StatusOr<std::unique_ptr<MetaClient>> MetaClient::Create(LayoutView view,
                                                               MetaClientOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  if (options.clock == nullptr) options.clock = Clock::Real();
  if (options.client_id.empty()) options.client_id = RandomClientId();
  return std::unique_ptr<MetaClient>(new MetaClient(std::move(view), std::move(options)));
}

MetaClient::MetaClient(LayoutView view, MetaClientOptions options)
    : options_(std::move(options)),
      hlc_(options_.clock, options_.clock_options),
      transport_(options_.rpc_deadline, options_.auth, options_.rpc_observer),
      proposer_(options_.client_id, &hlc_, &transport_, options_.paxos),
      view_(std::move(view)) {
  SetLayout(view_);
}

void MetaClient::SetLayout(LayoutView view) {
  std::vector<MetaMember> members = view.current().members();
  if (const Layout* prev = view.previous()) {
    for (const MetaMember& m : prev->members()) {
      if (view.current().FindMember(m.node_id) == nullptr) members.push_back(m);
    }
  }
  transport_.SetMembers(members);
  absl::MutexLock lock(&mu_);
  view_ = std::move(view);
}

LayoutView MetaClient::layout() const {
  absl::MutexLock lock(&mu_);
  return view_;
}

uint32_t MetaClient::partitions() const { return layout().partitions(); }

namespace {
// The newest LayoutRecord.format_version this binary follows (0 = unset, read as 1).
constexpr uint32_t kNewestLayoutRecordFormat = 1;

// OK, or kNewerFormat for a layout record written by a newer binary: a gateway must not follow
// (or replace) a layout whose meaning it may not know.
absl::Status CheckLayoutRecordFormat(const tessera::v1::LayoutRecord& record) {
  if (record.format_version() <= kNewestLayoutRecordFormat) return absl::OkStatus();
  return NewerFormatError("metadata layout record", record.format_version(),
                          kNewestLayoutRecordFormat);
}

// A lost compare-and-set of the layout record: FAILED_PRECONDITION with its typed reason.
absl::Status LayoutChanged(std::string message) {
  return WithReason(absl::FailedPreconditionError(std::move(message)),
                    StatusReason::kLayoutChanged);
}
std::vector<MetaMember> AllRecordMembers(const tessera::v1::LayoutRecord& r) {
  std::vector<MetaMember> out = RecordMembers(r);
  for (MetaMember& m : RecordPreviousMembers(r)) {
    bool known = false;
    for (const MetaMember& o : out) known |= o.node_id == m.node_id;
    if (!known) out.push_back(std::move(m));
  }
  return out;
}

// Waits for `n` callbacks.
class Waiter {
 public:
  explicit Waiter(int n) : pending_(n) {}
  void Done() {
    absl::MutexLock lock(&mu_);
    --pending_;
  }
  void Wait() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* p) { return *p <= 0; }, &pending_));
  }

 private:
  absl::Mutex mu_;
  int pending_ ABSL_GUARDED_BY(mu_);
};
}  // namespace

template <typename T>
absl::StatusOr<T> MetaClient::WithLayoutRetry(const std::function<absl::StatusOr<T>()>& op) {
  absl::StatusOr<T> result = op();
  for (int attempt = 0; attempt < 3 && !result.ok() && IsStaleLayoutEpoch(result.status());
       ++attempt) {
    if (!layout_record().has_value()) break;
    if (absl::StatusOr<tessera::v1::LayoutRecord> r = ReloadLayout(); !r.ok()) break;
    result = op();
  }
  return result;
}

absl::StatusOr<MetaValue> MetaClient::Get(const tessera::v1::MetaKey& key) {
  return WithLayoutRetry<MetaValue>([&] { return proposer_.Read(layout(), key); });
}

absl::StatusOr<MetaValue> MetaClient::CompareAndSet(const tessera::v1::MetaKey& key,
                                                    const UpdateFn& fn) {
  // A stale-epoch refusal that ends the call comes before any Accept of this call reached a
  // quorum, or the failure is outcome-unknown (not retried), so fn's update applies at most once.
  std::optional<ChosenUncommitted> unfinished;
  // Shared by every attempt: a retry after a stale-epoch refusal first checks whether an earlier
  // attempt's unacknowledged proposal was applied, rather than applying fn a second time.
  CasProgress progress;
  absl::StatusOr<MetaValue> result = WithLayoutRetry<MetaValue>([&]() -> absl::StatusOr<MetaValue> {
    unfinished.reset();
    absl::StatusOr<MetaValue> r =
        proposer_.CompareAndSet(layout(), key, fn, &unfinished, &progress);
    // Chosen: running fn again would apply the update twice, so never retry it as stale.
    if (unfinished.has_value()) return absl::AbortedError(r.status().message());
    return r;
  });
  if (result.ok() || !unfinished.has_value()) return result;
  // The update was chosen but its commits failed, typically refused as "stale layout epoch"
  // because the layout moved on meanwhile. Scans read committed values only, so it must not be
  // acknowledged yet: reload the layout and finish it (a Paxos round on the new view) first.
  absl::Status status = result.status();
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (layout_record().has_value()) {
      if (absl::StatusOr<tessera::v1::LayoutRecord> r = ReloadLayout(); !r.ok()) {
        status = r.status();
        continue;
      }
    }
    status = proposer_.FinishChosen(layout(), key, unfinished->ballot);
    if (status.ok()) {
      TESSERA_LOG(INFO, "meta_chosen_update_finished")
          .Field("ballot", BallotToString(unfinished->ballot))
          .Field("epoch", layout().current().epoch());
      return unfinished->value;
    }
    if (!IsStaleLayoutEpoch(status) && !absl::IsUnavailable(status) && !absl::IsAborted(status))
      break;
  }
  return MarkOutcomeUnknown(
      Restated(status, absl::StrCat("compare-and-set chosen but not committed after a layout "
                                    "change; it is applied once a read or a later update "
                                    "finishes it: ",
                                    status.message())));
}

absl::StatusOr<ScanResult> MetaClient::Scan(const std::string& bucket, const std::string& start,
                                            const std::string& end, uint32_t limit,
                                            const std::string& page_token) {
  return WithLayoutRetry<ScanResult>([&]() -> absl::StatusOr<ScanResult> {
    LayoutView view = layout();
    return proposer_.Scan(view, PartitionForShard(bucket, 0, view.partitions()),
                          tessera::v1::META_TABLE_OBJECT, bucket, start, end, limit, page_token);
  });
}

std::optional<tessera::v1::LayoutRecord> MetaClient::layout_record() const {
  absl::MutexLock lock(&mu_);
  return record_;
}

absl::StatusOr<std::optional<tessera::v1::LayoutRecord>> MetaClient::ReadRecord(
    const LayoutView& view) {
  transport_.AddMembers(view.current().members());
  if (view.previous() != nullptr) transport_.AddMembers(view.previous()->members());
  absl::StatusOr<MetaValue> v = proposer_.Read(view, LayoutRecordKey());
  if (!v.ok()) return v.status();
  if (!v->has_value()) return std::optional<tessera::v1::LayoutRecord>();
  tessera::v1::LayoutRecord record;
  if (!record.ParseFromString(**v)) return absl::DataLossError("corrupt metadata layout record");
  if (absl::Status s = CheckLayoutRecordFormat(record); !s.ok()) return s;
  if (record.epoch() == 0 || record.members_size() == 0) {
    return absl::DataLossError("corrupt metadata layout record");
  }
  return std::optional<tessera::v1::LayoutRecord>(std::move(record));
}

absl::Status MetaClient::Follow(const tessera::v1::LayoutRecord& record) {
  absl::StatusOr<LayoutView> view = DataLayoutView(record);
  if (!view.ok()) return view.status();
  {
    absl::MutexLock lock(&mu_);
    if (record_.has_value() && record_->epoch() > record.epoch()) return absl::OkStatus();
    record_ = record;
  }
  SetLayout(*std::move(view));
  transport_.AddMembers(AllRecordMembers(record));
  return absl::OkStatus();
}

absl::StatusOr<tessera::v1::LayoutRecord> MetaClient::LoadLayout(
    const std::vector<MetaMember>& contacts) {
  absl::StatusOr<LayoutView> view = MemberSetView(contacts);
  if (!view.ok()) return view.status();
  std::optional<tessera::v1::LayoutRecord> best;
  // Follow records through their own member lists: epoch e + 1 was decided by a majority of
  // epoch e's members, so reading those finds it.
  for (int hop = 0; hop < 64; ++hop) {
    absl::StatusOr<std::optional<tessera::v1::LayoutRecord>> got = ReadRecord(*view);
    if (!got.ok()) return got.status();
    if (!got->has_value()) {
      if (best.has_value()) break;
      return absl::NotFoundError("no metadata layout record yet");
    }
    if (best.has_value() && (*got)->epoch() <= best->epoch()) break;
    best = **got;
    view = LayoutRecordView(*best);
    if (!view.ok()) return view.status();
  }
  if (absl::Status s = Follow(*best); !s.ok()) return s;
  return *best;
}

absl::StatusOr<tessera::v1::LayoutRecord> MetaClient::ReloadLayout() {
  std::optional<tessera::v1::LayoutRecord> cur = layout_record();
  if (!cur.has_value()) return absl::FailedPreconditionError("no layout record loaded");
  return LoadLayout(AllRecordMembers(*cur));
}

absl::StatusOr<tessera::v1::LayoutRecord> MetaClient::ProposeLayout(std::vector<MetaMember> members,
                                                                    const LayoutOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  std::optional<tessera::v1::LayoutRecord> cur = layout_record();
  tessera::v1::LayoutRecord next;
  absl::StatusOr<LayoutView> view;
  if (!cur.has_value()) {
    next = MakeLayoutRecord(1, members, options);
    // Every member the proposer sees must take part: two first gateways with different partial
    // views of a new cluster (gossip not converged) could otherwise both decide epoch 1 on
    // disjoint majorities. With W = N they conflict on any node their views share.
    view = UnanimousMemberSetView(members);
  } else {
    next = MakeLayoutRecord(cur->epoch() + 1, members, RecordOptions(*cur));
    next.set_in_transition(true);
    next.set_previous_epoch(cur->epoch());
    *next.mutable_previous_members() = cur->members();
    view = LayoutRecordView(next);  // majorities of the old AND the new member list
  }
  if (!view.ok()) return view.status();
  if (absl::Status s = DataLayoutView(next).status(); !s.ok()) return s;
  transport_.AddMembers(members);
  if (cur.has_value() && !cur->in_transition()) {
    if (absl::Status s = WipeJoiners(*cur, next); !s.ok()) {
      if (IsStaleLayoutEpoch(s)) {
        // A newer epoch was decided meanwhile: the same outcome as losing the CAS below.
        (void)ReloadLayout();
        return LayoutChanged(absl::StrCat("layout changed: epoch ", cur->epoch(),
                                          " is no longer current (", s.message(), ")"));
      }
      return s;
    }
  }
  const uint64_t expected = cur.has_value() ? cur->epoch() : 0;
  const std::string encoded = next.SerializeAsString();
  std::optional<tessera::v1::LayoutRecord> seen;  // the record that made the CAS refuse
  absl::StatusOr<MetaValue> written = proposer_.CompareAndSet(
      *view, LayoutRecordKey(), [&](const MetaValue& value) -> absl::StatusOr<MetaValue> {
        uint64_t epoch = 0;
        bool in_transition = false;
        seen.reset();
        if (value.has_value()) {
          tessera::v1::LayoutRecord r;
          if (!r.ParseFromString(*value)) return absl::DataLossError("corrupt layout record");
          if (absl::Status s = CheckLayoutRecordFormat(r); !s.ok()) return s;
          epoch = r.epoch();
          in_transition = r.in_transition();
          seen = std::move(r);
        }
        if (epoch != expected) {
          return LayoutChanged(
              absl::StrCat("layout changed: epoch ", epoch, " is current, not ", expected));
        }
        if (in_transition) {
          return LayoutChanged(absl::StrCat("layout epoch ", epoch, " is still in transition"));
        }
        return MetaValue(encoded);
      });
  if (!written.ok()) {
    if (absl::IsFailedPrecondition(written.status())) {
      if (cur.has_value()) {
        (void)ReloadLayout();
      } else if (seen.has_value() && seen->epoch() > 0 && seen->members_size() > 0) {
        // Lost the bootstrap race: the record the CAS read is decided (a Paxos round read it).
        // Follow it, then newer epochs through its members; the proposer's own view may not
        // hold a majority of them, so LoadLayout(members) could miss it.
        if (Follow(*seen).ok()) (void)ReloadLayout();
      } else {
        (void)LoadLayout(members);
      }
    }
    return written.status();
  }
  TESSERA_LOG(INFO, "meta_layout_decided")
      .Field("epoch", next.epoch())
      .Field("members", next.members_size())
      .Field("in_transition", next.in_transition());
  if (absl::Status s = Follow(next); !s.ok()) return s;
  return next;
}

int MetaClient::JoinEach(const std::map<std::string, tessera::v1::JoinPartitionsRequest>& requests,
                         absl::Status* last_error) {
  absl::Mutex mu;
  int ok = 0;
  Waiter waiter(static_cast<int>(requests.size()));
  for (const auto& [node, req] : requests) {
    transport_.JoinPartitions(node, req,
                              [&](absl::StatusOr<tessera::v1::JoinPartitionsResponse> r) {
                                {
                                  absl::MutexLock lock(&mu);
                                  if (r.ok()) {
                                    ++ok;
                                  } else {
                                    *last_error = r.status();
                                  }
                                }
                                waiter.Done();
                              });
  }
  waiter.Wait();
  absl::MutexLock lock(&mu);
  return ok;
}

absl::Status MetaClient::WipeJoiners(const tessera::v1::LayoutRecord& cur,
                                     const tessera::v1::LayoutRecord& next) {
  absl::StatusOr<LayoutView> old_view = DataLayoutView(cur);
  if (!old_view.ok()) return old_view.status();
  absl::StatusOr<LayoutView> new_view = DataLayoutView(next);
  if (!new_view.ok()) return new_view.status();
  std::map<std::string, tessera::v1::JoinPartitionsRequest> requests;
  for (uint32_t p = 0; p < new_view->partitions(); ++p) {
    std::set<std::string> old_nodes;
    for (const ReplicaSet& set : old_view->ReplicaSets(p)) {
      old_nodes.insert(set.nodes.begin(), set.nodes.end());
    }
    for (const std::string& node : new_view->current().Replicas(p)) {
      if (old_nodes.count(node) > 0) continue;
      tessera::v1::JoinPartitionsRequest& req = requests[node];
      req.set_layout_epoch(cur.epoch());
      req.add_wipe_partitions(p);
    }
  }
  if (requests.empty()) return absl::OkStatus();
  absl::Status last_error;
  const int ok = JoinEach(requests, &last_error);
  if (ok < static_cast<int>(requests.size())) {
    if (IsStaleLayoutEpoch(last_error)) return last_error;
    return absl::UnavailableError(absl::StrCat(
        "layout proposal: ", requests.size() - ok, " of ", requests.size(),
        " joining replicas could not drop their stale records: ", last_error.message()));
  }
  TESSERA_LOG(INFO, "meta_layout_joiners_wiped")
      .Field("epoch", cur.epoch())
      .Field("nodes", static_cast<int64_t>(requests.size()));
  return absl::OkStatus();
}

absl::StatusOr<tessera::v1::LayoutRecord> MetaClient::LoadOrCreateLayout(
    const std::vector<MetaMember>& members, const LayoutOptions& options) {
  absl::StatusOr<tessera::v1::LayoutRecord> record = LoadLayout(members);
  if (!absl::IsNotFound(record.status())) return record;
  record = ProposeLayout(members, options);
  if (record.ok() || !absl::IsFailedPrecondition(record.status())) return record;
  // Another bootstrapper won; ProposeLayout followed its record.
  if (std::optional<tessera::v1::LayoutRecord> followed = layout_record(); followed.has_value()) {
    absl::StatusOr<tessera::v1::LayoutRecord> newest = ReloadLayout();
    return newest.ok() ? newest : *followed;
  }
  return LoadLayout(members);
}

absl::Status MetaClient::HandOffPartition(const LayoutView& view, uint32_t partition,
                                          const ReplicaSet& from, const ReplicaSet& to,
                                          uint64_t epoch) {
  // 1. Whole-partition scans of every old replica, carrying the new epoch (fences them).
  const int64_t observed = absl::ToUnixMicros(hlc_.clock()->Now());  // for purged keys' acceptors
  std::map<std::string, tessera::v1::ScanEntry> entries;  // by encoded key: highest ballot
  std::set<std::string> in_progress;                      // keys with an accepted update
  tessera::v1::Ballot floor;  // highest purge floor of the old replicas (no proposer: none)
  absl::Mutex mu;
  int complete = 0;
  absl::Status last_error;
  {
    std::vector<std::thread> threads;
    for (const std::string& node : from.nodes) {
      threads.emplace_back([&, node] {
        std::string token;
        while (true) {
          tessera::v1::ScanRequest req;
          req.set_partition(partition);
          req.set_whole_partition(true);
          req.set_limit(AcceptorStore::kDefaultScanLimit);
          req.set_page_token(token);
          req.set_layout_epoch(epoch);
          absl::Notification done;
          absl::StatusOr<tessera::v1::ScanResponse> resp;
          transport_.Scan(node, req, [&](absl::StatusOr<tessera::v1::ScanResponse> r) {
            resp = std::move(r);
            done.Notify();
          });
          done.WaitForNotification();
          absl::MutexLock lock(&mu);
          if (!resp.ok()) {
            last_error = resp.status();
            return;
          }
          if (resp->has_purge_floor() && BallotLess(floor, resp->purge_floor())) {
            floor = resp->purge_floor();
          }
          for (const auto& e : resp->entries()) {
            if (e.in_progress()) in_progress.insert(EncodeMetaKey(e.key()));
            if (e.committed_ballot().proposer().empty()) continue;
            auto [it, inserted] = entries.emplace(EncodeMetaKey(e.key()), e);
            if (!inserted && BallotLess(it->second.committed_ballot(), e.committed_ballot())) {
              it->second = e;
            }
          }
          if (resp->next_page_token().empty()) {
            ++complete;
            return;
          }
          token = resp->next_page_token();
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  const uint32_t q = std::min(from.write_quorum, from.read_quorum);
  const int needed = static_cast<int>(from.nodes.size() - q + 1);
  if (complete < needed) {
    return absl::UnavailableError(
        absl::StrCat("hand-off of partition ", partition, ": ", complete, " of ", from.nodes.size(),
                     " old replicas scanned, need ", needed,
                     last_error.ok() ? "" : absl::StrCat("; last error: ", last_error.message())));
  }
  // 2. Settle updates in progress on the transition view (a Paxos read finishes a chosen value
  //    on both sets), before copying, so an acknowledged write cannot be left behind.
  for (const std::string& k : in_progress) {
    absl::StatusOr<tessera::v1::MetaKey> key = DecodeMetaKey(k);
    if (!key.ok()) return key.status();
    absl::StatusOr<MetaValue> settled = proposer_.Read(view, *key);
    if (!settled.ok()) return settled.status();
  }
  // 2b. Re-scan is not needed for settled keys: the Paxos read committed them on W of each set.
  // 3. Commit every entry to every new replica; W acks each.
  std::vector<int> acks(entries.size(), 0);
  Waiter waiter(static_cast<int>(entries.size() * to.nodes.size()));
  size_t i = 0;
  for (const auto& [k, e] : entries) {
    tessera::v1::CommitRequest req;
    *req.mutable_key() = e.key();
    *req.mutable_ballot() = e.committed_ballot();
    *req.mutable_value() = e.value();
    req.set_layout_epoch(epoch);
    req.set_observed_wall_micros(observed);
    for (const std::string& node : to.nodes) {
      transport_.Commit(node, req, [&, i](absl::StatusOr<tessera::v1::CommitResponse> r) {
        {
          absl::MutexLock lock(&mu);
          if (r.ok()) ++acks[i];
        }
        waiter.Done();
      });
    }
    ++i;
  }
  waiter.Wait();
  {
    absl::MutexLock lock(&mu);
    for (int a : acks) {
      if (a < static_cast<int>(to.write_quorum)) {
        return absl::UnavailableError(absl::StrCat("hand-off of partition ", partition,
                                                   ": an entry reached ", a, " new replicas, need ",
                                                   to.write_quorum));
      }
    }
  }
  // 4. Carry the old replicas' purge floor (after the copies: below a new replica's own floor a
  //    copied deletion is acknowledged without a record). Keys purged on the old set then still
  //    report it on the new one, so a proposer whose update was chosen and then purged does not
  //    take the empty new replicas as proof that it never applied (exactly once, paxos.h).
  if (!floor.proposer().empty()) {
    std::map<std::string, tessera::v1::JoinPartitionsRequest> requests;
    for (const std::string& node : to.nodes) {
      tessera::v1::JoinPartitionsRequest& req = requests[node];
      *req.mutable_raise_purge_floor() = floor;
      req.set_layout_epoch(epoch);
    }
    absl::Status last_error;
    const int ok = JoinEach(requests, &last_error);
    if (ok < static_cast<int>(to.write_quorum)) {
      return absl::UnavailableError(
          absl::StrCat("hand-off of partition ", partition, ": the purge floor reached ", ok,
                       " new replicas, need ", to.write_quorum, ": ", last_error.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status MetaClient::CompleteHandOff() {
  std::optional<tessera::v1::LayoutRecord> rec = layout_record();
  if (!rec.has_value()) return absl::FailedPreconditionError("no layout record loaded");
  if (!rec->in_transition()) return absl::OkStatus();
  absl::StatusOr<LayoutView> data = DataLayoutView(*rec);
  if (!data.ok()) return data.status();
  int moved = 0;
  for (uint32_t p = 0; p < data->partitions(); ++p) {
    std::vector<ReplicaSet> sets = data->ReplicaSets(p);
    if (sets.size() < 2) continue;
    if (absl::Status s = HandOffPartition(*data, p, sets[1], sets[0], rec->epoch()); !s.ok())
      return s;
    ++moved;
  }
  tessera::v1::LayoutRecord done = *rec;
  done.set_epoch(rec->epoch() + 1);
  done.set_in_transition(false);
  done.clear_previous_epoch();
  done.clear_previous_members();
  absl::StatusOr<LayoutView> view = LayoutRecordView(*rec);
  if (!view.ok()) return view.status();
  const std::string encoded = done.SerializeAsString();
  const uint64_t expected = rec->epoch();
  absl::StatusOr<MetaValue> written = proposer_.CompareAndSet(
      *view, LayoutRecordKey(), [&](const MetaValue& value) -> absl::StatusOr<MetaValue> {
        tessera::v1::LayoutRecord r;
        if (!value.has_value() || !r.ParseFromString(*value)) {
          return absl::DataLossError("layout record missing or corrupt");
        }
        if (absl::Status s = CheckLayoutRecordFormat(r); !s.ok()) return s;
        if (r.epoch() == expected + 1 && !r.in_transition()) return value;  // done by another
        if (r.epoch() != expected || !r.in_transition()) {
          return LayoutChanged(
              absl::StrCat("layout changed: epoch ", r.epoch(), " is current, not ", expected));
        }
        return MetaValue(encoded);
      });
  if (!written.ok()) {
    if (absl::IsFailedPrecondition(written.status())) (void)ReloadLayout();
    return written.status();
  }
  TESSERA_LOG(INFO, "meta_layout_handoff_complete")
      .Field("epoch", done.epoch())
      .Field("partitions_moved", moved);
  tessera::v1::LayoutRecord now;
  if (written->has_value() && now.ParseFromString(**written)) return Follow(now);
  return Follow(done);
}

absl::Status MetaClient::AbandonHandOff() {
  std::optional<tessera::v1::LayoutRecord> rec = layout_record();
  if (!rec.has_value()) return absl::FailedPreconditionError("no layout record loaded");
  if (!rec->in_transition()) return absl::OkStatus();
  tessera::v1::LayoutRecord back = *rec;
  back.set_epoch(rec->epoch() + 1);
  back.set_in_transition(false);
  *back.mutable_members() = rec->previous_members();
  back.clear_previous_epoch();
  back.clear_previous_members();
  if (absl::Status s = DataLayoutView(back).status(); !s.ok()) return s;
  absl::StatusOr<LayoutView> view = LayoutRecordView(*rec);
  if (!view.ok()) return view.status();
  const std::string encoded = back.SerializeAsString();
  const uint64_t expected = rec->epoch();
  absl::StatusOr<MetaValue> written = proposer_.CompareAndSet(
      *view, LayoutRecordKey(), [&](const MetaValue& value) -> absl::StatusOr<MetaValue> {
        tessera::v1::LayoutRecord r;
        if (!value.has_value() || !r.ParseFromString(*value)) {
          return absl::DataLossError("layout record missing or corrupt");
        }
        if (absl::Status s = CheckLayoutRecordFormat(r); !s.ok()) return s;
        if (r.epoch() != expected || !r.in_transition()) {
          return LayoutChanged(absl::StrCat("layout changed: epoch ", r.epoch(),
                                            " is current, not ", expected, " in transition"));
        }
        return MetaValue(encoded);
      });
  if (!written.ok()) {
    if (absl::IsFailedPrecondition(written.status())) (void)ReloadLayout();
    return written.status();
  }
  TESSERA_LOG(WARNING, "meta_layout_handoff_abandoned")
      .Field("abandoned_epoch", expected)
      .Field("epoch", back.epoch())
      .Field("members", back.members_size());
  return Follow(back);
}

}  // namespace tessera::services
