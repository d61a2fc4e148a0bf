#include "services/common/grpc_log_bridge.h"

#include <grpc/support/log.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "base/logging.h"
#include "gtest/gtest.h"

namespace tessera::services {
namespace {

TEST(GrpcLogBridgeTest, GrpcLinesBecomeTesseraEventsAtTheirLevel) {
  CapturingLogSink sink;
  ScopedLogSink scoped(&sink, LogLevel::kInfo);
  SetLogFormat(LogFormat::kJson);
  RouteGrpcLogsToTesseraLog();
  gpr_log(GPR_ERROR, "handshake failed with %s", "127.0.0.1:1234");
  gpr_log(GPR_INFO, "an informational line");  // gRPC's chatter: our DEBUG, below the level
  gpr_log(GPR_DEBUG, "below the level");
  std::vector<std::string> lines = sink.lines();
  ASSERT_EQ(lines.size(), 1u);
  // At DEBUG both show.
  SetLogLevel(LogLevel::kDebug);
  RouteGrpcLogsToTesseraLog();
  gpr_log(GPR_INFO, "an informational line");
  SetLogFormat(LogFormat::kText);
  lines = sink.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(absl::StartsWith(lines[0], "{\"")) << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[0], "\"error\"")) << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[0], "\"grpc\"")) << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[0], "handshake failed with 127.0.0.1:1234")) << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[0], "grpc_log_bridge_test.cc")) << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[1], "an informational line")) << lines[1];
  EXPECT_TRUE(absl::StrContains(lines[1], "\"debug\"")) << lines[1];
}

// A node dialled by address sends the address as TLS server name; its certificate names only its
// id. gRPC reports that on the server at ERROR, yet nothing is wrong: before, every such connection
// put an error line in a healthy node's log.
TEST(GrpcLogBridgeTest, AnUnmatchedServerNameIsNotAnError) {
  CapturingLogSink sink;
  ScopedLogSink scoped(&sink, LogLevel::kInfo);
  SetLogFormat(LogFormat::kText);
  RouteGrpcLogsToTesseraLog();
  gpr_log("src/core/tsi/ssl_transport_security.cc", 1934, GPR_LOG_SEVERITY_ERROR,
          "No match found for server name: %s.", "127.0.0.1");
  EXPECT_TRUE(sink.lines().empty());
  // The same file's other errors still are errors.
  gpr_log("src/core/tsi/ssl_transport_security.cc", 1, GPR_LOG_SEVERITY_ERROR,
          "Handshake failed with fatal error %s", "SSL_ERROR_SSL");
  ASSERT_EQ(sink.lines().size(), 1u);
  EXPECT_TRUE(absl::StrContains(sink.lines()[0], "level=error")) << sink.lines()[0];
  // At DEBUG the unmatched name shows, as a debug line.
  SetLogLevel(LogLevel::kDebug);
  RouteGrpcLogsToTesseraLog();
  gpr_log("src/core/tsi/ssl_transport_security.cc", 1934, GPR_LOG_SEVERITY_ERROR,
          "No match found for server name: %s.", "127.0.0.1");
  ASSERT_EQ(sink.lines().size(), 2u);
  EXPECT_TRUE(absl::StrContains(sink.lines()[1], "level=debug")) << sink.lines()[1];
}

}  // namespace
}  // namespace tessera::services
