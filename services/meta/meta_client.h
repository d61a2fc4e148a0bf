// MetaClient: what gateways (and other proposers) use to read and write replicated metadata.
//
//   auto client = MetaClient::Create(view, {});
//   client->CompareAndSet(BucketRecordKey("photos", parts), [](const MetaValue& cur) { ... });
//   client->Get(key);                          // linearizable read
//   client->Scan("photos", "a", "b", 1000);   // one bucket's object entries, merged from R
//   replicas
//
// It holds a LayoutView (SetLayout swaps it, e.g. when membership changes), a hybrid logical
// clock, and a GrpcAcceptorClient with one channel per (node id, address) and a deadline per RPC,
// and runs PaxosProposer (paxos.h) over them. When a quorum cannot be reached, calls fail
// UNAVAILABLE with a message naming how many replicas of how many answered.
//
// GrpcAcceptorClient is the gRPC (callback API) implementation of AcceptorClient.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "api/metadata.grpc.pb.h"
#include "base/clock.h"
#include "p2p/auth/cluster_auth.h"
#include "services/meta/acceptor_client.h"
#include "services/meta/hlc.h"
#include "services/meta/layout.h"
#include "services/meta/layout_record.h"
#include "services/meta/paxos.h"

namespace tessera::services {

class GrpcAcceptorClient final : public AcceptorClient {
 public:
  // `auth` (may be null: no token) mints a per-call token (p2p/auth/cluster_auth.h) on every
  // channel, for nodes started with a cluster secret.
  // Called before every RPC with the node id and the method name ("Prepare", "Scan", ...).
  using RpcObserver = std::function<void(const std::string& node_id, const char* method)>;

  explicit GrpcAcceptorClient(absl::Duration deadline,
                              std::shared_ptr<const p2p::ClusterAuth> auth = nullptr,
                              RpcObserver observer = nullptr)
      : deadline_(deadline), auth_(std::move(auth)), observer_(std::move(observer)) {}
  // Waits for the callbacks of RPCs still in flight (each bounded by the deadline): they run
  // code of the caller's (a proposer updating its clock) that must not outlive this client.
  ~GrpcAcceptorClient() override;

  // Node id -> address, replacing the previous map (channels to unchanged addresses are kept).
  void SetMembers(const std::vector<MetaMember>& members);
  // Adds (or updates) addresses without forgetting the others.
  void AddMembers(const std::vector<MetaMember>& members);

  void Prepare(const std::string& node_id, const tessera::v1::PrepareRequest& request,
               Callback<tessera::v1::PrepareResponse> done) override;
  void Accept(const std::string& node_id, const tessera::v1::AcceptRequest& request,
              Callback<tessera::v1::AcceptResponse> done) override;
  void Commit(const std::string& node_id, const tessera::v1::CommitRequest& request,
              Callback<tessera::v1::CommitResponse> done) override;
  void Read(const std::string& node_id, const tessera::v1::ReadRequest& request,
            Callback<tessera::v1::ReadResponse> done) override;
  void Scan(const std::string& node_id, const tessera::v1::ScanRequest& request,
            Callback<tessera::v1::ScanResponse> done) override;
  // Layout changes only (MetaClient::ProposeLayout, CompleteHandOff); not part of AcceptorClient.
  void JoinPartitions(const std::string& node_id, const tessera::v1::JoinPartitionsRequest& request,
                      Callback<tessera::v1::JoinPartitionsResponse> done);

 private:
  // The stub for `node_id`, or nullptr (unknown node).
  std::shared_ptr<tessera::v1::MetaService::Stub> StubFor(const std::string& node_id,
                                                          std::string* address);
  template <typename Req, typename Resp, typename Method>
  void Call(const std::string& node_id, const char* name, const Req& request, Callback<Resp> done,
            Method method);

  const absl::Duration deadline_;
  const std::shared_ptr<const p2p::ClusterAuth> auth_;
  const RpcObserver observer_;
  absl::Mutex in_flight_mu_;
  int in_flight_ ABSL_GUARDED_BY(in_flight_mu_) = 0;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::string> addresses_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::pair<std::string, std::string>,
                      std::shared_ptr<tessera::v1::MetaService::Stub>>
      stubs_ ABSL_GUARDED_BY(mu_);  // by (node id, address)
};

struct MetaClientOptions {
  PaxosOptions paxos;
  HybridClockOptions clock_options;
  absl::Duration rpc_deadline = absl::Seconds(2);
  // Not owned; default the real clock.
  Clock* clock = nullptr;
  // Proposer id in ballots; must be unique among proposers. Empty: "gw-" + 16 random hex digits.
  std::string client_id;
  // Cluster auth used to mint a token for every MetaService call (nodes with a cluster secret
  // refuse calls without one: UNAUTHENTICATED). Null: no tokens (insecure clusters, tests).
  std::shared_ptr<const p2p::ClusterAuth> auth;
  // Optional: sees every MetaService RPC before it is sent (metrics; tests count round trips).
  GrpcAcceptorClient::RpcObserver rpc_observer;

  [[nodiscard]] absl::Status Validate() const;
};

class MetaClient {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<MetaClient>> Create(
      LayoutView view, MetaClientOptions options = {});

  // Replaces the layout view (and the node addresses it names).
  void SetLayout(LayoutView view);
  LayoutView layout() const;
  uint32_t partitions() const;

