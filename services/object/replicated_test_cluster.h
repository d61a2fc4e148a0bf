// ReplicatedTestCluster: N real storage nodes (NodeServer in process on 127.0.0.1:0, cluster
// secret on, gossip membership joined through node 0, MetaService hosted) and any number of
// gateways opened over them with OpenObjectBackend, as the gateway daemon does (layout grace
// period 1 s instead of 30 s). Nodes can be added to a running cluster. For tests.
#pragma once

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/metrics.h"
#include "p2p/auth/cluster_auth.h"
#include "p2p/auth/cluster_secret.h"
#include "p2p/membership/membership_view.h"
#include "services/node/node_server.h"
#include "services/object/object_backend.h"
#include "storage/crypto/key_wrap.h"

namespace tessera::services::testing {

struct ReplicatedClusterOptions {
  int nodes = 6;
  int sites = 3;  // node i is in site i % sites
  DataPathOptions data;
  LayoutOptions layout;
  size_t pool_threads = 8;
};

class ReplicatedTestCluster {
 public:
  // Check status() after construction. Returns once every node sees every other one alive.
  explicit ReplicatedTestCluster(ReplicatedClusterOptions options) : options_(std::move(options)) {
    const char* tmp = std::getenv("TEST_TMPDIR");
    static int counter = 0;
    root_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/rcluster_", ++counter);
    secret_file_ = root_ + ".secret";
    if (status_ = p2p::ClusterSecret::Generate(secret_file_); !status_.ok()) return;
    auto auth = p2p::ClusterAuth::FromSecretFile(secret_file_, "test-gateway");
    if (!auth.ok()) {
      status_ = auth.status();
      return;
    }
    auth_ = *std::move(auth);
    if (status_ = keyring_.Add(7, storage::SecretKey::Generate()); !status_.ok()) return;
    for (int i = 0; i < options_.nodes; ++i) {
      if (status_ = StartNode(); !status_.ok()) return;
    }
    status_ = WaitForMembership(absl::Seconds(60));
  }

  // Starts one more node (site size() % sites, joining through node 0) and waits until every
  // node sees every node alive (so: before any StopNode). Returns its index.
  absl::StatusOr<int> AddNode() {
    if (absl::Status s = StartNode(); !s.ok()) return s;
    if (absl::Status s = WaitForMembership(absl::Seconds(60)); !s.ok()) return s;
    return size() - 1;
  }

  ~ReplicatedTestCluster() {
    for (auto& node : nodes_) node->Shutdown(absl::ZeroDuration());
  }

  const absl::Status& status() const { return status_; }
  int size() const { return static_cast<int>(nodes_.size()); }
  const std::string& node_id(int i) const { return nodes_[i]->node_id(); }
  std::string address(int i) const { return absl::StrCat("127.0.0.1:", nodes_[i]->port()); }
  int IndexOf(const std::string& node_id) const {
    for (int i = 0; i < size(); ++i) {
      if (nodes_[i]->node_id() == node_id) return i;
    }
    return -1;
  }
  const std::shared_ptr<const p2p::ClusterAuth>& auth() const { return auth_; }
  const std::string& secret_file() const { return secret_file_; }
  const storage::MasterKeyring& keyring() const { return keyring_; }

  // Options for a gateway over this cluster (every node a seed), before OpenObjectBackend.
  ObjectBackendOptions GatewayOptions() const {
    ObjectBackendOptions o;
    for (int i = 0; i < size(); ++i) o.seeds.push_back(address(i));
    o.auth = auth_;
    o.keyring = &keyring_;
    o.data = options_.data;
    o.layout = options_.layout;
    o.data_path_threads = options_.pool_threads;
    o.membership_refresh = absl::Milliseconds(200);
    o.layout_maintainer.grace_period = absl::Seconds(1);
    o.layout_maintainer.check_interval = absl::Milliseconds(200);
    return o;
  }
  absl::StatusOr<std::unique_ptr<ObjectBackend>> OpenGateway() const {
    return OpenObjectBackend(GatewayOptions());
  }

  // Stops node i at once (its address then refuses connections: UNAVAILABLE).
  void StopNode(int i) {
    stopped_[i] = true;
    nodes_[i]->Shutdown(absl::ZeroDuration());
  }

 private:
  absl::Status StartNode() {
    const int i = size();
    NodeOptions node;
    node.data_dir = absl::StrCat(root_, "/node", i);
    node.listen = "127.0.0.1:0";
    node.admin_listen = "127.0.0.1:0";
    node.reserved_bytes = 0;
    node.disk_threads = 2;
    node.cluster_secret_file = secret_file_;
    node.location.set_site(absl::StrCat("site", i % options_.sites));
    node.gossip_listen = "127.0.0.1:0";
    node.gossip.probe_interval = absl::Milliseconds(200);
    node.gossip.probe_timeout = absl::Milliseconds(100);
    node.gossip.join_retry_interval = absl::Milliseconds(100);
    node.gossip.sync_interval = absl::Seconds(1);
    node.leave_wait = absl::ZeroDuration();
    if (i > 0) node.seeds = {nodes_[0]->gossip_address()};
    registries_.push_back(std::make_unique<Registry>());
    node.registry = registries_.back().get();
    auto started = NodeServer::Start(node);
    if (!started.ok()) return started.status();
    nodes_.push_back(*std::move(started));
    stopped_.push_back(false);
    return absl::OkStatus();
  }

  absl::Status WaitForMembership(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      bool all = true;
      for (const auto& node : nodes_) {
        auto view = node->membership_view();
        int alive = 0;
        if (view != nullptr) {
          for (const auto& m : view->members()) {
            alive +=
                m.liveness == p2p::MemberLiveness::kAlive && m.state == p2p::MemberState::kAlive;
          }
        }
        if (alive != size()) {
          all = false;
          break;
        }
      }
      if (all) return absl::OkStatus();
      absl::SleepFor(absl::Milliseconds(20));
    }
    return absl::DeadlineExceededError("membership did not converge");
  }

  ReplicatedClusterOptions options_;
  absl::Status status_;
  std::string root_;
  std::string secret_file_;
  std::shared_ptr<const p2p::ClusterAuth> auth_;
  storage::MasterKeyring keyring_;
  std::vector<std::unique_ptr<Registry>> registries_;
  std::vector<std::unique_ptr<NodeServer>> nodes_;
  std::vector<bool> stopped_;
};

}  // namespace tessera::services::testing
