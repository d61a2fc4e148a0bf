#include "services/meta/meta_client.h"

#include <sodium.h>

#include <chrono>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "services/meta/meta_service.h"

namespace tessera::services {

void GrpcAcceptorClient::SetMembers(const std::vector<MetaMember>& members) {
  absl::MutexLock lock(&mu_);
  addresses_.clear();
  for (const MetaMember& m : members) addresses_[m.node_id] = m.address;
}

std::shared_ptr<tessera::v1::MetaService::Stub> GrpcAcceptorClient::StubFor(
    const std::string& node_id, std::string* address) {
  absl::MutexLock lock(&mu_);
  auto it = addresses_.find(node_id);
  if (it == addresses_.end()) return nullptr;
  *address = it->second;
  auto& stub = stubs_[it->second];
  if (!stub) {
    stub = tessera::v1::MetaService::NewStub(
        auth_ != nullptr
            ? p2p::CreateAuthenticatedChannel(it->second, grpc::InsecureChannelCredentials(),
                                              grpc::ChannelArguments(), auth_)
            : grpc::CreateChannel(it->second, grpc::InsecureChannelCredentials()));
  }
  return stub;
}

template <typename Req, typename Resp, typename Method>
void GrpcAcceptorClient::Call(const std::string& node_id, const char* name, const Req& request,
                              Callback<Resp> done, Method method) {
  if (observer_) observer_(node_id, name);
  std::string address;
  std::shared_ptr<tessera::v1::MetaService::Stub> stub = StubFor(node_id, &address);
  if (stub == nullptr) {
    done(absl::UnavailableError(absl::StrCat("no address for metadata node ", node_id)));
    return;
  }
  struct State {
    grpc::ClientContext context;
    Req request;
    Resp response;
    Callback<Resp> done;
    std::shared_ptr<tessera::v1::MetaService::Stub> stub;
    std::string node;
  };
  auto* state = new State;
  state->request = request;
  state->done = std::move(done);
  state->stub = stub;
  state->node = node_id;
  state->context.set_deadline(std::chrono::system_clock::now() +
                              absl::ToChronoMilliseconds(deadline_));
  (stub->async()->*method)(
      &state->context, &state->request, &state->response, [state](grpc::Status s) {
        std::unique_ptr<State> owned(state);
        if (s.ok()) {
          owned->done(std::move(owned->response));
        } else {
          absl::Status st = FromGrpcStatus(s);
          owned->done(absl::Status(
              st.code(), absl::StrCat("metadata node ", owned->node, ": ", st.message())));
        }
      });
}

void GrpcAcceptorClient::Prepare(const std::string& node_id,
                                 const tessera::v1::PrepareRequest& request,
                                 Callback<tessera::v1::PrepareResponse> done) {
  Call<tessera::v1::PrepareRequest, tessera::v1::PrepareResponse>(
      node_id, "Prepare", request, std::move(done),
      static_cast<void (tessera::v1::MetaService::Stub::async_interface::*)(
          grpc::ClientContext*, const tessera::v1::PrepareRequest*, tessera::v1::PrepareResponse*,
          std::function<void(grpc::Status)>)>(
          &tessera::v1::MetaService::Stub::async_interface::Prepare));
}
void GrpcAcceptorClient::Accept(const std::string& node_id,
                                const tessera::v1::AcceptRequest& request,
                                Callback<tessera::v1::AcceptResponse> done) {
  Call<tessera::v1::AcceptRequest, tessera::v1::AcceptResponse>(
      node_id, "Accept", request, std::move(done),
      static_cast<void (tessera::v1::MetaService::Stub::async_interface::*)(
          grpc::ClientContext*, const tessera::v1::AcceptRequest*, tessera::v1::AcceptResponse*,
          std::function<void(grpc::Status)>)>(
          &tessera::v1::MetaService::Stub::async_interface::Accept));
}
void GrpcAcceptorClient::Commit(const std::string& node_id,
                                const tessera::v1::CommitRequest& request,
                                Callback<tessera::v1::CommitResponse> done) {
  Call<tessera::v1::CommitRequest, tessera::v1::CommitResponse>(
      node_id, "Commit", request, std::move(done),
      static_cast<void (tessera::v1::MetaService::Stub::async_interface::*)(
          grpc::ClientContext*, const tessera::v1::CommitRequest*, tessera::v1::CommitResponse*,
          std::function<void(grpc::Status)>)>(
          &tessera::v1::MetaService::Stub::async_interface::Commit));
}
void GrpcAcceptorClient::Read(const std::string& node_id, const tessera::v1::ReadRequest& request,
                              Callback<tessera::v1::ReadResponse> done) {
  Call<tessera::v1::ReadRequest, tessera::v1::ReadResponse>(
      node_id, "Read", request, std::move(done),
      static_cast<void (tessera::v1::MetaService::Stub::async_interface::*)(
          grpc::ClientContext*, const tessera::v1::ReadRequest*, tessera::v1::ReadResponse*,
          std::function<void(grpc::Status)>)>(
          &tessera::v1::MetaService::Stub::async_interface::Read));
}
void GrpcAcceptorClient::Scan(const std::string& node_id, const tessera::v1::ScanRequest& request,
                              Callback<tessera::v1::ScanResponse> done) {
  Call<tessera::v1::ScanRequest, tessera::v1::ScanResponse>(
      node_id, "Scan", request, std::move(done),
      static_cast<void (tessera::v1::MetaService::Stub::async_interface::*)(
          grpc::ClientContext*, const tessera::v1::ScanRequest*, tessera::v1::ScanResponse*,
          std::function<void(grpc::Status)>)>(
          &tessera::v1::MetaService::Stub::async_interface::Scan));
}

absl::Status MetaClientOptions::Validate() const {
  if (absl::Status s = paxos.Validate(); !s.ok()) return s;
  if (absl::Status s = clock_options.Validate(); !s.ok()) return s;
  if (rpc_deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("MetaClientOptions.rpc_deadline must be > 0");
  }
  return absl::OkStatus();
}

namespace {
std::string RandomClientId() {
  unsigned char id[8];
  randombytes_buf(id, sizeof(id));
  return absl::StrCat("gw-",
                      absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(id), 8)));
}
}  // namespace

