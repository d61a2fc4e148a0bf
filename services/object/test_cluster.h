// TestCluster: N real storage nodes (NodeServer, in process, 127.0.0.1:0, data under
// TEST_TMPDIR) and the gateway data path over them, for tests.
#pragma once

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/node.grpc.pb.h"
#include "base/metrics.h"
#include "grpcpp/grpcpp.h"
#include "services/node/node_server.h"
#include "services/object/cluster_view.h"
#include "services/object/in_memory_manifest_store.h"
#include "services/object/object_service.h"
#include "services/object/slice_client.h"
#include "services/object/work_pool.h"
#include "storage/crypto/key_wrap.h"

namespace tessera::services::testing {

struct TestClusterOptions {
  int nodes = 6;
  int sites = 3;  // node i is in site i % sites
  DataPathOptions data;
  size_t pool_threads = 16;
  Clock* clock = nullptr;  // the data path's clock; nullptr = real
};

class TestCluster {
 public:
  // Check ok() after construction.
  explicit TestCluster(TestClusterOptions options, SliceClient* slice_client = nullptr)
      : options_(std::move(options)), pool_(options_.pool_threads) {
    const char* tmp = std::getenv("TEST_TMPDIR");
    static int counter = 0;
    root_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/cluster_", ++counter);
    std::vector<StorageNode> view;
    for (int i = 0; i < options_.nodes; ++i) {
      NodeOptions node;
      node.data_dir = absl::StrCat(root_, "/node", i);
      node.listen = "127.0.0.1:0";
      node.admin_listen = "127.0.0.1:0";
      node.reserved_bytes = 0;
      node.disk_threads = 2;
      node.location.set_site(absl::StrCat("site", i % options_.sites));
      registries_.push_back(std::make_unique<Registry>());
      node.registry = registries_.back().get();
      auto started = NodeServer::Start(node);
      if (!started.ok()) {
        status_ = started.status();
        return;
      }
      data_dirs_.push_back(node.data_dir);
      StorageNode n;
      n.id = (*started)->node_id();
      n.address = absl::StrCat("127.0.0.1:", (*started)->port());
      n.site = node.location.site();
      n.free_bytes = 1ull << 34;
      view.push_back(n);
      nodes_.push_back(*std::move(started));
    }
    stopped_.assign(nodes_.size(), false);
    cluster_ = std::make_unique<StaticClusterView>(view);
    status_ = keyring_.Add(7, storage::SecretKey::Generate());
    if (!status_.ok()) return;
    deps_.cluster = cluster_.get();
    deps_.slices = slice_client != nullptr ? slice_client : &grpc_client_;
    deps_.keyring = &keyring_;
    deps_.pool = &pool_;
    deps_.clock = options_.clock;
    auto service = ObjectService::Create(options_.data, deps_, &store_);
    if (!service.ok()) {
      status_ = service.status();
      return;
    }
    service_ = *std::move(service);
  }

  ~TestCluster() {
    service_.reset();
    for (auto& node : nodes_) node->Shutdown(absl::ZeroDuration());
  }

  const absl::Status& status() const { return status_; }
  ObjectService& service() { return *service_; }
  InMemoryManifestStore& store() { return store_; }
  const DataPathDeps& deps() const { return deps_; }
  StaticClusterView& view() { return *cluster_; }
  GrpcSliceClient& grpc_client() { return grpc_client_; }
  int size() const { return static_cast<int>(nodes_.size()); }
  const std::string& node_id(int i) const { return nodes_[i]->node_id(); }
  int IndexOf(const std::string& node_id) const {
    for (int i = 0; i < size(); ++i) {
      if (nodes_[i]->node_id() == node_id) return i;
    }
    return -1;
  }
  const std::string& data_dir(int i) const { return data_dirs_[i]; }

  // Stops node i (its address then refuses connections: UNAVAILABLE).
  void StopNode(int i) {
    stopped_[i] = true;
    nodes_[i]->Shutdown(absl::ZeroDuration());
  }

  // Slice files on node i's disk.
  std::vector<std::string> SliceFiles(int i) const {
    std::vector<std::string> out;
    std::error_code ec;
    const std::filesystem::path dir = std::filesystem::path(data_dirs_[i]) / "slices";
    for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file() && it->path().extension() == ".slice") {
        out.push_back(it->path().string());
      }
    }
    return out;
  }
  // Slices node i holds (NodeInfo; small slices live in the node's index, not in files).
  uint64_t SliceCount(int i) const {
    auto stub = v1::SliceService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", nodes_[i]->port()), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::NodeInfoResponse info;
    grpc::Status s = stub->NodeInfo(&ctx, v1::NodeInfoRequest(), &info);
    return s.ok() ? info.slice_count() : 0;
  }
  // Slices on every node still running (stopped nodes are skipped).
  uint64_t TotalSlices() const {
    uint64_t total = 0;
    for (int i = 0; i < size(); ++i) {
      if (!stopped_[i]) total += SliceCount(i);
    }
    return total;
  }

 private:
  TestClusterOptions options_;
  absl::Status status_;
  std::string root_;
  std::vector<std::unique_ptr<Registry>> registries_;
  std::vector<std::unique_ptr<NodeServer>> nodes_;
  std::vector<std::string> data_dirs_;
  std::vector<bool> stopped_;
  std::unique_ptr<StaticClusterView> cluster_;
  GrpcSliceClient grpc_client_;
  storage::MasterKeyring keyring_;
  WorkPool pool_;
  InMemoryManifestStore store_;
  DataPathDeps deps_;
  std::unique_ptr<ObjectService> service_;
};

}  // namespace tessera::services::testing
