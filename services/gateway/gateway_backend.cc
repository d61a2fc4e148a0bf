#include "services/gateway/gateway_backend.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/crypto/key_file.h"

namespace tessera::services {

absl::Status GatewayBackendOptions::Validate() const {
  if (seeds.empty()) return absl::InvalidArgumentError("seeds: at least one storage node address");
  const bool has_auth = auth != nullptr || !cluster_secret_file.empty();
  if (has_auth && insecure_no_auth) {
    return absl::InvalidArgumentError(
        "cluster_secret_file and insecure_no_auth are mutually exclusive");
  }
  if (!has_auth && !insecure_no_auth) {
    return absl::InvalidArgumentError(
        "cluster_secret_file is required (or insecure_no_auth for development)");
  }
  if (keyring == nullptr && master_key_file.empty()) {
    return absl::InvalidArgumentError("master_key_file is required");
  }
  if (data_path_threads == 0) return absl::InvalidArgumentError("data_path_threads must be > 0");
  if (membership_refresh <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("membership_refresh must be > 0");
  }
  if (meta_rpc_deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("meta_rpc_deadline must be > 0");
  }
  if (absl::Status s = EffectiveLayout().Validate(); !s.ok()) return s;
  return data.Validate();
}

LayoutOptions GatewayBackendOptions::EffectiveLayout() const {
  if (layout.replicas != 0) return layout;
  LayoutOptions derived = layout;
  const uint32_t m = static_cast<uint32_t>(std::max(data.parity_shards, 0));
  derived.replicas = std::max<uint32_t>(3, 2 * m + 1);
  derived.write_quorum = derived.replicas / 2 + 1;
  derived.read_quorum = derived.replicas / 2 + 1;
  return derived;
}

GatewayBackend::~GatewayBackend() {
  // Users are gone; stop what runs on its own in dependency order.
  objects_.reset();
  pool_.reset();     // drains slice RPCs
  cluster_.reset();  // stops the refresher (and with it the layout listener)
  store_.reset();
  meta_.reset();
}

absl::StatusOr<std::unique_ptr<GatewayBackend>> OpenGatewayBackend(GatewayBackendOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  std::unique_ptr<GatewayBackend> b(new GatewayBackend());

  if (options.auth != nullptr) {
    b->auth_ = options.auth;
  } else if (!options.cluster_secret_file.empty()) {
    auto auth = p2p::ClusterAuth::FromSecretFile(options.cluster_secret_file, options.caller_id);
    if (!auth.ok()) return auth.status();
    b->auth_ = *std::move(auth);
  }

  const storage::MasterKeyring* keyring = options.keyring;
  if (keyring == nullptr) {
    auto loaded = storage::LoadMasterKeyFile(options.master_key_file);
    if (!loaded.ok()) return loaded.status();
    b->owned_keyring_ = *std::move(loaded);
    keyring = b->owned_keyring_.get();
  }

  MembershipClusterViewOptions view_options;
  view_options.seeds = options.seeds;
  view_options.auth = b->auth_;
  view_options.refresh_interval = options.membership_refresh;
  view_options.layout = options.EffectiveLayout();
  auto cluster = MembershipClusterView::Start(std::move(view_options));
  if (!cluster.ok()) return cluster.status();
  b->cluster_ = *std::move(cluster);

  MetaClientOptions meta_options;
  meta_options.auth = b->auth_;
  meta_options.rpc_deadline = options.meta_rpc_deadline;
  meta_options.rpc_observer = options.meta_rpc_observer;
  auto meta = MetaClient::Create(b->cluster_->layout(), std::move(meta_options));
  if (!meta.ok()) return meta.status();
  b->meta_ = *std::move(meta);
  MetaClient* meta_client = b->meta_.get();
  b->cluster_->SetLayoutListener([meta_client](const LayoutView& v) { meta_client->SetLayout(v); });
  // A change between Create and the listener would be missed: apply the latest once more.
  b->meta_->SetLayout(b->cluster_->layout());

  b->store_ = std::make_unique<ReplicatedManifestStore>(b->meta_.get());

  GrpcSliceClientOptions slice_options;
  slice_options.auth = b->auth_;
  if (absl::Status s = slice_options.Validate(); !s.ok()) return s;
  b->grpc_slices_ = std::make_unique<GrpcSliceClient>(slice_options);
  b->pool_ = std::make_unique<WorkPool>(options.data_path_threads);

  b->deps_.cluster = b->cluster_.get();
  b->deps_.slices = options.slices != nullptr ? options.slices : b->grpc_slices_.get();
  b->deps_.keyring = keyring;
  b->deps_.key_source = options.key_source;
  b->deps_.pool = b->pool_.get();
  b->deps_.clock = options.clock;
  auto objects = ObjectService::Create(options.data, b->deps_, b->store_.get());
  if (!objects.ok()) return objects.status();
  b->objects_ = *std::move(objects);
  return b;
}

}  // namespace tessera::services
