// Conversions between absl::Status and grpc::Status for the gRPC gateway and the SDK.
//
// absl::StatusCode and grpc::StatusCode share google.rpc.Code numbering, so codes cross
// unchanged; messages are kept verbatim (they are written to be actionable, e.g.
// "no such key: photos/cat.jpg"). An OK status maps to OK with no message.
#pragma once

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"

namespace tessera::services::gatewayd {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace tessera::services::gatewayd