  // Linearizable read: nullopt when the key does not exist.
  [[nodiscard]] absl::StatusOr<MetaValue> Get(const tessera::v1::MetaKey& key);
  // Atomic read-modify-write (see PaxosProposer::CompareAndSet); returns the value written.
  [[nodiscard]] absl::StatusOr<MetaValue> CompareAndSet(const tessera::v1::MetaKey& key,
                                                        const UpdateFn& fn);
  // Object entries of `bucket` with start <= key < end (empty end: unbounded), merged from R
  // replicas of the bucket's (single, for now: shard 0) index shard partition.
  [[nodiscard]] absl::StatusOr<ScanResult> Scan(const std::string& bucket, const std::string& start,
                                                const std::string& end, uint32_t limit,
                                                const std::string& page_token = "");

  HybridClock* hlc() { return &hlc_; }

  // ---- Consensus layouts (layout_record.h, docs/design/metadata.md "Consensus layouts") ----
  // Once a layout record is loaded or proposed through this client, the client follows it: its
  // view is DataLayoutView(record), every request carries the record's epoch, and a request
  // refused with "stale layout epoch" reloads the record and is retried (up to 3 times).

  // Reads the record from `contacts` (e.g. the members membership reports; majority quorum) and
  // follows newer records through their own member lists until it finds the newest. NOT_FOUND
  // when no record exists yet.
  [[nodiscard]] absl::StatusOr<tessera::v1::LayoutRecord> LoadLayout(
      const std::vector<MetaMember>& contacts);
  // What a gateway does on start: LoadLayout(members); when no record exists, ProposeLayout
  // (epoch 1, needing every member of `members`: UnanimousMemberSetView); when another first
  // proposer won that race, follows the winner's record (and any newer one). Exactly one epoch 1
  // is decided among bootstrappers whose member lists share at least one node. UNAVAILABLE when
  // a member does not answer (retry later).
  [[nodiscard]] absl::StatusOr<tessera::v1::LayoutRecord> LoadOrCreateLayout(
      const std::vector<MetaMember>& members, const LayoutOptions& options);
  // Re-reads the record from the members of the one this client follows.
  [[nodiscard]] absl::StatusOr<tessera::v1::LayoutRecord> ReloadLayout();
  // Proposes `members` as the next layout. Without a loaded record: creates epoch 1 (CAS on an
  // absent key, every member of `members` must take part; FAILED_PRECONDITION if one exists,
  // which is then followed). Otherwise CAS epoch
  // e -> e + 1, in transition from the current members, with quorums among both member lists;
  // FAILED_PRECONDITION (and the newer record loaded) when the record is no longer epoch e or is
  // still in transition. `options` are used for a new cluster only.
  [[nodiscard]] absl::StatusOr<tessera::v1::LayoutRecord> ProposeLayout(
      std::vector<MetaMember> members, const LayoutOptions& options = {});
  // Hand-off of the record's transition: for every partition whose replica set changed, reads
  // every committed entry from the old replicas (whole-partition scans carrying the new epoch,
  // which fence those replicas against the old one; at least size - min(W, R) + 1 of them must
  // answer completely), commits each to every new replica (W acks needed per entry), then CASes
  // the record to epoch e + 1 without transition (old sets retired). OK with nothing to do when
  // not in transition. Idempotent: any number of gateways may run it.
  [[nodiscard]] absl::Status CompleteHandOff();
  // Rolls back a transition whose hand-off cannot complete (e.g. W replicas of a new set are
  // down): CAS epoch e + 1 (in transition from e's members) -> e + 2 whose members are e's,
  // not in transition. Every write of the transition reached a quorum of each old replica set
  // (transition quorums need both), and e + 2's replica sets are e's (the layout rule depends on
  // the members only), so nothing needs copying. The CAS needs majorities of the old and the new
  // member lists, like CompleteHandOff; exactly one of the two wins. FAILED_PRECONDITION (and
  // the newer record followed) when the record is no longer e + 1 in transition; OK with
  // nothing to do when not in transition.
  [[nodiscard]] absl::Status AbandonHandOff();
  // The record this client follows, if any.
  std::optional<tessera::v1::LayoutRecord> layout_record() const;

 private:
  MetaClient(LayoutView view, MetaClientOptions options);
  // Reads the record on `view` (linearizable among its members).
  absl::StatusOr<std::optional<tessera::v1::LayoutRecord>> ReadRecord(const LayoutView& view);
  absl::Status Follow(const tessera::v1::LayoutRecord& record);
  absl::Status HandOffPartition(const LayoutView& view, uint32_t partition, const ReplicaSet& from,
                                const ReplicaSet& to, uint64_t epoch);
  // Sends `requests` (node id -> request) as JoinPartitions; returns how many succeeded and the
  // last failure (OK if none).
  int JoinEach(const std::map<std::string, tessera::v1::JoinPartitionsRequest>& requests,
               absl::Status* last_error);
  // Before proposing `next` over `cur` (not in transition): wipes, on every member of `next`,
  // the partitions it replicates in `next` but in no replica set of `cur` (their records there
  // are stale copies from an earlier membership), at cur's epoch. Every such member must answer.
  absl::Status WipeJoiners(const tessera::v1::LayoutRecord& cur,
                           const tessera::v1::LayoutRecord& next);
  // Runs `op` again after reloading the layout when it failed with a stale layout epoch.
  template <typename T>
  absl::StatusOr<T> WithLayoutRetry(const std::function<absl::StatusOr<T>()>& op);

  const MetaClientOptions options_;
  HybridClock hlc_;
  GrpcAcceptorClient transport_;
  PaxosProposer proposer_;
  mutable absl::Mutex mu_;
  LayoutView view_ ABSL_GUARDED_BY(mu_);
  std::optional<tessera::v1::LayoutRecord> record_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::services
