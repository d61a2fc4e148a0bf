// Connection floods against S3HttpServer over real sockets on 127.0.0.1: thousands of silent
// plain and TLS connections (no ClientHello, or a partial one) are held open while valid requests
// (curl, plain and HTTPS) must still be answered, the server's thread count must stay bounded and
// the server must keep serving afterwards.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "services/s3/http_server/http_server.h"

namespace tessera::services::s3 {
namespace {

void Echo(const HttpServerRequest& req, HttpServerResponse* res) {
  res->body = absl::StrCat(req.method, " ", req.target, " tls=", req.tls);
}

// Raises the soft RLIMIT_NOFILE to the hard limit (the flood holds both ends of every
// connection in this process); returns the soft limit in force afterwards.
size_t RaiseFdLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return rl.rlim_cur == RLIM_INFINITY ? (1u << 20) : static_cast<size_t>(rl.rlim_cur);
}

// The process's current number of threads (/proc/self/status).
size_t ThreadCount() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, "Threads:")) {
      size_t n = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(8)), &n)) return n;
    }
  }
  return 0;
}

// A connected, silent client socket (close-on-exec, so curl children do not inherit it); -1 if
// the connection could not be made.
int ConnectRaw(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The first bytes of a TLS ClientHello whose record announces 200 bytes: the server's handshake
// waits for the rest, which never comes.
constexpr char kPartialClientHello[] =
    "\x16\x03\x01\x00\xc8"  // handshake record, TLS 1.0 framing, 200 bytes
    "\x01\x00\x00\xc4"      // ClientHello, 196 bytes
    "\x03\x03"              // client_version TLS 1.2
    "0123456789";           // the start of client_random

// Holds a flood of silent connections open until destroyed.
class Flood {
 public:
  // Opens up to `count` connections to `port`; every third one (when `partial_hello`) sends a
  // partial ClientHello first. Returns how many were opened.
  size_t Open(uint16_t port, size_t count, bool partial_hello) {
    size_t opened = 0;
    for (size_t i = 0; i < count; ++i) {
      int fd = ConnectRaw(port);
      if (fd < 0) continue;
      if (partial_hello && i % 3 == 0) {
        (void)!::send(fd, kPartialClientHello, sizeof(kPartialClientHello) - 1, MSG_NOSIGNAL);
      }
      fds_.push_back(fd);
      ++opened;
    }
    return opened;
  }
  ~Flood() {
    for (int fd : fds_) ::close(fd);
  }

 private:
  std::vector<int> fds_;
};

// Runs `command` through the shell; returns its exit status and fills `out` with its stdout.
int RunShell(const std::string& command, std::string* out) {
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out->append(buf, n);
  return pclose(p);
}

class HttpServerFloodTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fd_limit_ = RaiseFdLimit();
    const char* tmp = std::getenv("TEST_TMPDIR");
    const std::string dir = tmp != nullptr ? tmp : "/tmp";
    cert_ = dir + "/flood_cert.pem";
    key_ = dir + "/flood_key.pem";
    std::string ignored;
    ASSERT_EQ(RunShell(absl::StrCat("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "
                                    "/CN=127.0.0.1 -keyout ",
                                    key_, " -out ", cert_, " 2>/dev/null"),
                       &ignored),
              0);
  }

  // A plain and a TLS server with `base` options (silent connections stay open for the whole
  // test unless evicted: long timeouts).
  void StartServers(HttpServerOptions base) {
    base.handler = Echo;
    // Two workers: if silent connections could hold one, the valid requests would starve.
    base.worker_threads = 2;
    base.handshake_timeout = absl::Seconds(300);
    base.read_timeout = absl::Seconds(300);
    base.idle_timeout = absl::Seconds(300);
    HttpServerOptions tls = base;
    tls.tls_cert_file = cert_;
    tls.tls_key_file = key_;
    ASSERT_OK_AND_ASSIGN(plain_, S3HttpServer::Start(std::move(base)));
    ASSERT_OK_AND_ASSIGN(tls_, S3HttpServer::Start(std::move(tls)));
  }

  // Connections per flood (plain, and again TLS): a few thousand, within the fd limit (each
  // connection costs two descriptors here, one per end).
  size_t FloodSize() const {
    return std::min<size_t>(3000, fd_limit_ > 1200 ? (fd_limit_ - 1000) / 4 : 50);
  }

  // One valid request through curl; true if it got the echo back within the (generous) deadline.
  bool ValidRequest(bool tls, const std::string& path) {
    const uint16_t port = tls ? tls_->port() : plain_->port();
    std::string out;
    const int rc = RunShell(
        absl::StrCat("curl -sS --max-time 60 ", tls ? absl::StrCat("--cacert ", cert_, " ") : "",
                     tls ? "https" : "http", "://127.0.0.1:", port, path, " 2>&1"),
        &out);
    const std::string want = absl::StrCat("GET ", path, " tls=", tls);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_EQ(out, want);
    return rc == 0 && out == want;
  }

  // Waits (bounded) until `server` has registered at least `n` connections.
  static size_t AwaitOpen(const S3HttpServer& server, size_t n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (server.open_connections() < n && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    return server.open_connections();
  }

  size_t fd_limit_ = 0;
  std::string cert_, key_;
  std::unique_ptr<S3HttpServer> plain_, tls_;
};

