#include "services/gatewayd/gateway_server.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/logging.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "services/common/admin_server.h"
#include "services/gatewayd/call_verifier.h"
#include "services/gatewayd/gateway_service.h"
#include "services/object/backend_metrics.h"
#include "services/object/cluster_view.h"
#include "services/object/object_backend.h"
#include "services/object/work_pool.h"
#include "services/s3/auth/credential_store.h"

namespace tessera::services {
namespace {

// Reads a PEM file whole; NOT_FOUND naming the file (never its contents) if unreadable.
absl::Status ReadPem(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in || ss.str().empty()) {
    return absl::NotFoundError(absl::StrCat("cannot read TLS file ", path));
  }
  *out = ss.str();
  return absl::OkStatus();
}

}  // namespace

absl::Status GatewayServerOptions::Validate() const {
  if (listen.empty()) return absl::InvalidArgumentError("--listen is required");
  if (admin_listen.empty()) return absl::InvalidArgumentError("--admin_listen is required");
  if (credentials_file.empty()) {
    return absl::InvalidArgumentError(
        "--credentials_file is required (the users who may call the gateway; same format as "
        "tessera-s3's, see services/s3/auth/credential_store.h)");
  }
  if (tls_cert_file.empty() != tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert_file and --tls_key_file go together");
  }
  if (!tls_cert_file.empty() && tls_refresh_interval < absl::Seconds(1)) {
    return absl::InvalidArgumentError("--tls_refresh_interval must be at least 1s");
  }
  if (max_clock_skew <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("max_clock_skew must be positive");
  }
  if (master_key_file.empty()) {
    return absl::InvalidArgumentError(
        "--master_key_file is required (a file of cluster master keys, mode 0600)");
  }
  if (seeds.empty()) {
    return absl::InvalidArgumentError("--seeds is required (gRPC host:port of storage nodes)");
  }
  if (cluster_secret_file.empty() && !insecure_no_auth) {
    return absl::InvalidArgumentError(
        "--cluster_secret_file is required (or --insecure_no_auth for a development cluster "
        "whose nodes run without authentication)");
  }
  if (!cluster_secret_file.empty() && insecure_no_auth) {
    return absl::InvalidArgumentError(
        "--cluster_secret_file and --insecure_no_auth are mutually exclusive");
  }
  if (absl::Status s = data.Validate(); !s.ok()) return s;
  if (data_path_threads == 0 || handler_threads == 0) {
    return absl::InvalidArgumentError("thread counts must be positive");
  }
  return absl::OkStatus();
}

class GatewayServer::Impl {
 public:
  GatewayServerOptions options;
  std::unique_ptr<s3::CredentialStore> credentials;
  std::unique_ptr<CallVerifier> verifier;
  std::unique_ptr<ObjectBackend> backend;
  std::unique_ptr<WorkPool> handler_pool;
  std::unique_ptr<GatewayService> service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<BackendMetrics> backend_metrics;
  std::unique_ptr<AdminServer> admin;
  int port = 0;
  bool stopped = false;

  v1::ClusterStatusResponse Status() const {
    v1::ClusterStatusResponse out;
    // Held for the loop (the view may drop it at any time; see ClusterView::Snapshot).
    const std::shared_ptr<const ClusterSnapshot> snapshot = backend->cluster().Snapshot();
    for (const StorageNode& node : snapshot->nodes()) {
      v1::NodeStatus* n = out.add_nodes();
      n->set_node_id(node.id);
      n->set_address(node.address);
      n->set_site(node.site);
      n->set_isp(node.isp);
      n->set_zone(node.zone);
      n->set_state(node.draining ? "draining" : node.alive ? "alive" : "dead");
      n->set_capacity_bytes(node.capacity_bytes);
      n->set_free_bytes(node.free_bytes);
      n->set_egress_bytes_per_second(node.egress_bytes_per_second);
      n->set_ingress_bytes_per_second(node.ingress_bytes_per_second);
      n->set_median_rtt_micros(node.median_rtt_micros);
    }
    AddNodeReports(&out);
    return out;
  }

  // Asks every alive node for its own report (NodeInfo: slices, repair, scrub), in parallel, each
  // within kNodeReportTimeout: a slow node leaves its row unreported instead of stalling status.
  void AddNodeReports(v1::ClusterStatusResponse* out) const {
    constexpr absl::Duration kNodeReportTimeout = absl::Seconds(3);
    constexpr size_t kParallel = 16;
    std::vector<v1::NodeStatus*> rows;
    for (v1::NodeStatus& n : *out->mutable_nodes()) {
      if (n.state() != "dead") rows.push_back(&n);
    }
    std::atomic<size_t> next{0};
    std::vector<std::thread> askers;
    for (size_t t = 0; t < std::min(kParallel, rows.size()); ++t) {
      askers.emplace_back([&] {
        for (size_t i = next++; i < rows.size(); i = next++) {
          absl::StatusOr<v1::NodeInfoResponse> info =
              backend->grpc_slices().NodeInfo(rows[i]->address(), kNodeReportTimeout);
          if (!info.ok()) continue;
          rows[i]->set_reported(true);
          rows[i]->set_slice_count(info->slice_count());
          if (info->has_repair()) *rows[i]->mutable_repair() = info->repair();
          if (info->has_scrub()) *rows[i]->mutable_scrub() = info->scrub();
        }
      });
    }
    for (std::thread& t : askers) t.join();
  }
};

