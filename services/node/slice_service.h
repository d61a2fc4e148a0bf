// SliceServiceImpl: the gRPC face of SliceServiceCore (api/node.proto), on the callback API.
//
// Threading: reactor callbacks only move messages (at most one chunk, 1 MiB) and never touch
// the disk. Every store call (Put, Get of one chunk, Stat, Delete, List, Stats) runs on a
// BoundedExecutor; when its queue is full the RPC ends at once with RESOURCE_EXHAUSTED rather
// than queueing without bound. Memory per call is bounded: a PutSlice buffers at most its
// declared length (itself capped, and all PutSlice buffers together capped by the core), a
// GetSlice holds one chunk.
//
// Status codes cross unchanged: absl and gRPC share their numbering (ToGrpcStatus).
//
// Authentication: with a ClusterAuth, every RPC (NodeInfo and ClusterMembers too) first checks
// the caller's x-tessera-auth token for its own method (p2p/auth/cluster_auth.h); a missing or
// bad one ends the call with UNAUTHENTICATED before any store access, any message is read or
// any work is queued. Without one (--insecure_no_auth) every caller is trusted.
//
// Thread-safety: thread-safe; the core, executor and observer must outlive the gRPC server.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "api/node.grpc.pb.h"
#include "base/grpc_status.h"
#include "grpcpp/grpcpp.h"
#include "p2p/auth/cluster_auth.h"
#include "p2p/membership/membership_view.h"
#include "services/node/bounded_executor.h"
#include "services/node/slice_service_core.h"

namespace tessera::services {

// Told about every finished RPC (for metrics). Must be thread-safe and fast.
class RpcObserver {
 public:
  virtual ~RpcObserver() = default;
  // `method` is the proto method name ("PutSlice"); bytes are slice payload bytes.
  virtual void OnRpcDone(absl::string_view method, absl::StatusCode code, absl::Duration latency,
                         uint64_t bytes_in, uint64_t bytes_out) = 0;
  // A call refused for its token; `reason` is p2p::AuthFailureName(). Also seen by OnRpcDone
  // as UNAUTHENTICATED.
  virtual void OnAuthFailure(absl::string_view method, absl::string_view reason) {
    (void)method;
    (void)reason;
  }
};

// The node's current membership snapshot; may return null (no membership).
using MembershipSource = std::function<std::shared_ptr<const p2p::MembershipView>()>;

// The node's own state behind SetDraining and NodeInfo (NodeServer implements it; tessera node
// drain / undrain / remove / status, docs/design/repair.md "Drain"). Thread-safe.
class NodeControl {
 public:
  virtual ~NodeControl() = default;
  // Applies a SetDraining request (persists the state, tells membership); returns whether the
  // node drains now. FAILED_PRECONDITION: leave asked of a node not drained empty. Runs on the
  // disk executor (it may write a file).
  virtual absl::StatusOr<bool> ApplyDrain(const v1::SetDrainingRequest& request) = 0;
  // Adds what the store does not know to a NodeInfo answer: draining, repair, scrub.
  virtual void AddStatus(v1::NodeInfoResponse* info) const = 0;
};

class SliceServiceImpl final : public v1::SliceService::CallbackService {
 public:
  // None owned; `observer` may be null. `auth` null = no authentication (insecure);
  // `membership` empty = ClusterMembers answers UNAVAILABLE and NodeInfo reports no members.
  // `control` null = SetDraining answers UNIMPLEMENTED and NodeInfo reports only the store.
  SliceServiceImpl(SliceServiceCore* core, BoundedExecutor* executor, RpcObserver* observer,
                   const p2p::ClusterAuth* auth = nullptr, MembershipSource membership = nullptr,
                   NodeControl* control = nullptr);

  grpc::ServerReadReactor<v1::PutSliceRequest>* PutSlice(grpc::CallbackServerContext* context,
                                                         v1::PutSliceResponse* response) override;
  grpc::ServerWriteReactor<v1::GetSliceResponse>* GetSlice(
      grpc::CallbackServerContext* context, const v1::GetSliceRequest* request) override;
  grpc::ServerUnaryReactor* DeleteSlice(grpc::CallbackServerContext* context,
                                        const v1::DeleteSliceRequest* request,
                                        v1::DeleteSliceResponse* response) override;
  grpc::ServerUnaryReactor* StatSlice(grpc::CallbackServerContext* context,
                                      const v1::StatSliceRequest* request,
                                      v1::StatSliceResponse* response) override;
  grpc::ServerUnaryReactor* ListSlices(grpc::CallbackServerContext* context,
                                       const v1::ListSlicesRequest* request,
                                       v1::ListSlicesResponse* response) override;
  grpc::ServerUnaryReactor* NodeInfo(grpc::CallbackServerContext* context,
                                     const v1::NodeInfoRequest* request,
                                     v1::NodeInfoResponse* response) override;
  grpc::ServerUnaryReactor* ClusterMembers(grpc::CallbackServerContext* context,
                                           const v1::ClusterMembersRequest* request,
                                           v1::ClusterMembersResponse* response) override;
  grpc::ServerUnaryReactor* SetDraining(grpc::CallbackServerContext* context,
                                        const v1::SetDrainingRequest* request,
                                        v1::SetDrainingResponse* response) override;

  // Internal, used by the reactors.
  SliceServiceCore* core() const { return core_; }
  BoundedExecutor* executor() const { return executor_; }
  void Observe(absl::string_view method, const absl::Status& status, absl::Time start,
               uint64_t bytes_in, uint64_t bytes_out);
  // OK; FAILED_PRECONDITION (kNewerFormat, observed) for a caller of a newer node protocol
  // (p2p::CheckProtocolVersion); or UNAUTHENTICATED (observed and counted) for a call of `method`
  // ("PutSlice") without a valid token.
  absl::Status Authorize(const grpc::CallbackServerContext& context, absl::string_view method,
                         const char* full_method, absl::Time start);

 private:
  template <typename Response, typename Fn>
  grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* context, absl::string_view method,
                                     const char* full_method, Response* response, Fn fn);

  SliceServiceCore* const core_;
  BoundedExecutor* const executor_;
  RpcObserver* const observer_;
  const p2p::ClusterAuth* const auth_;
  const MembershipSource membership_;
  NodeControl* const control_;
};

}  // namespace tessera::services
