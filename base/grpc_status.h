// Conversions between absl::Status and grpc::Status.
//
// absl::StatusCode and grpc::StatusCode share google.rpc.Code numbering, so codes cross RPC
// boundaries unchanged and keep their retry meaning (UNAVAILABLE: try another node; DATA_LOSS:
// repair; ...). Messages are kept verbatim. OK maps to OK with no message.
//
// Status payloads (the typed reasons of base/status_reasons.h, and any other payload) cross too:
// they travel in grpc::Status::error_details, which gRPC sends as the standard
// `grpc-status-details-bin` trailer, encoded as a google.rpc.Status whose `details` are
// google.protobuf.Any {type_url = payload URL, value = payload bytes}. A peer that sends no
// details, or details that do not parse, yields the code and message alone: details are an
// addition, never a reason to lose the error.
//
// Thread-safety: pure functions.
#pragma once

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace tessera {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace tessera
