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
// Authentication: with a ClusterAuth (the node's, from its cluster secret), every call must carry
// a valid x-tessera-auth token for its method (p2p/auth/cluster_auth.h); otherwise it fails
// UNAUTHENTICATED before the store is touched. Proposers authenticate by creating
// GrpcAcceptorClient with the same secret (MetaClientOptions.auth).
//
// Thread-safety: handlers may run concurrently; the store serializes per key.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "api/metadata.grpc.pb.h"
#include "base/grpc_status.h"
#include "p2p/auth/cluster_auth.h"
#include "services/meta/acceptor_store.h"

namespace tessera::services {

class MetaServiceImpl final : public tessera::v1::MetaService::CallbackService {
 public:
  // `store` (and `auth`, if not null) are not owned and must outlive the server's handlers.
  // With `auth` null every caller is trusted.
  explicit MetaServiceImpl(AcceptorStore* store, const p2p::ClusterAuth* auth = nullptr)
      : store_(store), auth_(auth) {}

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
  grpc::ServerUnaryReactor* JoinPartitions(grpc::CallbackServerContext* context,
                                           const tessera::v1::JoinPartitionsRequest* request,
                                           tessera::v1::JoinPartitionsResponse* response) override;

 private:
  // OK; FAILED_PRECONDITION (kNewerFormat) for a caller of a newer node protocol
  // (p2p::CheckProtocolVersion); or UNAUTHENTICATED when auth_ is set and the call's token is not
  // valid for `method`.
  absl::Status Authenticate(const grpc::CallbackServerContext& context, const char* method) const;

  AcceptorStore* const store_;
  const p2p::ClusterAuth* const auth_;
};

// Full method names of tessera.v1.MetaService (token scopes).
inline constexpr char kMetaPrepareMethod[] = "/tessera.v1.MetaService/Prepare";
inline constexpr char kMetaAcceptMethod[] = "/tessera.v1.MetaService/Accept";
inline constexpr char kMetaCommitMethod[] = "/tessera.v1.MetaService/Commit";
inline constexpr char kMetaReadMethod[] = "/tessera.v1.MetaService/Read";
inline constexpr char kMetaScanMethod[] = "/tessera.v1.MetaService/Scan";
inline constexpr char kMetaJoinPartitionsMethod[] = "/tessera.v1.MetaService/JoinPartitions";

// Creates the service over `store` and registers it on `builder`. The returned object must
// outlive the server built from `builder`. `auth`: see MetaServiceImpl.
[[nodiscard]] std::unique_ptr<MetaServiceImpl> RegisterMetaService(
    grpc::ServerBuilder& builder, AcceptorStore* store, const p2p::ClusterAuth* auth = nullptr);

}  // namespace tessera::services
