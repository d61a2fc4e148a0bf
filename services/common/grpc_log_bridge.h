// RouteGrpcLogsToTesseraLog: gRPC's own diagnostics (gpr_log: handshake failures, transport
// errors) go through base/logging like every other line, so they follow --log_level and
// --log_format (one JSON object per line with --log_format=json) instead of gRPC's own stderr
// format. Event "grpc", fields message, file, line; gRPC's ERROR is ours, its INFO and DEBUG
// (internals' chatter) are our DEBUG.
//
// Thread-safety: call once at startup, after the log level is set from the flags and before gRPC
// is used (later calls are harmless); the installed function is thread-safe.
#pragma once

namespace tessera::services {

void RouteGrpcLogsToTesseraLog();

}  // namespace tessera::services
