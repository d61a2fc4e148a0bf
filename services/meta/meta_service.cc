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

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

grpc::ServerUnaryReactor* MetaServiceImpl::Prepare(grpc::CallbackServerContext* context,
                                                   const tessera::v1::PrepareRequest* request,
                                                   tessera::v1::PrepareResponse* response) {
  return Finish(context, store_->Prepare(*request), response);
}

grpc::ServerUnaryReactor* MetaServiceImpl::Accept(grpc::CallbackServerContext* context,
                                                  const tessera::v1::AcceptRequest* request,
                                                  tessera::v1::AcceptResponse* response) {
  return Finish(context, store_->Accept(*request), response);
}

grpc::ServerUnaryReactor* MetaServiceImpl::Commit(grpc::CallbackServerContext* context,
                                                  const tessera::v1::CommitRequest* request,
                                                  tessera::v1::CommitResponse* response) {
  return Finish(context, store_->Commit(*request), response);
}

grpc::ServerUnaryReactor* MetaServiceImpl::Read(grpc::CallbackServerContext* context,
                                                const tessera::v1::ReadRequest* request,
                                                tessera::v1::ReadResponse* response) {
  return Finish(context, store_->Read(*request), response);
}

grpc::ServerUnaryReactor* MetaServiceImpl::Scan(grpc::CallbackServerContext* context,
                                                const tessera::v1::ScanRequest* request,
                                                tessera::v1::ScanResponse* response) {
  return Finish(context, store_->Scan(*request), response);
}

std::unique_ptr<MetaServiceImpl> RegisterMetaService(grpc::ServerBuilder& builder,
                                                     AcceptorStore* store) {
  auto service = std::make_unique<MetaServiceImpl>(store);
  builder.RegisterService(service.get());
  return service;
}

}  // namespace tessera::services
