// MetaService (api/metadata.proto) on the gRPC callback API: thin handlers over a node's
// AcceptorStore. Each handler runs the (synced) store operation inline and finishes the call.
//
// Hosting it on a node (tessera-node owns its grpc::ServerBuilder):
//
//   auto store = AcceptorStore::Open(data_dir + "/meta");          // one per node
//   std::unique_ptr<MetaServiceImpl> meta = RegisterMetaService(builder, store->get());
//   ... builder.BuildAndStart() ...
//   // shutdown order: server->Shutdown(), then destroy `meta`, then the store.
//
// Thread-safety: handlers may run concurrently; the store serializes per key.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "api/metadata.grpc.pb.h"
#include "services/meta/acceptor_store.h"

namespace tessera::services {

class MetaServiceImpl final : public tessera::v1::MetaService::CallbackService {
 public:
  // `store` is not owned and must outlive the server's handlers.
  explicit MetaServiceImpl(AcceptorStore* store) : store_(store) {}

  grpc::ServerUnaryReactor* Prepare(grpc::CallbackServerContext* context,
                                    const tessera::v1::PrepareRequest* request,
                                    tessera::v1::PrepareResponse* response) override;
  grpc::ServerUnaryReactor* Accept(grpc::CallbackServerContext* context,
                                   const tessera::v1::AcceptRequest* request,
                                   tessera::v1::AcceptResponse* response) override;
  grpc::ServerUnaryReactor* Commit(grpc::CallbackServerContext* context,
                                   const tessera::v1::CommitRequest* request,
                                   tessera::v1::CommitResponse* response) override;
  grpc::ServerUnaryReactor* Read(grpc::CallbackServerContext* context,
                                 const tessera::v1::ReadRequest* request,
                                 tessera::v1::ReadResponse* response) override;
  grpc::ServerUnaryReactor* Scan(grpc::CallbackServerContext* context,
                                 const tessera::v1::ScanRequest* request,
                                 tessera::v1::ScanResponse* response) override;

 private:
  AcceptorStore* const store_;
};

// Creates the service over `store` and registers it on `builder`. The returned object must
// outlive the server built from `builder`.
[[nodiscard]] std::unique_ptr<MetaServiceImpl> RegisterMetaService(grpc::ServerBuilder& builder,
                                                                   AcceptorStore* store);

// absl <-> gRPC status conversions (codes map one to one).
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace tessera::services