GatewayServer::GatewayServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

absl::Status GatewayServer::ReloadCredentials() {
  return impl_->credentials->ReloadFromFile(impl_->options.credentials_file);
}
GatewayServer::~GatewayServer() { Shutdown(absl::ZeroDuration()); }

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(GatewayServerOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  const GatewayServerOptions& o = impl->options;
  Registry* registry = o.registry != nullptr ? o.registry : &Registry::Default();

  auto credentials = s3::CredentialStore::LoadFromFile(o.credentials_file);
  if (!credentials.ok()) {
    return absl::Status(credentials.status().code(),
                        absl::StrCat("--credentials_file: ", credentials.status().message()));
  }
  impl->credentials = *std::move(credentials);
  impl->verifier = std::make_unique<CallVerifier>(
      impl->credentials.get(), Clock::Real(), CallVerifierOptions{.max_skew = o.max_clock_skew});
  std::shared_ptr<grpc::ServerCredentials> transport = grpc::InsecureServerCredentials();
  if (!o.tls_cert_file.empty()) {
    // Checked now so that a bad file fails the start naming it; from then on gRPC's file watcher
    // re-reads the pair every tls_refresh_interval (keeping the last good one on errors).
    std::string key, cert;
    if (absl::Status s = ReadPem(o.tls_key_file, &key); !s.ok()) return s;
    if (absl::Status s = ReadPem(o.tls_cert_file, &cert); !s.ok()) return s;
    auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        o.tls_key_file, o.tls_cert_file,
        static_cast<unsigned int>(absl::ToInt64Seconds(o.tls_refresh_interval)));
    grpc::experimental::TlsServerCredentialsOptions tls(std::move(provider));
    tls.watch_identity_key_cert_pairs();
    transport = grpc::experimental::TlsServerCredentials(tls);
  }

  ObjectBackendOptions bo;
  bo.seeds = o.seeds;
  bo.location = o.location;
  bo.cluster_secret_file = o.cluster_secret_file;
  bo.insecure_no_auth = o.insecure_no_auth;
  bo.master_key_file = o.master_key_file;
  bo.data = o.data;
  bo.data_path_threads = o.data_path_threads;
  bo.membership_refresh = o.membership_refresh;
  bo.gc_interval = o.gc_interval;
  bo.gc.grace = o.gc_grace;
  bo.orphan_interval = o.orphan_interval;
  bo.orphans.grace = o.orphan_grace;
  auto backend = OpenObjectBackend(std::move(bo));
  if (!backend.ok()) return backend.status();
  impl->backend = *std::move(backend);

  impl->handler_pool = std::make_unique<WorkPool>(o.handler_threads);

  GatewayServiceDeps sdeps;
  sdeps.objects = &impl->backend->objects();
  sdeps.store = &impl->backend->store();
  sdeps.data_path = impl->backend->deps();
  sdeps.handler_pool = impl->handler_pool.get();
  Impl* raw = impl.get();
  sdeps.cluster_status = [raw] { return raw->Status(); };
  sdeps.registry = registry;
  sdeps.verifier = impl->verifier.get();
  auto service = GatewayService::Create(std::move(sdeps));
  if (!service.ok()) return service.status();
  impl->service = *std::move(service);

  AdminServerOptions admin;
  admin.listen = o.admin_listen;
  auto backend_metrics = BackendMetrics::Create(registry);
  if (!backend_metrics.ok()) return backend_metrics.status();
  impl->backend_metrics = *std::move(backend_metrics);
  admin.metrics_text = [registry, raw] {
    raw->backend_metrics->Update(raw->backend->Health());
    return registry->Serialize();
  };
  admin.readiness = [backend = impl->backend.get()] { return backend->Readiness(); };
  auto admin_server = AdminServer::Start(std::move(admin));
  if (!admin_server.ok()) return admin_server.status();
  impl->admin = *std::move(admin_server);

  grpc::ServerBuilder builder;
  builder.AddListeningPort(o.listen, transport, &impl->port);
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
  return static_cast<int>(impl_->backend->cluster().Snapshot()->nodes().size());
}
int GatewayServer::alive_nodes() const {
  int n = 0;
  const std::shared_ptr<const ClusterSnapshot> snapshot = impl_->backend->cluster().Snapshot();
  for (const StorageNode& s : snapshot->nodes()) n += s.alive ? 1 : 0;
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
  impl_->admin->Stop();
}

}  // namespace tessera::services
