#include "services/node/node_server.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "grpcpp/grpcpp.h"
#include "p2p/identity/node_identity.h"
#include "services/common/admin_server.h"
#include "services/common/host_port.h"
#include "services/node/bounded_executor.h"
#include "services/node/node_metrics.h"
#include "services/node/slice_service.h"
#include "services/node/slice_service_core.h"
#include "storage/store/slice_store.h"

namespace tessera::services {

absl::Status NodeOptions::Validate() const {
  if (data_dir.empty()) return absl::InvalidArgumentError("data_dir is required");
  if (auto hp = ParseHostPort(listen); !hp.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("listen: ", hp.status().message()));
  }
  if (auto hp = ParseHostPort(admin_listen); !hp.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("admin_listen: ", hp.status().message()));
  }
  if (max_slice_bytes == 0 || max_slice_bytes > (1ull << 30)) {
    return absl::InvalidArgumentError("max_slice_bytes must be in 1..1073741824");
  }
  if (capacity_bytes != 0 && capacity_bytes < max_slice_bytes) {
    return absl::InvalidArgumentError(
        "capacity_bytes must be 0 (whole disk) or at least max_slice_bytes");
  }
  if (max_buffered_put_bytes < max_slice_bytes) {
    return absl::InvalidArgumentError("max_buffered_put_bytes must be >= max_slice_bytes");
  }
  if (disk_threads == 0 || disk_threads > 256) {
    return absl::InvalidArgumentError("disk_threads must be in 1..256");
  }
  if (max_queued_tasks == 0) return absl::InvalidArgumentError("max_queued_tasks must be > 0");
  return absl::OkStatus();
}

class NodeServer::Impl {
 public:
  absl::Status Init(NodeOptions options) {
    options_ = std::move(options);
    Env* env = options_.env != nullptr ? options_.env : Env::Default();
    Registry* registry = options_.registry != nullptr ? options_.registry : &Registry::Default();

    if (absl::Status s = env->CreateDirs(options_.data_dir); !s.ok()) return s;
    auto identity = p2p::NodeIdentity::LoadOrCreate(env, options_.data_dir + "/node.key");
    if (!identity.ok()) return identity.status();
    identity_ = *std::move(identity);

    storage::SliceStoreOptions store_options;
    store_options.index_dir = options_.data_dir + "/index";
    store_options.data_dirs = {options_.data_dir + "/slices"};
    store_options.max_slice_bytes = options_.max_slice_bytes;
    store_options.capacity_bytes = options_.capacity_bytes;
    store_options.reserved_bytes = options_.reserved_bytes;
    store_options.env = env;
    auto store = storage::OpenSliceStore(store_options);
    if (!store.ok()) return store.status();
    store_ = *std::move(store);
    const storage::RecoveryReport& report = store_->recovery_report();
    TESSERA_LOG(INFO, "store_opened")
        .Field("slices", report.slices)
        .Field("orphan_files", report.orphan_files)
        .Field("missing_files", report.missing_files)
        .Field("temp_files", report.temp_files);

    auto metrics = NodeMetrics::Create(registry);
    if (!metrics.ok()) return metrics.status();
    metrics_ = *std::move(metrics);

    SliceServiceOptions service_options;
    service_options.max_slice_bytes = options_.max_slice_bytes;
    service_options.max_buffered_put_bytes = options_.max_buffered_put_bytes;
    if (absl::Status s = service_options.Validate(); !s.ok()) return s;
    NodeDescription description;
    description.node_id = identity_->node_id();
    description.public_key = identity_->public_key();
    description.location = options_.location;
    description.version = kNodeVersion;
    core_ = std::make_unique<SliceServiceCore>(store_.get(), service_options, description);
    executor_ = std::make_unique<BoundedExecutor>(options_.disk_threads, options_.max_queued_tasks);
    service_ = std::make_unique<SliceServiceImpl>(core_.get(), executor_.get(), metrics_.get());

    AdminServerOptions admin_options;
    admin_options.listen = options_.admin_listen;
    admin_options.metrics_text = [this, registry] {
      metrics_->UpdateStore(store_->Stats(), core_->buffered_put_bytes());
      return registry->Serialize();
    };
    auto admin = AdminServer::Start(admin_options);
    if (!admin.ok()) return admin.status();
    admin_ = *std::move(admin);

    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(options_.listen, grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    // One data chunk (1 MiB) plus the header fields and framing.
    builder.SetMaxReceiveMessageSize(
        static_cast<int>(SliceServiceCore::kMaxChunkBytes + 64 * 1024));
    builder.SetMaxSendMessageSize(static_cast<int>(SliceServiceCore::kMaxChunkBytes + 64 * 1024));
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port == 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.listen));
    }
    port_ = static_cast<uint16_t>(port);
    admin_->SetHealth(Health::kServing);
    return absl::OkStatus();
  }

  void Shutdown(absl::Duration grace) {
    absl::MutexLock lock(&shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
    if (admin_ != nullptr) admin_->SetHealth(Health::kStopping);
    if (server_ != nullptr) {
      // Stops accepting at once; in-flight calls get until the deadline, then are cancelled.
      // Reactors still queued on the executor finish their calls, as it keeps running here.
      server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(grace));
      server_->Wait();
      TESSERA_LOG(DEBUG, "node_shutdown").Field("step", "rpcs_drained");
    }
    if (executor_ != nullptr) executor_->Shutdown();
    // The admin server's /metrics reads the store: stop it before the store goes away.
    if (admin_ != nullptr) admin_->Stop();
    TESSERA_LOG(DEBUG, "node_shutdown").Field("step", "executor_and_admin_stopped");
    server_.reset();
    service_.reset();
    core_.reset();
    store_.reset();  // closes the index
    TESSERA_LOG(DEBUG, "node_shutdown").Field("step", "store_closed");
  }

  NodeOptions options_;
  std::unique_ptr<p2p::NodeIdentity> identity_;
  std::unique_ptr<storage::SliceStore> store_;
  std::unique_ptr<NodeMetrics> metrics_;
  std::unique_ptr<SliceServiceCore> core_;
  std::unique_ptr<BoundedExecutor> executor_;
  std::unique_ptr<SliceServiceImpl> service_;
  std::unique_ptr<AdminServer> admin_;
  std::unique_ptr<grpc::Server> server_;
  uint16_t port_ = 0;
  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

absl::StatusOr<std::unique_ptr<NodeServer>> NodeServer::Start(NodeOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  auto impl = std::make_unique<Impl>();
  if (absl::Status s = impl->Init(std::move(options)); !s.ok()) {
    impl->Shutdown(absl::ZeroDuration());
    return s;
  }
  return std::unique_ptr<NodeServer>(new NodeServer(std::move(impl)));
}

NodeServer::NodeServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NodeServer::~NodeServer() { Shutdown(absl::ZeroDuration()); }
uint16_t NodeServer::port() const { return impl_->port_; }
uint16_t NodeServer::admin_port() const { return impl_->admin_->port(); }
const std::string& NodeServer::node_id() const { return impl_->identity_->node_id(); }
void NodeServer::Shutdown(absl::Duration grace) { impl_->Shutdown(grace); }

}  // namespace tessera::services