// Limits above the flood: every silent connection is really held by the servers, and valid
// requests are still answered promptly (silent connections hold no thread).
TEST_F(HttpServerFloodTest, HeldSilentConnectionsDoNotStarveValidRequests) {
  HttpServerOptions o;
  o.max_connections = 20000;
  o.max_handshakes = 20000;
  StartServers(o);
  const size_t n = FloodSize();
  Flood flood;
  ASSERT_EQ(flood.Open(plain_->port(), n, /*partial_hello=*/false), n);
  ASSERT_EQ(flood.Open(tls_->port(), n, /*partial_hello=*/true), n);
  EXPECT_GE(AwaitOpen(*plain_, n), n);
  EXPECT_GE(AwaitOpen(*tls_, n), n);
  // A fixed set of threads, whatever the number of connections.
  EXPECT_LT(ThreadCount(), 100u);
  EXPECT_TRUE(ValidRequest(/*tls=*/false, "/plain"));
  EXPECT_TRUE(ValidRequest(/*tls=*/true, "/tls"));
  EXPECT_LT(ThreadCount(), 100u);
}

// Default limits (max_connections 1024, max_handshakes 256) under a larger flood: silent
// connections that never sent a request make room for new ones, so valid requests still get
// through, and the number of registered connections never exceeds the limit.
TEST_F(HttpServerFloodTest, FloodOverTheConnectionLimitStillServesValidRequests) {
  StartServers({});
  const size_t n = FloodSize();
  {
    Flood flood;
    ASSERT_EQ(flood.Open(plain_->port(), n, /*partial_hello=*/false), n);
    ASSERT_EQ(flood.Open(tls_->port(), n, /*partial_hello=*/true), n);
    EXPECT_LE(plain_->open_connections(), 1024u);
    EXPECT_LE(tls_->open_connections(), 1024u);
    EXPECT_LT(ThreadCount(), 100u);
    EXPECT_TRUE(ValidRequest(/*tls=*/false, "/plain"));
    EXPECT_TRUE(ValidRequest(/*tls=*/true, "/tls"));
    EXPECT_LE(plain_->open_connections(), 1024u);
    EXPECT_LE(tls_->open_connections(), 1024u);
  }
  EXPECT_LE(tls_->open_connections(), 256u + 1);  // handshakes, and the request just served
  // Still alive and serving with the flood gone.
  EXPECT_TRUE(ValidRequest(/*tls=*/false, "/after"));
  EXPECT_TRUE(ValidRequest(/*tls=*/true, "/after"));
}

// Silent TLS connections are closed after handshake_timeout, and a partial ClientHello does not
// extend it.
TEST_F(HttpServerFloodTest, SilentTlsConnectionsAreClosedAfterTheHandshakeTimeout) {
  HttpServerOptions o;
  o.handler = Echo;
  o.tls_cert_file = cert_;
  o.tls_key_file = key_;
  o.handshake_timeout = absl::Milliseconds(300);
  ASSERT_OK_AND_ASSIGN(tls_, S3HttpServer::Start(std::move(o)));
  const int silent = ConnectRaw(tls_->port());
  const int partial = ConnectRaw(tls_->port());
  ASSERT_GE(silent, 0);
  ASSERT_GE(partial, 0);
  ASSERT_GT(::send(partial, kPartialClientHello, sizeof(kPartialClientHello) - 1, MSG_NOSIGNAL), 0);
  for (int fd : {silent, partial}) {
    // Closed by the server: read() returns 0 (or a reset) well before this 60 s guard.
    timeval guard{60, 0};
    ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof(guard)), 0);
    char c;
    const ssize_t n = ::recv(fd, &c, 1, 0);
    EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET)) << n << " errno " << errno;
    ::close(fd);
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (tls_->open_connections() != 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(tls_->open_connections(), 0u);
}

}  // namespace
}  // namespace tessera::services::s3
