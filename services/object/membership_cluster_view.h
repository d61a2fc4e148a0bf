// MembershipClusterView: the gateway's ClusterView and metadata layout, learned from the storage
// nodes' membership (the ClusterMembers RPC, docs/design/node.md).
//
// Given a few seed gRPC addresses, it asks one node for its membership view every
// refresh_interval (seeds first, then every member it already knows, until one answers; calls
// carry a cluster-auth token when `auth` is set). From the answer it builds:
//   * a ClusterSnapshot of every member with a gRPC address: alive = the member says ALIVE or
//     DRAINING and the answering node's failure detector says ALIVE; draining = DRAINING. Members
//     that LEFT or are DEAD stay in the snapshot as not alive (their slices are still tried for
//     reads), until membership forgets them.
//   * the metadata members: the members that are ALIVE (not DRAINING: a drain moves metadata
//     replicas off the node too) and not DEAD (SUSPECT counts
//     as alive, so a slow probe does not move partitions), as (node id, site, gRPC address:
//     MetaService shares the SliceService port), sorted by node id.
//
// It does not decide metadata layouts: the layout is a consensus-decided record
// (services/meta/layout_record.h) that the gateway backend's layout maintainer proposes from
// these members once they differ from the decided ones for longer than a grace period
// (docs/design/metadata.md, "Wiring into the gateway").
//
// Thread-safety: thread-safe. One background thread refreshes; listeners run on it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "api/node.grpc.pb.h"
#include "p2p/auth/cluster_auth.h"
#include "services/meta/layout.h"
#include "services/object/cluster_view.h"

namespace tessera::services {

struct MembershipClusterViewOptions {
  // gRPC host:port of one or more storage nodes. At least one.
  std::vector<std::string> seeds;
  // Node ids of seeds already known (seed address -> id), so that even the first call asks the
  // node by its id over TLS (e.g. a node's own repair worker asking its own node). Seeds not in
  // here are dialled by address alone until a member list names them.
  std::map<std::string, std::string> seed_node_ids;
  // Mints a token for every ClusterMembers call; null = none (insecure clusters).
  std::shared_ptr<const p2p::ClusterAuth> auth;
  // Time between two refreshes. Default 1 s.
  absl::Duration refresh_interval = absl::Seconds(1);
  // Deadline of one ClusterMembers call. Default 2 s.
  absl::Duration rpc_timeout = absl::Seconds(2);
  // OK, or INVALID_ARGUMENT naming the field.
  [[nodiscard]] absl::Status Validate() const;
};

class MembershipClusterView final : public ClusterView {
 public:
  // Refreshes once synchronously (UNAVAILABLE, naming the last error, when no seed answers or no
  // member is alive), then starts the background refresher.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<MembershipClusterView>> Start(
      MembershipClusterViewOptions options);
  ~MembershipClusterView() override;  // stops and joins the refresher

  std::shared_ptr<const ClusterSnapshot> Snapshot() const override;

  // The metadata members of the latest answer (never empty once Start returned), sorted by id.
  std::vector<MetaMember> members() const;

  // Refreshes now (blocking): OK when a node answered.
  absl::Status RefreshNow();

 private:
  explicit MembershipClusterView(MembershipClusterViewOptions options);
  void RefreshLoop();
  absl::StatusOr<v1::ClusterMembersResponse> AskOne();
  // A channel to the node at `address`; `node_id` (empty while unknown, e.g. a seed never heard
  // of yet) is the identity its certificate must prove.
  v1::SliceService::Stub* StubFor(const std::string& node_id, const std::string& address)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const MembershipClusterViewOptions options_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const ClusterSnapshot> snapshot_ ABSL_GUARDED_BY(mu_);
  std::vector<MetaMember> members_ ABSL_GUARDED_BY(mu_);
  std::string member_signature_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, std::unique_ptr<v1::SliceService::Stub>> stubs_
      ABSL_GUARDED_BY(mu_);
  absl::Mutex refresh_mu_;  // serializes refreshes
  absl::Notification stop_;
  std::thread refresher_;
};

}  // namespace tessera::services
