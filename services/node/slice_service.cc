#include "services/node/slice_service.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/time/clock.h"
#include "services/node/cluster_members.h"

namespace tessera::services {
namespace {

const absl::Status& BusyStatus() {
  static const absl::Status* busy =
      new absl::Status(absl::ResourceExhaustedError("node is busy (disk queue full); retry"));
  return *busy;
}

// One PutSlice call: buffers messages through a PutStream, stores on the executor at the end.
class PutReactor final : public grpc::ServerReadReactor<v1::PutSliceRequest> {
 public:
  PutReactor(SliceServiceImpl* service, grpc::CallbackServerContext* context,
             v1::PutSliceResponse* response)
      : service_(service),
        context_(context),
        response_(response),
        stream_(service->core()->NewPutStream()),
        start_(absl::Now()) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The client half-closed (or the call broke). A broken call cannot hear an answer, but
      // Finish() still checks the length, so a truncated slice is never stored.
      if (context_->IsCancelled()) {
        Done(absl::CancelledError("PutSlice cancelled by the client; nothing stored"));
        return;
      }
      if (!service_->executor()->TrySubmit([this] {
            absl::StatusOr<v1::PutSliceResponse> r = stream_->Finish();
            if (r.ok()) *response_ = *std::move(r);
            Done(r.status());
          })) {
        Done(BusyStatus());
      }
      return;
    }
    bytes_in_ += request_.data().size();
    if (absl::Status s = stream_->Add(request_); !s.ok()) {
      Done(s);
      return;
    }
    StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  void Done(const absl::Status& status) {
    stream_.reset();  // free the buffer before the call is torn down
    service_->Observe("PutSlice", status, start_, bytes_in_, 0);
    Finish(ToGrpcStatus(status));
  }

  SliceServiceImpl* const service_;
  grpc::CallbackServerContext* const context_;
  v1::PutSliceResponse* const response_;
  std::unique_ptr<SliceServiceCore::PutStream> stream_;
  const absl::Time start_;
  v1::PutSliceRequest request_;
  uint64_t bytes_in_ = 0;
};

// One GetSlice call: each chunk is read on the executor, then written; the next read starts
// only when the write is done, so one chunk per call is in memory.
class GetReactor final : public grpc::ServerWriteReactor<v1::GetSliceResponse> {
 public:
  GetReactor(SliceServiceImpl* service, const v1::GetSliceRequest* request)
      : service_(service), request_(*request), start_(absl::Now()) {
    Schedule();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Done(absl::CancelledError("GetSlice stream broken"));
      return;
    }
    Schedule();
  }

  void OnDone() override { delete this; }

 private:
  void Schedule() {
    if (!service_->executor()->TrySubmit([this] { Produce(); })) Done(BusyStatus());
  }

  void Produce() {
    if (stream_ == nullptr) {
      absl::StatusOr<std::unique_ptr<SliceServiceCore::GetStream>> opened =
          service_->core()->OpenGet(request_);
      if (!opened.ok()) {
        Done(opened.status());
        return;
      }
      stream_ = *std::move(opened);
    }
    absl::StatusOr<std::optional<v1::GetSliceResponse>> next = stream_->Next();
    if (!next.ok()) {
      Done(next.status());
      return;
    }
    if (!next->has_value()) {
      Done(absl::OkStatus());
      return;
    }
    response_ = **std::move(next);
    bytes_out_ += response_.data().size();
    StartWrite(&response_);
  }

  void Done(const absl::Status& status) {
    stream_.reset();
    service_->Observe("GetSlice", status, start_, 0, bytes_out_);
    Finish(ToGrpcStatus(status));
  }

  SliceServiceImpl* const service_;
  const v1::GetSliceRequest request_;
  const absl::Time start_;
  std::unique_ptr<SliceServiceCore::GetStream> stream_;
  v1::GetSliceResponse response_;
  uint64_t bytes_out_ = 0;
};

