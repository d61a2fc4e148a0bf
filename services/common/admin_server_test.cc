#include "services/common/admin_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/common/host_port.h"

namespace tessera::services {
namespace {

// Sends `request` raw on a fresh connection to 127.0.0.1:port and returns everything the server
// sends until it closes the connection (or 5 s pass).
std::string RawExchange(uint16_t port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    ADD_FAILURE() << "connect failed";
    return "";
  }
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early (e.g. 413); read what it said
    sent += static_cast<size_t>(n);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

std::string Get(uint16_t port, const std::string& path, const std::string& method = "GET") {
  return RawExchange(
      port, absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
}

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AdminServerOptions options;
    options.metrics_text = [this] {
      ++metrics_calls_;
      return std::string("# TYPE tessera_test_total counter\ntessera_test_total 7\n");
    };
    options.max_request_bytes = 2048;
    auto server = AdminServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_NE(server_->port(), 0);
  }
  std::atomic<int> metrics_calls_{0};
  std::unique_ptr<AdminServer> server_;
};

TEST_F(AdminServerTest, MetricsServesPrometheusText) {
  std::string r = Get(server_->port(), "/metrics");
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 200")) << r;
  EXPECT_TRUE(absl::StrContains(r, "Content-Type: text/plain; version=0.0.4")) << r;
  EXPECT_TRUE(absl::StrContains(r, "tessera_test_total 7\n")) << r;
  EXPECT_EQ(metrics_calls_.load(), 1);
}

TEST_F(AdminServerTest, HealthFollowsState) {
  EXPECT_TRUE(absl::StartsWith(Get(server_->port(), "/healthz"), "HTTP/1.1 503"));
  EXPECT_TRUE(absl::StrContains(Get(server_->port(), "/healthz"), "starting"));
  server_->SetHealth(Health::kServing);
  std::string ok = Get(server_->port(), "/healthz");
  EXPECT_TRUE(absl::StartsWith(ok, "HTTP/1.1 200")) << ok;
  EXPECT_TRUE(absl::EndsWith(ok, "\r\n\r\nok\n")) << ok;
  server_->SetHealth(Health::kStopping);
  std::string stopping = Get(server_->port(), "/healthz?verbose=1");
  EXPECT_TRUE(absl::StartsWith(stopping, "HTTP/1.1 503")) << stopping;
  EXPECT_TRUE(absl::StrContains(stopping, "stopping")) << stopping;
}

TEST(AdminServerReadinessTest, ReadyzFollowsStateAndTheCheck) {
  std::atomic<bool> ready{false};
  AdminServerOptions options;
  options.metrics_text = [] { return std::string(); };
  options.readiness = [&ready]() -> absl::Status {
    if (ready.load()) return absl::OkStatus();
    return absl::UnavailableError("3 of 6 storage nodes writable");
  };
  auto server = AdminServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const uint16_t port = (*server)->port();
  // Starting: not ready whatever the check says.
  ready = true;
  std::string r = Get(port, "/readyz");
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 503")) << r;
  EXPECT_TRUE(absl::StrContains(r, "starting")) << r;
  (*server)->SetHealth(Health::kServing);
  r = Get(port, "/readyz");
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 200")) << r;
  EXPECT_TRUE(absl::EndsWith(r, "\r\n\r\nready\n")) << r;
  // Serving but the check fails: /readyz says why, /healthz stays 200 (alive).
  ready = false;
  r = Get(port, "/readyz");
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 503")) << r;
  EXPECT_TRUE(absl::StrContains(r, "not ready: 3 of 6 storage nodes writable")) << r;
  EXPECT_TRUE(absl::StartsWith(Get(port, "/healthz"), "HTTP/1.1 200"));
  ready = true;
  EXPECT_TRUE(absl::StartsWith(Get(port, "/readyz"), "HTTP/1.1 200"));
  (*server)->SetHealth(Health::kStopping);
  EXPECT_TRUE(absl::StartsWith(Get(port, "/readyz"), "HTTP/1.1 503"));
}

TEST_F(AdminServerTest, ReadyzWithoutACheckIsHealth) {
  EXPECT_TRUE(absl::StartsWith(Get(server_->port(), "/readyz"), "HTTP/1.1 503"));
  server_->SetHealth(Health::kServing);
  EXPECT_TRUE(absl::StartsWith(Get(server_->port(), "/readyz"), "HTTP/1.1 200"));
}

TEST_F(AdminServerTest, UnknownPathIs404AndOtherMethods405) {
  EXPECT_TRUE(absl::StartsWith(Get(server_->port(), "/nope"), "HTTP/1.1 404"));
  std::string post = Get(server_->port(), "/metrics", "POST");
  EXPECT_TRUE(absl::StartsWith(post, "HTTP/1.1 405")) << post;
  EXPECT_TRUE(absl::StrContains(post, "Allow: GET, HEAD")) << post;
  EXPECT_TRUE(absl::StartsWith(Get(server_->port(), "/healthz", "DELETE"), "HTTP/1.1 405"));
  EXPECT_EQ(metrics_calls_.load(), 0);
}

TEST_F(AdminServerTest, HeadHasNoBody) {
  server_->SetHealth(Health::kServing);
  std::string r = Get(server_->port(), "/healthz", "HEAD");
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 200")) << r;
  EXPECT_TRUE(absl::EndsWith(r, "\r\n\r\n")) << r;
}

TEST_F(AdminServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  server_->SetHealth(Health::kServing);
  std::string r = RawExchange(server_->port(),
                              "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 200")) << r;
  EXPECT_TRUE(absl::StrContains(r, "tessera_test_total 7")) << r;
}

