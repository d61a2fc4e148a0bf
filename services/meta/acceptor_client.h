// AcceptorClient: how a proposer reaches the acceptors (MetaService) of other nodes, addressed by
// node id. The gRPC implementation is GrpcAcceptorClient (meta_client.h); tests use an
// in-memory simulation with message loss, duplication and reordering, and a counting wrapper.
//
// Contract: every call invokes `done` exactly once, possibly before returning and possibly on
// another thread; `request` is only valid during the call (copy it to keep it). Transport failures
// (node down, deadline) arrive as a non-OK status. A request whose `done` reported a failure may
// still have been applied by the acceptor (lost response).
//
// Thread-safety: implementations must be thread-safe.
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "api/metadata.pb.h"

namespace tessera::services {

class AcceptorClient {
 public:
  template <typename T>
  using Callback = std::function<void(absl::StatusOr<T>)>;

  virtual ~AcceptorClient() = default;
  virtual void Prepare(const std::string& node_id, const tessera::v1::PrepareRequest& request,
                       Callback<tessera::v1::PrepareResponse> done) = 0;
  virtual void Accept(const std::string& node_id, const tessera::v1::AcceptRequest& request,
                      Callback<tessera::v1::AcceptResponse> done) = 0;
  virtual void Commit(const std::string& node_id, const tessera::v1::CommitRequest& request,
                      Callback<tessera::v1::CommitResponse> done) = 0;
  virtual void Read(const std::string& node_id, const tessera::v1::ReadRequest& request,
                    Callback<tessera::v1::ReadResponse> done) = 0;
  virtual void Scan(const std::string& node_id, const tessera::v1::ScanRequest& request,
                    Callback<tessera::v1::ScanResponse> done) = 0;
};

}  // namespace tessera::services
