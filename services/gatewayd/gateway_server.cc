#include "services/gatewayd/gateway_server.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "grpcpp/grpcpp.h"
#include "p2p/auth/cluster_auth.h"
#include "services/common/admin_server.h"
#include "services/gateway/in_memory_manifest_store.h"
#include "services/gateway/object_service.h"
#include "services/gateway/slice_client.h"
#include "services/gateway/work_pool.h"
#include "services/gatewayd/gateway_service.h"
#include "services/gatewayd/node_directory.h"
#include "storage/crypto/key_file.h"

namespace tessera::services {

absl::Status GatewayServerOptions::Validate() const {
  if (listen.empty()) return absl::InvalidArgumentError("--listen is required");
  if (admin_listen.empty()) return absl::InvalidArgumentError("--admin_listen is required");
  if (master_key_file.empty()) {
    return absl::InvalidArgumentError(
        "--master_key_file is required (a file of cluster master keys, mode 0600)");
  }
  if (absl::Status s = data.Validate(); !s.ok()) return s;
  const size_t needed = static_cast<size_t>(data.data_shards + data.parity_shards);
  if (nodes.size() < needed) {
    return absl::InvalidArgumentError(absl::StrCat("--nodes lists ", nodes.size(),
                                                   " storage nodes; k+m = ", needed,
                                                   " are needed to store a stripe"));
  }
  if (data_path_threads == 0 || handler_threads == 0) {
    return absl::InvalidArgumentError("thread counts must be positive");
  }
  return absl::OkStatus();
}

class GatewayServer::Impl {
 public:
  GatewayServerOptions options;
  std::unique_ptr<storage::MasterKeyring> keyring;
  std::shared_ptr<const p2p::ClusterAuth> auth;
  std::unique_ptr<NodeDirectory> directory;
  std::unique_ptr<GrpcSliceClient> slices;
  std::unique_ptr<WorkPool> data_pool;
  std::unique_ptr<WorkPool> handler_pool;
  std::unique_ptr<InMemoryManifestStore> store;  // INTERIM, see the header
  std::unique_ptr<ObjectService> objects;
  std::unique_ptr<GatewayService> service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<AdminServer> admin;
  int port = 0;
  bool stopped = false;

  v1::ClusterStatusResponse Status() const {
    v1::ClusterStatusResponse out;
    for (const NodeRecord& r : directory->Nodes()) {
      v1::NodeStatus* n = out.add_nodes();
      n->set_node_id(r.node_id);
      n->set_address(r.address);
      n->set_site(r.location.site());
      n->set_isp(r.location.isp());
      n->set_zone(r.location.zone());
      n->set_host(r.location.host());
      n->set_state(r.alive ? "alive" : "dead");
      n->set_capacity_bytes(r.capacity_bytes);
      n->set_free_bytes(r.free_bytes);
    }
    return out;
  }
};

GatewayServer::GatewayServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GatewayServer::~GatewayServer() { Shutdown(absl::ZeroDuration()); }

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(GatewayServerOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  const GatewayServerOptions& o = impl->options;
  Registry* registry = o.registry != nullptr ? o.registry : &Registry::Default();

  auto keyring = storage::LoadMasterKeyFile(o.master_key_file);
  if (!keyring.ok()) return keyring.status();
  impl->keyring = *std::move(keyring);

  if (!o.cluster_secret_file.empty()) {
    auto auth = p2p::ClusterAuth::FromSecretFile(o.cluster_secret_file, "gateway");
    if (!auth.ok()) return auth.status();
    impl->auth = *std::move(auth);
  }

  NodeDirectoryOptions dir;
  dir.addresses = o.nodes;
  dir.poll_interval = o.node_poll_interval;
  dir.auth = impl->auth;
  auto directory = NodeDirectory::Start(std::move(dir));
  if (!directory.ok()) return directory.status();
  impl->directory = *std::move(directory);

  impl->slices = std::make_unique<GrpcSliceClient>();
  impl->data_pool = std::make_unique<WorkPool>(o.data_path_threads);
  impl->handler_pool = std::make_unique<WorkPool>(o.handler_threads);
  impl->store = std::make_unique<InMemoryManifestStore>();

  DataPathDeps deps;
  deps.cluster = impl->directory.get();
  deps.slices = impl->slices.get();
  deps.keyring = impl->keyring.get();
  deps.pool = impl->data_pool.get();
  auto objects = ObjectService::Create(o.data, deps, impl->store.get());
  if (!objects.ok()) return objects.status();
  impl->objects = *std::move(objects);

  GatewayServiceDeps sdeps;
  sdeps.objects = impl->objects.get();
  sdeps.store = impl->store.get();
  sdeps.data_path = deps;
  sdeps.handler_pool = impl->handler_pool.get();
  Impl* raw = impl.get();
  sdeps.cluster_status = [raw] { return raw->Status(); };
  sdeps.registry = registry;
  auto service = GatewayService::Create(std::move(sdeps));
  if (!service.ok()) return service.status();
  impl->service = *std::move(service);

  AdminServerOptions admin;
  admin.listen = o.admin_listen;
  admin.metrics_text = [registry] { return registry->Serialize(); };
  auto admin_server = AdminServer::Start(std::move(admin));
  if (!admin_server.ok()) return admin_server.status();
  impl->admin = *std::move(admin_server);

  grpc::ServerBuilder builder;
  builder.AddListeningPort(o.listen, grpc::InsecureServerCredentials(), &impl->port);
  builder.RegisterService(impl->service.get());
  builder.SetMaxReceiveMessageSize(static_cast<int>(kMaxChunkBytes + (64 << 10)));
  builder.SetMaxSendMessageSize(static_cast<int>(kMaxChunkBytes + (64 << 10)));
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || impl->port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", o.listen, " (address in use or not local?)"));
  }
  impl->admin->SetHealth(Health::kServing);
  return std::unique_ptr<GatewayServer>(new GatewayServer(std::move(impl)));
}

int GatewayServer::port() const { return impl_->port; }
int GatewayServer::admin_port() const { return impl_->admin->port(); }

int GatewayServer::known_nodes() const {
  return static_cast<int>(impl_->directory->Snapshot()->nodes().size());
}
int GatewayServer::alive_nodes() const {
  int n = 0;
  for (const StorageNode& s : impl_->directory->Snapshot()->nodes()) n += s.alive ? 1 : 0;
  return n;
}

void GatewayServer::Shutdown(absl::Duration grace) {
  if (impl_ == nullptr || impl_->stopped) return;
  impl_->stopped = true;
  impl_->admin->SetHealth(Health::kStopping);
  impl_->server->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
  impl_->server->Wait();
  // Handler tasks finished with their calls; drain the pools before what they use goes away.
  impl_->handler_pool.reset();
  impl_->data_pool.reset();
  impl_->admin->Stop();
}

}  // namespace tessera::services