TEST_F(AdminServerTest, OversizedRequestIs413) {
  std::string big = absl::StrCat(
      "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: ", std::string(8000, 'a'), "\r\n\r\n");
  std::string r = RawExchange(server_->port(), big);
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 413")) << r.substr(0, 100);
  std::string body = absl::StrCat("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000",
                                  "\r\n\r\n", std::string(4000, 'b'));
  EXPECT_TRUE(absl::StartsWith(RawExchange(server_->port(), body), "HTTP/1.1 413"));
  EXPECT_EQ(metrics_calls_.load(), 0);
}

TEST_F(AdminServerTest, GarbageIs400) {
  std::string r = RawExchange(server_->port(), "\x01\x02 nonsense\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 400")) << r;
}

TEST_F(AdminServerTest, StopClosesListener) {
  const uint16_t port = server_->port();
  server_->Stop();
  server_->Stop();  // idempotent
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_NE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(fd);
}

TEST(AdminServerOptionsTest, Validate) {
  AdminServerOptions options;
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);  // no metrics_text
  options.metrics_text = [] { return std::string(); };
  EXPECT_TRUE(options.Validate().ok());
  options.listen = "nohost";
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
  options.listen = "127.0.0.1:99999";
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AdminServerStartTest, BusyPortIsUnavailable) {
  AdminServerOptions options;
  options.metrics_text = [] { return std::string(); };
  auto first = AdminServer::Start(options);
  ASSERT_TRUE(first.ok());
  options.listen = absl::StrCat("127.0.0.1:", (*first)->port());
  auto second = AdminServer::Start(options);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
}

TEST(HostPortTest, ParsesAndFormats) {
  auto hp = ParseHostPort("0.0.0.0:7400");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "0.0.0.0");
  EXPECT_EQ(hp->port, 7400);
  hp = ParseHostPort("[::1]:0");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "::1");
  EXPECT_EQ(FormatHostPort("::1", 5), "[::1]:5");
  EXPECT_EQ(FormatHostPort("localhost", 5), "localhost:5");
  for (const char* bad : {"", ":80", "host", "host:", "host:x1", "host:65536", "::1:80", "[::1]"}) {
    EXPECT_FALSE(ParseHostPort(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace tessera::services
