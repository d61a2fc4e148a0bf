#include "services/object/slice_client.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "p2p/auth/cluster_auth.h"
#include "p2p/bandwidth/estimator.h"
#include "storage/slice/crc32c.h"

namespace tessera::services {
namespace {

absl::Status FromGrpc(const grpc::Status& status, const std::string& address,
                      absl::string_view op) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(op, " on node ", address, ": ", status.error_message()));
}

void SetDeadline(grpc::ClientContext& ctx, absl::Duration timeout) {
  ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(timeout));
}

}  // namespace

absl::Status GrpcSliceClientOptions::Validate() const {
  if (chunk_bytes == 0 || chunk_bytes > (1u << 20)) {
    return absl::InvalidArgumentError("GrpcSliceClientOptions.chunk_bytes must be in [1, 1 MiB]");
  }
  if (put_timeout <= absl::ZeroDuration() || get_timeout <= absl::ZeroDuration() ||
      delete_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("GrpcSliceClientOptions timeouts must be positive");
  }
  return absl::OkStatus();
}

GrpcSliceClient::GrpcSliceClient(GrpcSliceClientOptions options) : options_(std::move(options)) {}

v1::SliceService::Stub* GrpcSliceClient::StubFor(const std::string& address) {
  std::string node_id;
  if (options_.node_id_for_address) node_id = options_.node_id_for_address(address);
  absl::MutexLock lock(&mu_);
  auto& stub = stubs_[std::make_pair(node_id, address)];
  if (stub == nullptr) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(8 << 20);
    // Reconnect quickly after a node restarts rather than failing calls for a long backoff.
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    stub = v1::SliceService::NewStub(p2p::CreateNodeChannel(address, args, options_.auth, node_id));
  }
  return stub.get();
}

void GrpcSliceClient::Observe(const std::string& address, bool send, uint64_t bytes,
                              std::chrono::steady_clock::time_point start) {
  if (options_.observer == nullptr) return;
  options_.observer->OnTransfer(
      address, send ? p2p::TransferDirection::kSend : p2p::TransferDirection::kReceive, bytes,
      absl::FromChrono(std::chrono::steady_clock::now() - start));
}

absl::Status GrpcSliceClient::Put(const std::string& address, const v1::SliceId& id,
                                  absl::string_view data) {
  const auto start = std::chrono::steady_clock::now();
  v1::SliceService::Stub* stub = StubFor(address);
  grpc::ClientContext ctx;
  SetDeadline(ctx, options_.put_timeout);
  v1::PutSliceResponse response;
  auto writer = stub->PutSlice(&ctx, &response);
  v1::PutSliceRequest first;
  *first.mutable_id() = id;
  first.set_length(data.size());
  first.set_crc32c(storage::crc32c::Value(data));
  size_t pos = std::min(options_.chunk_bytes, data.size());
  first.set_data(std::string(data.substr(0, pos)));
  bool ok = writer->Write(first);
  while (ok && pos < data.size()) {
    v1::PutSliceRequest next;
    const size_t n = std::min(options_.chunk_bytes, data.size() - pos);
    next.set_data(std::string(data.substr(pos, n)));
    pos += n;
    ok = writer->Write(next);
  }
  writer->WritesDone();
  absl::Status status = FromGrpc(writer->Finish(), address, "PutSlice");
  if (status.ok() && response.length() != data.size()) {
    return absl::DataLossError(absl::StrCat("PutSlice on node ", address, ": node stored ",
                                            response.length(), " bytes of ", data.size()));
  }
  if (status.ok()) Observe(address, /*send=*/true, data.size(), start);
  return status;
}

absl::StatusOr<std::string> GrpcSliceClient::Get(const std::string& address, const v1::SliceId& id,
                                                 uint64_t offset, uint64_t length) {
  const auto start = std::chrono::steady_clock::now();
  v1::SliceService::Stub* stub = StubFor(address);
  grpc::ClientContext ctx;
  SetDeadline(ctx, options_.get_timeout);
  v1::GetSliceRequest request;
  *request.mutable_id() = id;
  request.set_offset(offset);
  request.set_length(length);
  auto reader = stub->GetSlice(&ctx, request);
  std::string data;
  v1::GetSliceResponse message;
  bool first = true;
  while (reader->Read(&message)) {
    if (first && length == 0 && message.total_length() > offset) {
      data.reserve(message.total_length() - offset);
    }
    first = false;
    data += message.data();
  }
  absl::Status status = FromGrpc(reader->Finish(), address, "GetSlice");
  if (!status.ok()) return status;
  Observe(address, /*send=*/false, data.size(), start);
  return data;
}

absl::Status GrpcSliceClient::Delete(const std::string& address, const v1::SliceId& id) {
  v1::DeleteSliceRequest request;
  *request.mutable_id() = id;
  return DeleteSlice(address, request);
}

absl::Status GrpcSliceClient::DeleteIfCreatedAt(const std::string& address, const v1::SliceId& id,
                                                absl::Time created) {
  v1::DeleteSliceRequest request;
  *request.mutable_id() = id;
  request.set_only_if_created_unix_micros(absl::ToUnixMicros(created));
  return DeleteSlice(address, request);
}

absl::Status GrpcSliceClient::DeleteSlice(const std::string& address,
                                          const v1::DeleteSliceRequest& request) {
  v1::SliceService::Stub* stub = StubFor(address);
  grpc::ClientContext ctx;
  SetDeadline(ctx, options_.delete_timeout);
  v1::DeleteSliceResponse response;
  const auto start = std::chrono::steady_clock::now();
  absl::Status status =
      FromGrpc(stub->DeleteSlice(&ctx, request, &response), address, "DeleteSlice");
  // A delete moves no payload: a round-trip sample.
  if (status.ok()) Observe(address, /*send=*/true, 0, start);
  return status;
}

absl::StatusOr<v1::NodeInfoResponse> GrpcSliceClient::NodeInfo(const std::string& address,
                                                               absl::Duration timeout) {
  v1::SliceService::Stub* stub = StubFor(address);
  grpc::ClientContext ctx;
  SetDeadline(ctx, timeout);
  v1::NodeInfoResponse response;
  absl::Status status =
      FromGrpc(stub->NodeInfo(&ctx, v1::NodeInfoRequest(), &response), address, "NodeInfo");
  if (!status.ok()) return status;
  return response;
}

}  // namespace tessera::services
