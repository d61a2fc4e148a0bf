#include "services/gatewayd/node_directory.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "grpcpp/grpcpp.h"
#include "p2p/auth/cluster_auth.h"

namespace tessera::services {

absl::Status NodeDirectoryOptions::Validate() const {
  if (addresses.empty()) return absl::InvalidArgumentError("addresses: at least one node needed");
  for (const std::string& a : addresses) {
    if (a.empty()) return absl::InvalidArgumentError("addresses: empty address");
  }
  if (poll_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("poll_interval must be positive");
  }
  if (rpc_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("rpc_timeout must be positive");
  }
  return absl::OkStatus();
}

NodeDirectory::NodeDirectory(NodeDirectoryOptions options)
    : options_(std::move(options)),
      snapshot_(std::make_shared<ClusterSnapshot>(std::vector<StorageNode>{})) {
  for (const std::string& a : options_.addresses) {
    NodeRecord r;
    r.address = a;
    r.last_error = "not polled yet";
    records_.push_back(std::move(r));
  }
}

absl::StatusOr<std::unique_ptr<NodeDirectory>> NodeDirectory::Start(NodeDirectoryOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  std::unique_ptr<NodeDirectory> d(new NodeDirectory(std::move(options)));
  d->RefreshNow();
  d->poller_ = std::thread([p = d.get()] { p->PollLoop(); });
  return d;
}

NodeDirectory::~NodeDirectory() {
  stop_.Notify();
  if (poller_.joinable()) poller_.join();
}

std::shared_ptr<const ClusterSnapshot> NodeDirectory::Snapshot() const {
  absl::MutexLock l(&mu_);
  return snapshot_;
}

std::vector<NodeRecord> NodeDirectory::Nodes() const {
  absl::MutexLock l(&mu_);
  return records_;
}

v1::SliceService::Stub* NodeDirectory::StubFor(const std::string& address) {
  absl::MutexLock l(&mu_);
  auto it = stubs_.find(address);
  if (it != stubs_.end()) return it->second.get();
  std::shared_ptr<grpc::Channel> channel =
      options_.auth != nullptr
          ? p2p::CreateAuthenticatedChannel(address, grpc::InsecureChannelCredentials(),
                                            grpc::ChannelArguments(), options_.auth)
          : grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = v1::SliceService::NewStub(channel);
  v1::SliceService::Stub* raw = stub.get();
  stubs_[address] = std::move(stub);
  return raw;
}

void NodeDirectory::RefreshNow() {
  absl::MutexLock refresh(&refresh_mu_);
  std::vector<NodeRecord> records = Nodes();
  // Poll all nodes in parallel (async stubs would do too; a handful of threads is simpler).
  std::vector<std::thread> threads;
  std::vector<std::pair<grpc::Status, v1::NodeInfoResponse>> results(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    threads.emplace_back([this, i, &records, &results] {
      v1::SliceService::Stub* stub = StubFor(records[i].address);
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(options_.rpc_timeout));
      results[i].first = stub->NodeInfo(&ctx, v1::NodeInfoRequest(), &results[i].second);
    });
  }
  for (std::thread& t : threads) t.join();

  std::vector<StorageNode> view;
  for (size_t i = 0; i < records.size(); ++i) {
    NodeRecord& r = records[i];
    const grpc::Status& s = results[i].first;
    const v1::NodeInfoResponse& info = results[i].second;
    if (s.ok()) {
      if (!r.alive) {
        TESSERA_LOG(INFO, "node_up").Field("address", r.address).Field("node_id", info.node_id());
      }
      r.node_id = info.node_id();
      r.location = info.location();
      r.capacity_bytes = info.capacity_bytes();
      r.free_bytes = info.free_bytes();
      r.alive = true;
      r.last_error.clear();
    } else {
      if (r.alive) {
        TESSERA_LOG(WARNING, "node_down")
            .Field("address", r.address)
            .Field("node_id", r.node_id)
            .Field("error", s.error_message());
      }
      r.alive = false;
      r.last_error = absl::StrCat(s.error_code(), ": ", s.error_message());
    }
    if (r.node_id.empty()) continue;
    StorageNode n;
    n.id = r.node_id;
    n.address = r.address;
    n.site = r.location.site();
    n.isp = r.location.isp();
    n.zone = r.location.zone();
    n.free_bytes = r.free_bytes;
    n.alive = r.alive;
    view.push_back(std::move(n));
  }
  auto snapshot = std::make_shared<const ClusterSnapshot>(std::move(view));
  absl::MutexLock l(&mu_);
  records_ = std::move(records);
  snapshot_ = std::move(snapshot);
}

void NodeDirectory::PollLoop() {
  while (!stop_.WaitForNotificationWithTimeout(options_.poll_interval)) RefreshNow();
}

}  // namespace tessera::services
