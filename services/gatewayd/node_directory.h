// NodeDirectory: the gateway's ClusterView, learned by polling storage nodes.
//
// INTERIM: until the membership layer's ClusterMembers RPC is served by nodes, the gateway is
// given the nodes' gRPC addresses (--nodes) and asks each one for NodeInfo every poll_interval:
// the answer gives its node id, site/isp/zone labels, capacity and free bytes. A node that does
// not answer is kept in the view (its slices must still be tried for reads) but marked not alive,
// so writers place around it; it is marked alive again as soon as it answers. A node that has
// never answered is not in the view (its id is unknown).
//
// Every request takes one immutable snapshot (ClusterView::Snapshot), so a refresh never shows a
// request two node sets.
//
// Thread-safety: thread-safe. One background thread polls.
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
#include "services/gateway/cluster_view.h"

namespace tessera::p2p {
class ClusterAuth;
}

namespace tessera::services {

struct NodeDirectoryOptions {
  // gRPC host:port of every storage node. At least one.
  std::vector<std::string> addresses;
  // Time between two polls of every node. Default 1 s.
  absl::Duration poll_interval = absl::Seconds(1);
  // Deadline of one NodeInfo call. Default 2 s.
  absl::Duration rpc_timeout = absl::Seconds(2);
  // Optional: attaches a cluster auth token to every NodeInfo call. Shared, may be null.
  std::shared_ptr<const p2p::ClusterAuth> auth;

  // OK, or INVALID_ARGUMENT naming the field.
  [[nodiscard]] absl::Status Validate() const;
};

// What the directory knows of one node, for ClusterStatus.
struct NodeRecord {
  std::string address;
  std::string node_id;  // empty until the node first answered
  v1::Location location;
  uint64_t capacity_bytes = 0;
  uint64_t free_bytes = 0;
  bool alive = false;
  std::string last_error;  // of the last failed poll; empty when alive
};

class NodeDirectory final : public ClusterView {
 public:
  // Polls every node once (synchronously), then starts the background poller.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<NodeDirectory>> Start(
      NodeDirectoryOptions options);
  ~NodeDirectory() override;  // stops and joins the poller

  std::shared_ptr<const ClusterSnapshot> Snapshot() const override;

  // Every configured node, in configuration order.
  std::vector<NodeRecord> Nodes() const;
  // Polls every node now (blocking).
  void RefreshNow();

 private:
  explicit NodeDirectory(NodeDirectoryOptions options);
  void PollLoop();
  v1::SliceService::Stub* StubFor(const std::string& address);

  const NodeDirectoryOptions options_;
  absl::Notification stop_;
  std::thread poller_;
  absl::Mutex refresh_mu_;  // one refresh at a time
  mutable absl::Mutex mu_;
  std::vector<NodeRecord> records_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const ClusterSnapshot> snapshot_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<v1::SliceService::Stub>> stubs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::services
