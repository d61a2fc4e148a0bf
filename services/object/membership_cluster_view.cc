#include "services/object/membership_cluster_view.h"

#include <chrono>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "grpcpp/grpcpp.h"

namespace tessera::services {
namespace {

bool SaysAliveOrDraining(const v1::ClusterMember& m) {
  return m.state() == v1::ClusterMember::STATE_ALIVE ||
         m.state() == v1::ClusterMember::STATE_DRAINING;
}

}  // namespace

absl::Status MembershipClusterViewOptions::Validate() const {
  if (seeds.empty()) return absl::InvalidArgumentError("seeds: at least one node address");
  for (const std::string& s : seeds) {
    if (s.empty()) return absl::InvalidArgumentError("seeds: empty address");
  }
  if (refresh_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("refresh_interval must be > 0");
  }
  if (rpc_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("rpc_timeout must be > 0");
  }
  return absl::OkStatus();
}

MembershipClusterView::MembershipClusterView(MembershipClusterViewOptions options)
    : options_(std::move(options)),
      snapshot_(std::make_shared<ClusterSnapshot>(std::vector<StorageNode>())) {}

absl::StatusOr<std::unique_ptr<MembershipClusterView>> MembershipClusterView::Start(
    MembershipClusterViewOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  std::unique_ptr<MembershipClusterView> view(new MembershipClusterView(std::move(options)));
  if (absl::Status s = view->RefreshNow(); !s.ok()) return s;
  {
    absl::MutexLock lock(&view->mu_);
    if (view->members_.empty()) {
      return absl::UnavailableError("cluster membership lists no alive storage node");
    }
  }
  MembershipClusterView* raw = view.get();
  view->refresher_ = std::thread([raw] { raw->RefreshLoop(); });
  return view;
}

MembershipClusterView::~MembershipClusterView() {
  stop_.Notify();
  if (refresher_.joinable()) refresher_.join();
}

std::shared_ptr<const ClusterSnapshot> MembershipClusterView::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return snapshot_;
}

std::vector<MetaMember> MembershipClusterView::members() const {
  absl::MutexLock lock(&mu_);
  return members_;
}

void MembershipClusterView::RefreshLoop() {
  while (!stop_.WaitForNotificationWithTimeout(options_.refresh_interval)) {
    absl::Status s = RefreshNow();
    if (!s.ok()) {
      TESSERA_LOG(WARNING, "membership_refresh_failed").Field("error", s.message());
    }
  }
}

v1::SliceService::Stub* MembershipClusterView::StubFor(const std::string& node_id,
                                                       const std::string& address) {
  auto& stub = stubs_[std::make_pair(node_id, address)];
  if (stub == nullptr) {
    stub = v1::SliceService::NewStub(
        p2p::CreateNodeChannel(address, grpc::ChannelArguments(), options_.auth, node_id));
  }
  return stub.get();
}

absl::StatusOr<v1::ClusterMembersResponse> MembershipClusterView::AskOne() {
  // Seeds first, then the alive members we know of, then the others.
  // A seed that is a known member is asked for by its node id (what its certificate proves).
  std::vector<std::pair<std::string, std::string>> targets;  // (node id or "", address)
  {
    absl::MutexLock lock(&mu_);
    std::map<std::string, std::string> id_at = options_.seed_node_ids;
    for (const StorageNode& n : snapshot_->nodes()) id_at[n.address] = n.id;
    for (const std::string& seed : options_.seeds) {
      auto it = id_at.find(seed);
      targets.emplace_back(it == id_at.end() ? std::string() : it->second, seed);
    }
    for (int pass = 0; pass < 2; ++pass) {
      for (const StorageNode& n : snapshot_->nodes()) {
        if (n.alive == (pass == 0)) targets.emplace_back(n.id, n.address);
      }
    }
    // Last, seeds by address alone: one may now be a new node (new id) at the same address.
    for (const std::string& seed : options_.seeds) {
      if (id_at.count(seed) != 0) targets.emplace_back(std::string(), seed);
    }
  }
  std::set<std::pair<std::string, std::string>> tried;
  absl::Status last = absl::UnavailableError("no node to ask");
  for (const auto& [node_id, address] : targets) {
    if (!tried.insert(std::make_pair(node_id, address)).second) continue;
    v1::SliceService::Stub* stub;
    {
      absl::MutexLock lock(&mu_);
      stub = StubFor(node_id, address);
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     absl::ToChronoMilliseconds(options_.rpc_timeout));
    v1::ClusterMembersResponse response;
    grpc::Status s = stub->ClusterMembers(&ctx, v1::ClusterMembersRequest(), &response);
    if (s.ok()) return response;
    last = absl::UnavailableError(
        absl::StrCat("ClusterMembers from ", address, ": ", s.error_message()));
  }
  return last;
}

absl::Status MembershipClusterView::RefreshNow() {
  absl::MutexLock refresh_lock(&refresh_mu_);
  absl::StatusOr<v1::ClusterMembersResponse> response = AskOne();
  if (!response.ok()) return response.status();

  std::vector<StorageNode> nodes;
  std::vector<MetaMember> members;
  std::string signature;
  for (const v1::ClusterMember& m : response->members()) {
    if (m.grpc_address().empty() || m.node_id().empty()) continue;
    StorageNode n;
    n.id = m.node_id();
    n.address = m.grpc_address();
    n.site = m.location().site();
    n.isp = m.location().isp();
    n.zone = m.location().zone();
    n.free_bytes = m.free_bytes();
    n.capacity_bytes = m.capacity_bytes();
    n.egress_bytes_per_second = m.bandwidth().egress_bytes_per_second();
    n.ingress_bytes_per_second = m.bandwidth().ingress_bytes_per_second();
    n.median_rtt_micros = m.bandwidth().median_rtt_micros();
    n.alive = SaysAliveOrDraining(m) && m.liveness() == v1::ClusterMember::LIVENESS_ALIVE;
    n.draining = m.state() == v1::ClusterMember::STATE_DRAINING;
    nodes.push_back(n);
    // A draining node leaves the metadata too: layouts proposed from these members hand its
    // partitions off (docs/design/repair.md "Drain").
    if (m.state() == v1::ClusterMember::STATE_ALIVE &&
        m.liveness() != v1::ClusterMember::LIVENESS_DEAD) {
      members.push_back(MetaMember{n.id, n.site, n.address});
      // Members arrive sorted by node id, so the signature is canonical.
      absl::StrAppend(&signature, n.id, "\x1f", n.site, "\x1f", n.address, "\x1e");
    }
  }

  absl::MutexLock lock(&mu_);
  snapshot_ = std::make_shared<ClusterSnapshot>(std::move(nodes));
  if (!members.empty()) {
    if (signature != member_signature_) {
      TESSERA_LOG(INFO, "membership_meta_members_changed").Field("members", members.size());
    }
    members_ = std::move(members);
    member_signature_ = std::move(signature);
  }
  return absl::OkStatus();
}

}  // namespace tessera::services
