#include "services/s3/http_server/http_server.h"

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace tessera::services::s3 {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

// Echo handler: reports method, target, a header and the body.
void Echo(const HttpServerRequest& req, HttpServerResponse* res) {
  std::string note;
  for (const auto& [k, v] : req.headers) {
    if (absl::EqualsIgnoreCase(k, "x-note")) note = v;
  }
  res->status = req.target == "/missing" ? 404 : 200;
  res->headers.emplace_back("Content-Type", "text/plain");
  res->body = absl::StrCat(req.method, " ", req.target, " note=", note, " body=", req.body);
  res->head_content_length = 1234;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpServerOptions options) {
    if (!options.handler && !options.streaming_handler) options.handler = Echo;
    ASSERT_OK_AND_ASSIGN(server_, S3HttpServer::Start(std::move(options)));
  }
  tcp::socket Connect() {
    tcp::socket s(io_);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    return s;
  }
  static void Send(tcp::socket& s, const std::string& data) { asio::write(s, asio::buffer(data)); }
  static http::response<http::string_body> Read(tcp::socket& s, beast::flat_buffer& buf,
                                                bool head = false) {
    http::response_parser<http::string_body> p;
    p.skip(head);
    http::read(s, buf, p);
    return p.release();
  }
  // Reads until the server closes the connection; returns what arrived first.
  static std::string ReadUntilClosed(tcp::socket& s) {
    std::string all;
    char buf[4096];
    beast::error_code ec;
    while (true) {
      size_t n = s.read_some(asio::buffer(buf), ec);
      if (ec) break;
      all.append(buf, n);
    }
    return all;
  }

  asio::io_context io_;
  std::unique_ptr<S3HttpServer> server_;
};

