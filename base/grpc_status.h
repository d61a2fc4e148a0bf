// Conversions between absl::Status and grpc::Status.
//
// absl::StatusCode and grpc::StatusCode share google.rpc.Code numbering, so codes cross RPC
// boundaries unchanged and keep their retry meaning (UNAVAILABLE: try another node; DATA_LOSS:
// repair; ...). Messages are kept verbatim. OK maps to OK with no message.
#pragma once

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace tessera {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace tessera
