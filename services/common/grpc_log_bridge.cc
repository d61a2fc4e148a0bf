#include "services/common/grpc_log_bridge.h"

#include <grpc/support/log.h>

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

void Forward(gpr_log_func_args* args) {
  const LogLevel level = LevelOf(args->severity);
  if (!ShouldLog(level)) return;
  absl::string_view file = args->file != nullptr ? args->file : "";
  if (const size_t slash = file.rfind('/'); slash != absl::string_view::npos) {
    file.remove_prefix(slash + 1);
  }
  LogEvent(level, __FILE__, __LINE__, "grpc")
      .Field("message", args->message != nullptr ? args->message : "")
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
