#include "services/common/grpc_log_bridge.h"

#include <grpc/support/log.h>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "base/logging.h"

namespace tessera::services {
namespace {

// gRPC's INFO lines are its internals' chatter (polling engine, epoll fds): ours at DEBUG, so
// that at the default level only its errors show, as gRPC's own default verbosity shows them.
LogLevel LevelOf(gpr_log_severity severity) {
  switch (severity) {
    case GPR_LOG_SEVERITY_DEBUG:
    case GPR_LOG_SEVERITY_INFO:
      return LogLevel::kDebug;
    case GPR_LOG_SEVERITY_ERROR:
      break;
  }
  return LogLevel::kError;
}

// A TLS server name (SNI) that no certificate of ours holds. Node certificates name only the node
// id, and a caller that dials a node by address before it knows the id (a front end asking its
// seeds) sends the address instead; the handshake goes on with the node's only certificate and
// the caller's verifier checks the identity (p2p/auth/cluster_tls.h). Expected, so not an error.
// gRPC gives no code for it, only this text.
bool IsUnmatchedServerName(absl::string_view file, absl::string_view message) {
  return file == "ssl_transport_security.cc" &&
         absl::StartsWith(message, "No match found for server name");
}

void Forward(gpr_log_func_args* args) {
  LogLevel level = LevelOf(args->severity);
  absl::string_view message = args->message != nullptr ? args->message : "";
  if (!ShouldLog(level)) return;
  absl::string_view file = args->file != nullptr ? args->file : "";
  if (const size_t slash = file.rfind('/'); slash != absl::string_view::npos) {
    file.remove_prefix(slash + 1);
  }
  if (level == LogLevel::kError && IsUnmatchedServerName(file, message)) {
    level = LogLevel::kDebug;
    if (!ShouldLog(level)) return;
  }
  LogEvent(level, __FILE__, __LINE__, "grpc")
      .Field("message", message)
      .Field("file", file)
      .Field("line", args->line);
}

}  // namespace

void RouteGrpcLogsToTesseraLog() {
  // gRPC filters by its own verbosity before formatting: match ours (set from the flags before
  // this call), so nothing is formatted only to be dropped and nothing ours wants is filtered.
  gpr_set_log_verbosity(GetLogLevel() <= LogLevel::kDebug ? GPR_LOG_SEVERITY_DEBUG
                                                          : GPR_LOG_SEVERITY_ERROR);
  gpr_set_log_function(Forward);
}

}  // namespace tessera::services