// Ends a call refused before it started (no message is read or written).
class RejectReadReactor final : public grpc::ServerReadReactor<v1::PutSliceRequest> {
 public:
  explicit RejectReadReactor(const absl::Status& status) { Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

class RejectWriteReactor final : public grpc::ServerWriteReactor<v1::GetSliceResponse> {
 public:
  explicit RejectWriteReactor(const absl::Status& status) { Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

SliceServiceImpl::SliceServiceImpl(SliceServiceCore* core, BoundedExecutor* executor,
                                   RpcObserver* observer, const p2p::ClusterAuth* auth,
                                   MembershipSource membership, NodeControl* control)
    : core_(core),
      executor_(executor),
      observer_(observer),
      auth_(auth),
      membership_(std::move(membership)),
      control_(control) {}

absl::Status SliceServiceImpl::Authorize(const grpc::CallbackServerContext& context,
                                         absl::string_view method, const char* full_method,
                                         absl::Time start) {
  if (absl::Status s = p2p::CheckProtocolVersion(context); !s.ok()) {
    Observe(method, s, start, 0, 0);
    return s;
  }
  if (auth_ == nullptr) return absl::OkStatus();
  p2p::AuthFailure failure = p2p::AuthFailure::kNone;
  absl::Status s = auth_->Verify(context, full_method, nullptr, &failure);
  if (s.ok()) return s;
  if (observer_ != nullptr) observer_->OnAuthFailure(method, p2p::AuthFailureName(failure));
  Observe(method, s, start, 0, 0);
  return s;
}

void SliceServiceImpl::Observe(absl::string_view method, const absl::Status& status,
                               absl::Time start, uint64_t bytes_in, uint64_t bytes_out) {
  if (observer_ != nullptr) {
    observer_->OnRpcDone(method, status.code(), absl::Now() - start, bytes_in, bytes_out);
  }
}

template <typename Response, typename Fn>
grpc::ServerUnaryReactor* SliceServiceImpl::RunUnary(grpc::CallbackServerContext* context,
                                                     absl::string_view method,
                                                     const char* full_method, Response* response,
                                                     Fn fn) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Time start = absl::Now();
  if (absl::Status s = Authorize(*context, method, full_method, start); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  if (!executor_->TrySubmit([this, reactor, method, response, start, fn = std::move(fn)] {
        absl::StatusOr<Response> r = fn();
        if (r.ok()) *response = *std::move(r);
        Observe(method, r.status(), start, 0, 0);
        reactor->Finish(ToGrpcStatus(r.status()));
      })) {
    Observe(method, BusyStatus(), start, 0, 0);
    reactor->Finish(ToGrpcStatus(BusyStatus()));
  }
  return reactor;
}

grpc::ServerReadReactor<v1::PutSliceRequest>* SliceServiceImpl::PutSlice(
    grpc::CallbackServerContext* context, v1::PutSliceResponse* response) {
  if (absl::Status s = Authorize(*context, "PutSlice", p2p::kPutSliceMethod, absl::Now());
      !s.ok()) {
    return new RejectReadReactor(s);
  }
  return new PutReactor(this, context, response);
}

grpc::ServerWriteReactor<v1::GetSliceResponse>* SliceServiceImpl::GetSlice(
    grpc::CallbackServerContext* context, const v1::GetSliceRequest* request) {
  if (absl::Status s = Authorize(*context, "GetSlice", p2p::kGetSliceMethod, absl::Now());
      !s.ok()) {
    return new RejectWriteReactor(s);
  }
  return new GetReactor(this, request);
}

grpc::ServerUnaryReactor* SliceServiceImpl::DeleteSlice(grpc::CallbackServerContext* context,
                                                        const v1::DeleteSliceRequest* request,
                                                        v1::DeleteSliceResponse* response) {
  return RunUnary(context, "DeleteSlice", p2p::kDeleteSliceMethod, response,
                  [this, request] { return core_->Delete(*request); });
}

grpc::ServerUnaryReactor* SliceServiceImpl::StatSlice(grpc::CallbackServerContext* context,
                                                      const v1::StatSliceRequest* request,
                                                      v1::StatSliceResponse* response) {
  return RunUnary(context, "StatSlice", p2p::kStatSliceMethod, response,
                  [this, request] { return core_->Stat(*request); });
}

grpc::ServerUnaryReactor* SliceServiceImpl::ListSlices(grpc::CallbackServerContext* context,
                                                       const v1::ListSlicesRequest* request,
                                                       v1::ListSlicesResponse* response) {
  return RunUnary(context, "ListSlices", p2p::kListSlicesMethod, response,
                  [this, request] { return core_->List(*request); });
}

grpc::ServerUnaryReactor* SliceServiceImpl::NodeInfo(grpc::CallbackServerContext* context,
                                                     const v1::NodeInfoRequest* request,
                                                     v1::NodeInfoResponse* response) {
  return RunUnary(context, "NodeInfo", p2p::kNodeInfoMethod, response,
                  [this, request]() -> absl::StatusOr<v1::NodeInfoResponse> {
                    absl::StatusOr<v1::NodeInfoResponse> info = core_->NodeInfo(*request);
                    if (info.ok() && control_ != nullptr) control_->AddStatus(&*info);
                    if (!info.ok() || !membership_) return info;
                    if (std::shared_ptr<const p2p::MembershipView> view = membership_()) {
                      uint32_t known = 0, alive = 0;
                      CountMembers(*view, &known, &alive);
                      info->set_members_known(known);
                      info->set_members_alive(alive);
                    }
                    return info;
                  });
}

grpc::ServerUnaryReactor* SliceServiceImpl::SetDraining(grpc::CallbackServerContext* context,
                                                        const v1::SetDrainingRequest* request,
                                                        v1::SetDrainingResponse* response) {
  return RunUnary(context, "SetDraining", p2p::kSetDrainingMethod, response,
                  [this, request]() -> absl::StatusOr<v1::SetDrainingResponse> {
                    if (control_ == nullptr) {
                      return absl::UnimplementedError("this node cannot drain");
                    }
                    absl::StatusOr<bool> draining = control_->ApplyDrain(*request);
                    if (!draining.ok()) return draining.status();
                    absl::StatusOr<v1::NodeInfoResponse> info =
                        core_->NodeInfo(v1::NodeInfoRequest());
                    if (!info.ok()) return info.status();
                    v1::SetDrainingResponse out;
                    out.set_draining(*draining);
                    out.set_slice_count(info->slice_count());
                    return out;
                  });
}

grpc::ServerUnaryReactor* SliceServiceImpl::ClusterMembers(
    grpc::CallbackServerContext* context, const v1::ClusterMembersRequest* /*request*/,
    v1::ClusterMembersResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Time start = absl::Now();
  absl::Status s = Authorize(*context, "ClusterMembers", p2p::kClusterMembersMethod, start);
  if (s.ok()) {
    // Memory only: answered on the reactor thread, no disk executor.
    std::shared_ptr<const p2p::MembershipView> view =
        membership_ ? membership_() : std::shared_ptr<const p2p::MembershipView>();
    if (view == nullptr) {
      s = absl::UnavailableError("this node runs without cluster membership");
    } else {
      *response = ToClusterMembersResponse(*view);
    }
    Observe("ClusterMembers", s, start, 0, 0);
  }
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

}  // namespace tessera::services
