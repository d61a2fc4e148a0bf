#include "services/meta/meta_service.h"

#include <string>
#include <utility>

namespace tessera::services {
namespace {

template <typename Resp>
grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context, absl::StatusOr<Resp> result,
                                 Resp* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (result.ok()) {
    *response = *std::move(result);
    reactor->Finish(grpc::Status::OK);
  } else {
    reactor->Finish(ToGrpcStatus(result.status()));
  }
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* MetaServiceImpl::Prepare(grpc::CallbackServerContext* context,
                                                   const tessera::v1::PrepareRequest* request,
                                                   tessera::v1::PrepareResponse* response) {
  if (absl::Status s = Authenticate(*context, kMetaPrepareMethod); !s.ok()) {
    return Finish<tessera::v1::PrepareResponse>(context, s, response);
  }
  return Finish(context, store_->Prepare(*request), response);
}

grpc::ServerUnaryReactor* MetaServiceImpl::Accept(grpc::CallbackServerContext* context,
                                                  const tessera::v1::AcceptRequest* request,
                                                  tessera::v1::AcceptResponse* response) {
  if (absl::Status s = Authenticate(*context, kMetaAcceptMethod); !s.ok()) {
    return Finish<tessera::v1::AcceptResponse>(context, s, response);
  }
  return Finish(context, store_->Accept(*request), response);
}

grpc::ServerUnaryReactor* MetaServiceImpl::Commit(grpc::CallbackServerContext* context,
                                                  const tessera::v1::CommitRequest* request,
                                                  tessera::v1::CommitResponse* response) {
  if (absl::Status s = Authenticate(*context, kMetaCommitMethod); !s.ok()) {
    return Finish<tessera::v1::CommitResponse>(context, s, response);
  }
  return Finish(context, store_->Commit(*request), response);
}

grpc::ServerUnaryReactor* MetaServiceImpl::Read(grpc::CallbackServerContext* context,
                                                const tessera::v1::ReadRequest* request,
                                                tessera::v1::ReadResponse* response) {
  if (absl::Status s = Authenticate(*context, kMetaReadMethod); !s.ok()) {
    return Finish<tessera::v1::ReadResponse>(context, s, response);
  }
  return Finish(context, store_->Read(*request), response);
}

grpc::ServerUnaryReactor* MetaServiceImpl::Scan(grpc::CallbackServerContext* context,
                                                const tessera::v1::ScanRequest* request,
                                                tessera::v1::ScanResponse* response) {
  if (absl::Status s = Authenticate(*context, kMetaScanMethod); !s.ok()) {
    return Finish<tessera::v1::ScanResponse>(context, s, response);
  }
  return Finish(context, store_->Scan(*request), response);
}

grpc::ServerUnaryReactor* MetaServiceImpl::JoinPartitions(
    grpc::CallbackServerContext* context, const tessera::v1::JoinPartitionsRequest* request,
    tessera::v1::JoinPartitionsResponse* response) {
  if (absl::Status s = Authenticate(*context, kMetaJoinPartitionsMethod); !s.ok()) {
    return Finish<tessera::v1::JoinPartitionsResponse>(context, s, response);
  }
  return Finish(context, store_->JoinPartitions(*request), response);
}

absl::Status MetaServiceImpl::Authenticate(const grpc::CallbackServerContext& context,
                                           const char* method) const {
  if (absl::Status s = p2p::CheckProtocolVersion(context); !s.ok()) return s;
  if (auth_ == nullptr) return absl::OkStatus();
  return auth_->Verify(context, method);
}

std::unique_ptr<MetaServiceImpl> RegisterMetaService(grpc::ServerBuilder& builder,
                                                     AcceptorStore* store,
                                                     const p2p::ClusterAuth* auth) {
  auto service = std::make_unique<MetaServiceImpl>(store, auth);
  builder.RegisterService(service.get());
  return service;
}

}  // namespace tessera::services