TEST_F(HttpServerTest, ServesRequestsAndKeepsConnectionsAlive) {
  StartServer({});
  tcp::socket s = Connect();
  beast::flat_buffer buf;
  Send(s, "GET /bucket/key?acl HTTP/1.1\r\nHost: localhost\r\nX-Note: one\r\n\r\n");
  auto r1 = Read(s, buf);
  EXPECT_EQ(r1.result_int(), 200);
  EXPECT_EQ(r1.body(), "GET /bucket/key?acl note=one body=");
  EXPECT_EQ(r1[http::field::server], "tessera-s3");
  EXPECT_FALSE(r1["x-amz-request-id"].empty());
  // Same connection, a PUT with a body, then a chunked-encoded PUT.
  Send(s, "PUT /b/k HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello");
  auto r2 = Read(s, buf);
  EXPECT_EQ(r2.body(), "PUT /b/k note= body=hello");
  EXPECT_NE(r2["x-amz-request-id"], r1["x-amz-request-id"]);
  Send(s,
       "PUT /b/c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  EXPECT_EQ(Read(s, buf).body(), "PUT /b/c note= body=abc");
  // HEAD announces the handler's length without a body.
  Send(s, "HEAD /b/k HTTP/1.1\r\nHost: h\r\n\r\n");
  auto h = Read(s, buf, /*head=*/true);
  EXPECT_EQ(h[http::field::content_length], "1234");
  Send(s, "GET /missing HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(Read(s, buf).result_int(), 404);
  EXPECT_EQ(ReadUntilClosed(s), "");  // closed after Connection: close
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer({});
  tcp::socket s = Connect();
  Send(s, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n");
  beast::flat_buffer buf;
  EXPECT_EQ(Read(s, buf).body(), "GET /1 note= body=");
  EXPECT_EQ(Read(s, buf).body(), "GET /2 note= body=");
}

TEST_F(HttpServerTest, BodyLimitGivesEntityTooLarge) {
  HttpServerOptions o;
  o.max_body_bytes = 10;
  StartServer(o);
  tcp::socket s = Connect();
  Send(s, "PUT /b/k HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n");
  beast::flat_buffer buf;
  auto r = Read(s, buf);
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_TRUE(absl::StrContains(r.body(), "<Code>EntityTooLarge</Code>")) << r.body();
  EXPECT_EQ(ReadUntilClosed(s), "");
  // Exactly at the limit is fine.
  tcp::socket s2 = Connect();
  Send(s2, "PUT /b/k HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789");
  beast::flat_buffer buf2;
  EXPECT_EQ(Read(s2, buf2).result_int(), 200);
}

TEST_F(HttpServerTest, HeaderLimitAndMalformedRequests) {
  HttpServerOptions o;
  o.max_header_bytes = 2048;
  StartServer(o);
  {
    tcp::socket s = Connect();
    Send(s, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(4000, 'x') + "\r\n\r\n");
    beast::flat_buffer buf;
    auto r = Read(s, buf);
    EXPECT_EQ(r.result_int(), 400);
    EXPECT_TRUE(absl::StrContains(r.body(), "RequestHeaderSectionTooLarge")) << r.body();
  }
  {
    tcp::socket s = Connect();
    Send(s, "NOT A REQUEST\r\n\r\n");
    beast::flat_buffer buf;
    auto r = Read(s, buf);
    EXPECT_EQ(r.result_int(), 400);
    EXPECT_TRUE(absl::StrContains(r.body(), "<Code>InvalidRequest</Code>")) << r.body();
    EXPECT_EQ(ReadUntilClosed(s), "");
  }
  {
    // A Transfer-Encoding that does not end in chunked: no knowable length, 400 and close (the
    // "body" is never parsed as a second request).
    tcp::socket s = Connect();
    Send(s,
         "PUT /b/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n"
         "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n");
    beast::flat_buffer buf;
    auto r = Read(s, buf);
    EXPECT_EQ(r.result_int(), 400);
    EXPECT_TRUE(absl::StrContains(r.body(), "Transfer-Encoding")) << r.body();
    EXPECT_EQ(ReadUntilClosed(s), "");
  }
}

TEST_F(HttpServerTest, ExpectContinue) {
  StartServer({});
  tcp::socket s = Connect();
  Send(s, "PUT /b/k HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  std::string interim(25, '\0');
  asio::read(s, asio::buffer(interim));
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  Send(s, "data");
  beast::flat_buffer buf;
  auto r = Read(s, buf);
  EXPECT_EQ(r.body(), "PUT /b/k note= body=data");
  EXPECT_TRUE(r.keep_alive());
  // An empty body gets its 100 Continue too, and the connection stays open.
  Send(s, "PUT /b/e HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n");
  asio::read(s, asio::buffer(interim));
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  r = Read(s, buf);
  EXPECT_EQ(r.body(), "PUT /b/e note= body=");
  EXPECT_TRUE(r.keep_alive());
}

TEST_F(HttpServerTest, EarlyAnswerToExpectContinueClosesTheConnection) {
  HttpServerOptions o;
  o.streaming_handler = [](const HttpServerRequest&, HttpBodyReader*, HttpResponseWriter* w) {
    HttpServerResponse res;
    res.status = 403;
    res.body = "denied";
    (void)w->Send(std::move(res));  // answered without reading the body
  };
  StartServer(std::move(o));
  tcp::socket s = Connect();
  Send(s, "PUT /b/e HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n");
  beast::flat_buffer buf;
  auto r = Read(s, buf);
  EXPECT_EQ(r.result_int(), 403);
  EXPECT_FALSE(r.keep_alive());
  EXPECT_EQ(ReadUntilClosed(s), "");
}

TEST_F(HttpServerTest, IdleAndSlowConnectionsAreClosed) {
  HttpServerOptions o;
  o.read_timeout = absl::Milliseconds(200);
  o.idle_timeout = absl::Milliseconds(200);
  StartServer(o);
  // Idle after a request.
  tcp::socket s = Connect();
  Send(s, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
  beast::flat_buffer buf;
  EXPECT_EQ(Read(s, buf).result_int(), 200);
  EXPECT_EQ(ReadUntilClosed(s), "");
  // A request whose body never completes.
  tcp::socket slow = Connect();
  Send(slow, "PUT /b/k HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\npartial");
  EXPECT_EQ(ReadUntilClosed(slow), "");
  // A connection that never sends anything.
  tcp::socket silent = Connect();
  EXPECT_EQ(ReadUntilClosed(silent), "");
}

TEST_F(HttpServerTest, RequestsPerConnectionCap) {
  HttpServerOptions o;
  o.max_requests_per_connection = 2;
  StartServer(o);
  tcp::socket s = Connect();
  beast::flat_buffer buf;
  Send(s, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_TRUE(Read(s, buf).keep_alive());
  Send(s, "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_FALSE(Read(s, buf).keep_alive());
  EXPECT_EQ(ReadUntilClosed(s), "");
}

TEST_F(HttpServerTest, ConnectionLimitAnswersSlowDown) {
  HttpServerOptions o;
  o.max_connections = 1;
  StartServer(o);
  tcp::socket first = Connect();
  beast::flat_buffer buf;
  Send(first, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(Read(first, buf).result_int(), 200);  // first is now registered and kept alive
  tcp::socket second = Connect();
  beast::flat_buffer buf2;
  auto r = Read(second, buf2);
  EXPECT_EQ(r.result_int(), 503);
  EXPECT_TRUE(absl::StrContains(r.body(), "<Code>SlowDown</Code>"));
  EXPECT_EQ(ReadUntilClosed(second), "");
  // The rejected session is released just after its socket closes: wait for it (bounded).
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (server_->open_connections() != 1 && absl::Now() < deadline) std::this_thread::yield();
  EXPECT_EQ(server_->open_connections(), 1u);
}

// A handler that throws gets its request a 500 and its connection closed; the server (and the
// process) keeps serving.
TEST_F(HttpServerTest, HandlerExceptionsDoNotEscape) {
  HttpServerOptions o;
  o.worker_threads = 1;
  o.handler = [](const HttpServerRequest& req, HttpServerResponse* res) {
    if (req.target == "/throw") throw std::runtime_error("handler bug");
    Echo(req, res);
  };
  StartServer(std::move(o));
  for (int i = 0; i < 3; ++i) {
    tcp::socket s = Connect();
    Send(s, "GET /throw HTTP/1.1\r\nHost: h\r\n\r\n");
    beast::flat_buffer buf;
    auto r = Read(s, buf);
    EXPECT_EQ(r.result_int(), 500);
    EXPECT_TRUE(absl::StrContains(r.body(), "<Code>InternalError</Code>")) << r.body();
    EXPECT_EQ(ReadUntilClosed(s), "");
  }
  tcp::socket s = Connect();
  Send(s, "GET /ok HTTP/1.1\r\nHost: h\r\n\r\n");
  beast::flat_buffer buf;
  EXPECT_EQ(Read(s, buf).body(), "GET /ok note= body=");
}

TEST_F(HttpServerTest, StopClosesOpenConnections) {
  StartServer({});
  tcp::socket s = Connect();
  beast::flat_buffer buf;
  Send(s, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(Read(s, buf).result_int(), 200);
  server_->Stop();
  EXPECT_EQ(ReadUntilClosed(s), "");
  EXPECT_EQ(server_->open_connections(), 0u);
  server_->Stop();  // idempotent
}

// What SIGTERM does to tessera-s3: a request in progress is answered (with "Connection: close")
// while idle keep-alive connections close at once and no new connection is accepted.
TEST_F(HttpServerTest, StopWithGraceFinishesRequestsInProgressAndClosesIdleOnes) {
  absl::Notification entered, release;
  HttpServerOptions o;
  o.handler = [&](const HttpServerRequest& req, HttpServerResponse* res) {
    if (req.target == "/slow") {
      entered.Notify();
      release.WaitForNotification();
    }
    Echo(req, res);
  };
  StartServer(o);
  tcp::socket idle = Connect();
  beast::flat_buffer idle_buf;
  Send(idle, "GET /first HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(Read(idle, idle_buf).result_int(), 200);
  tcp::socket busy = Connect();
  Send(busy, "PUT /slow HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody");
  entered.WaitForNotification();

  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    server_->Stop(absl::Seconds(60));
    stopped = true;
  });
  // The idle connection closes while the busy request still holds Stop() back.
  EXPECT_EQ(ReadUntilClosed(idle), "");
  EXPECT_FALSE(stopped.load());
  // The listener is closed: a new connection is refused (the close is asynchronous).
  beast::error_code connect_ec;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(30); absl::Now() < deadline;) {
    tcp::socket late(io_);
    late.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()), connect_ec);
    if (connect_ec) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(connect_ec) << "the listener still accepts during the drain";
  EXPECT_FALSE(stopped.load());

  release.Notify();
  beast::flat_buffer buf;
  auto answer = Read(busy, buf);
  EXPECT_EQ(answer.result_int(), 200);
  EXPECT_EQ(answer.body(), "PUT /slow note= body=body");
  EXPECT_FALSE(answer.keep_alive());
  EXPECT_EQ(ReadUntilClosed(busy), "");
  stopper.join();
  EXPECT_TRUE(stopped.load());
  EXPECT_EQ(server_->open_connections(), 0u);
}

// A request that outlives the grace is cut off, and Stop() returns soon after the grace.
TEST_F(HttpServerTest, StopCutsRequestsStillRunningWhenTheGraceEnds) {
  absl::Notification reading;
  std::atomic<bool> body_failed{false};
  HttpServerOptions o;
  o.read_timeout = absl::Minutes(5);
  o.streaming_handler = [&](const HttpServerRequest&, HttpBodyReader* body, HttpResponseWriter* w) {
    reading.Notify();
    std::string piece;
    absl::Status s;
    while ((s = body->Read(1 << 10, &piece)).ok() && !piece.empty()) {
    }
    body_failed = !s.ok();
    (void)w->Send({200, {}, "", std::nullopt});
  };
  StartServer(o);
  tcp::socket stuck = Connect();
  Send(stuck, "PUT /b/k HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\npartial");
  reading.WaitForNotification();  // a worker waits for the rest of the body
  const absl::Time start = absl::Now();
  server_->Stop(absl::Seconds(1));
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Seconds(1));
  EXPECT_LT(took, absl::Seconds(60));
  EXPECT_TRUE(body_failed.load());
  EXPECT_FALSE(absl::StrContains(ReadUntilClosed(stuck), " 200 "));
  EXPECT_EQ(server_->open_connections(), 0u);
}

TEST_F(HttpServerTest, StreamingHandlerReadsAndWritesPiecewise) {
  HttpServerOptions o;
  o.max_body_bytes = 1ull << 40;
  std::atomic<size_t> largest_piece{0};
  o.streaming_handler = [&](const HttpServerRequest& req, HttpBodyReader* body,
                            HttpResponseWriter* out) {
    uint64_t total = 0;
    std::string piece;
    while (true) {
      absl::Status s = body->Read(64 << 10, &piece);
      if (!s.ok()) {
        (void)out->Send({400, {}, std::string(s.message()), std::nullopt});
        return;
      }
      if (piece.empty()) break;
      total += piece.size();
      if (piece.size() > largest_piece) largest_piece = piece.size();
    }
    if (req.method == "PUT") {
      (void)out->Send({200, {}, absl::StrCat("got=", total), std::nullopt});
      return;
    }
    // GET: stream 8 MiB in 1 MiB writes.
    ASSERT_OK(out->StartBody(200, {{"Content-Type", "application/octet-stream"}}, 8 << 20));
    std::string chunk(1 << 20, 'x');
    for (int i = 0; i < 8; ++i) ASSERT_OK(out->WriteBody(chunk));
    ASSERT_OK(out->EndBody());
  };
  StartServer(o);
  tcp::socket s = Connect();
  // 32 MiB, chunked, with 100-continue: the handler never holds more than 64 KiB of it.
  Send(s,
       "PUT /b/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
       "Expect: 100-continue\r\n\r\n");
  std::string interim(25, '\0');
  asio::read(s, asio::buffer(interim));
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  std::string chunk(1 << 20, 'a');
  for (int i = 0; i < 32; ++i) Send(s, absl::StrCat("100000\r\n", chunk, "\r\n"));
  Send(s, "0\r\n\r\n");
  beast::flat_buffer buf;
  EXPECT_EQ(Read(s, buf).body(), absl::StrCat("got=", 32 << 20));
  EXPECT_LE(largest_piece.load(), 64u << 10);
  Send(s, "GET /b/k HTTP/1.1\r\nHost: h\r\n\r\n");
  http::response_parser<http::string_body> p;
  p.body_limit(16 << 20);
  http::read(s, buf, p);
  EXPECT_EQ(p.get().body().size(), 8u << 20);
  EXPECT_TRUE(p.get().keep_alive());
  // A truncated body: the handler sees IncompleteBody and nothing hangs.
  tcp::socket t = Connect();
  Send(t, "PUT /b/k HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\nshort");
  t.shutdown(tcp::socket::shutdown_send);
  std::string rest = ReadUntilClosed(t);
  EXPECT_TRUE(absl::StrContains(rest, "400")) << rest;
}

TEST(HttpServerOptionsTest, Validate) {
  HttpServerOptions o;
  EXPECT_FALSE(o.Validate().ok());  // no handler
  o.handler = Echo;
  EXPECT_OK(o.Validate());
  o.streaming_handler = [](const HttpServerRequest&, HttpBodyReader*, HttpResponseWriter*) {};
  EXPECT_FALSE(o.Validate().ok());  // both
  o.streaming_handler = nullptr;
  o.tls_cert_file = "cert.pem";
  EXPECT_FALSE(o.Validate().ok());  // cert without key
  o.tls_cert_file.clear();
  o.listen = "nonsense";
  EXPECT_FALSE(o.Validate().ok());
  o.listen = "127.0.0.1:0";
  o.io_threads = 0;
  EXPECT_FALSE(o.Validate().ok());
  o.io_threads = 2;
  o.worker_threads = 0;
  EXPECT_FALSE(o.Validate().ok());
  o.worker_threads = 4;
  o.max_handshakes = 0;
  EXPECT_FALSE(o.Validate().ok());
  o.max_handshakes = 1;
  o.handshake_timeout = absl::ZeroDuration();
  EXPECT_FALSE(o.Validate().ok());
  o.handshake_timeout = absl::Seconds(1);
  EXPECT_OK(o.Validate());
  o.idle_timeout = absl::ZeroDuration();
  EXPECT_FALSE(o.Validate().ok());
  EXPECT_FALSE(S3HttpServer::Start(o).ok());
}

}  // namespace
}  // namespace tessera::services::s3

namespace tessera::services::s3 {
namespace {

// Runs `command` through the shell; returns its exit status and fills `out` with its stdout.
int RunShell(const std::string& command, std::string* out) {
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out->append(buf, n);
  return pclose(p);
}

// HTTPS with a certificate and key: a real TLS client (curl) gets the same answers as over plain
// HTTP, and a plain-HTTP request to the TLS port is not served.
TEST_F(HttpServerTest, ServesHttpsWhenGivenACertificateAndKey) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = tmp != nullptr ? tmp : "/tmp";
  const std::string cert = dir + "/tls_cert.pem", key = dir + "/tls_key.pem";
  std::string ignored;
  ASSERT_EQ(RunShell(absl::StrCat("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "
                                  "/CN=127.0.0.1 -keyout ",
                                  key, " -out ", cert, " 2>/dev/null"),
                     &ignored),
            0);
  HttpServerOptions o;
  o.listen = "127.0.0.1:0";
  o.tls_cert_file = cert;
  o.tls_key_file = key;
  StartServer(std::move(o));
  const std::string url = absl::StrCat("https://127.0.0.1:", server_->port(), "/b/k");
  std::string out;
  ASSERT_EQ(RunShell(absl::StrCat("curl -sS --cacert ", cert,
                                  " -H 'x-note: tls' --data-binary hello ", url),
                     &out),
            0)
      << out;
  EXPECT_EQ(out, "POST /b/k note=tls body=hello");
  // The certificate is really checked: without trusting it, curl refuses.
  out.clear();
  EXPECT_NE(RunShell(absl::StrCat("curl -sS ", url, " 2>/dev/null"), &out), 0);
  // Plain HTTP on the TLS port gets no HTTP answer.
  out.clear();
  RunShell(
      absl::StrCat("curl -sS --max-time 5 http://127.0.0.1:", server_->port(), "/b/k 2>/dev/null"),
      &out);
  EXPECT_FALSE(absl::StrContains(out, "note=")) << out;
}

// ReloadTls (tessera-s3's SIGHUP): new connections get the new certificate; a reload from bad
// files fails and keeps the current one.
TEST_F(HttpServerTest, ReloadTlsServesTheNewCertificate) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = tmp != nullptr ? tmp : "/tmp";
  const std::string cert = dir + "/reload_cert.pem", key = dir + "/reload_key.pem";
  const std::string old_cert = dir + "/reload_old_cert.pem";
  auto make_cert = [&](const std::string& cn) {
    std::string ignored;
    ASSERT_EQ(RunShell(absl::StrCat("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=",
                                    cn, " -addext subjectAltName=IP:127.0.0.1 -keyout ", key,
                                    " -out ", cert, " 2>/dev/null"),
                       &ignored),
              0);
  };
  make_cert("first");
  ASSERT_TRUE(std::filesystem::copy_file(cert, old_cert,
                                         std::filesystem::copy_options::overwrite_existing));
  HttpServerOptions o;
  o.listen = "127.0.0.1:0";
  o.tls_cert_file = cert;
  o.tls_key_file = key;
  StartServer(std::move(o));
  const std::string url = absl::StrCat("https://127.0.0.1:", server_->port(), "/b/k");
  auto trusted_with = [&](const std::string& ca) {
    std::string out;
    return RunShell(absl::StrCat("curl -sS --max-time 10 --cacert ", ca, " ", url, " 2>&1"),
                    &out) == 0;
  };
  EXPECT_TRUE(trusted_with(old_cert));

  make_cert("second");                  // new key and certificate, in place
  EXPECT_TRUE(trusted_with(old_cert));  // nothing changes before the reload
  ASSERT_TRUE(server_->ReloadTls().ok());
  EXPECT_TRUE(trusted_with(cert));
  EXPECT_FALSE(trusted_with(old_cert));

  // A broken certificate file: the reload fails, naming the file, and the server keeps serving.
  std::filesystem::copy_file(cert, dir + "/reload_good_cert.pem",
                             std::filesystem::copy_options::overwrite_existing);
  { std::ofstream(cert, std::ios::trunc) << "not a certificate\n"; }
  absl::Status s = server_->ReloadTls();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(), "tls_cert_file")) << s;
  EXPECT_TRUE(trusted_with(dir + "/reload_good_cert.pem"));
}

}  // namespace
}  // namespace tessera::services::s3