absl::StatusOr<std::unique_ptr<MetaClient>> MetaClient::Create(LayoutView view,
                                                               MetaClientOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  if (sodium_init() < 0) return absl::InternalError("sodium_init failed");
  if (options.clock == nullptr) options.clock = Clock::Real();
  if (options.client_id.empty()) options.client_id = RandomClientId();
  return std::unique_ptr<MetaClient>(new MetaClient(std::move(view), std::move(options)));
}

MetaClient::MetaClient(LayoutView view, MetaClientOptions options)
    : options_(std::move(options)),
      hlc_(options_.clock, options_.clock_options),
      transport_(options_.rpc_deadline, options_.auth, options_.rpc_observer),
      proposer_(options_.client_id, &hlc_, &transport_, options_.paxos),
      view_(std::move(view)) {
  SetLayout(view_);
}

void MetaClient::SetLayout(LayoutView view) {
  std::vector<MetaMember> members = view.current().members();
  if (const Layout* prev = view.previous()) {
    for (const MetaMember& m : prev->members()) {
      if (view.current().FindMember(m.node_id) == nullptr) members.push_back(m);
    }
  }
  transport_.SetMembers(members);
  absl::MutexLock lock(&mu_);
  view_ = std::move(view);
}

LayoutView MetaClient::layout() const {
  absl::MutexLock lock(&mu_);
  return view_;
}

uint32_t MetaClient::partitions() const { return layout().partitions(); }

absl::StatusOr<MetaValue> MetaClient::Get(const tessera::v1::MetaKey& key) {
  return proposer_.Read(layout(), key);
}

absl::StatusOr<MetaValue> MetaClient::CompareAndSet(const tessera::v1::MetaKey& key,
                                                    const UpdateFn& fn) {
  return proposer_.CompareAndSet(layout(), key, fn);
}

absl::StatusOr<ScanResult> MetaClient::Scan(const std::string& bucket, const std::string& start,
                                            const std::string& end, uint32_t limit,
                                            const std::string& page_token) {
  LayoutView view = layout();
  return proposer_.Scan(view, PartitionForShard(bucket, 0, view.partitions()),
                        tessera::v1::META_TABLE_OBJECT, bucket, start, end, limit, page_token);
}

}  // namespace tessera::services
