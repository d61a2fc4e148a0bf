#include "services/s3/http_server/http_server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <system_error>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "base/logging.h"
#include "services/common/host_port.h"
#include "services/s3/errors/errors.h"
#include "services/s3/http_server/connection_table.h"
#include "services/s3/http_server/worker_pool.h"
#include "services/s3/xml/s3_xml.h"

namespace tessera::services::s3 {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

absl::Status HttpServerOptions::Validate() const {
  if (absl::StatusOr<HostPort> hp = ParseHostPort(listen); !hp.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("listen: ", hp.status().message()));
  }
  if (io_threads < 1 || io_threads > 256) return absl::InvalidArgumentError("io_threads");
  if (max_header_bytes < 1024) return absl::InvalidArgumentError("max_header_bytes < 1024");
  if (worker_threads < 1 || worker_threads > 4096) {
    return absl::InvalidArgumentError("worker_threads");
  }
  if (max_connections < 1) return absl::InvalidArgumentError("max_connections < 1");
  if (max_handshakes < 1) return absl::InvalidArgumentError("max_handshakes < 1");
  if (read_timeout <= absl::ZeroDuration() || idle_timeout <= absl::ZeroDuration() ||
      write_timeout <= absl::ZeroDuration() || handshake_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeouts must be positive");
  }
  if (static_cast<bool>(handler) == static_cast<bool>(streaming_handler)) {
    return absl::InvalidArgumentError("exactly one of handler and streaming_handler is required");
  }
  if (tls_cert_file.empty() != tls_key_file.empty()) {
    return absl::InvalidArgumentError("tls_cert_file and tls_key_file go together");
  }
  return absl::OkStatus();
}

class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  virtual ~SessionBase() = default;
  // Closes the socket: pending operations fail and the session ends. From any thread, with a
  // reference held.
  virtual void Close() = 0;
  // Closes the socket unless a request is being served (its response goes out first, with
  // "Connection: close"). From any thread, with a reference held; for a draining Stop().
  virtual void CloseIfIdle() = 0;
};

class S3HttpServer::Impl {
 public:
  explicit Impl(HttpServerOptions options)
      : options_(std::move(options)),
        work_(asio::make_work_guard(io_)),
        acceptor_(asio::make_strand(io_)),
        accept_retry_(acceptor_.get_executor()),
        table_(options_.max_connections, options_.max_handshakes) {}

  // A TLS context serving the certificate chain and key files of the options.
  absl::StatusOr<std::shared_ptr<ssl::context>> LoadTlsContext() const {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    boost::system::error_code ec;
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    ctx->use_certificate_chain_file(options_.tls_cert_file, ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("tls_cert_file: ", ec.message()));
    ctx->use_private_key_file(options_.tls_key_file, ssl::context::pem, ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("tls_key_file: ", ec.message()));
    return ctx;
  }

  absl::Status ReloadTls() {
    if (!tls_) return absl::OkStatus();
    absl::StatusOr<std::shared_ptr<ssl::context>> ctx = LoadTlsContext();
    if (!ctx.ok()) return ctx.status();
    absl::MutexLock lock(&mu_);
    // The replaced context stays alive with the server: sessions built on it keep running.
    retired_ssl_ctx_.push_back(std::move(ssl_ctx_));
    ssl_ctx_ = *std::move(ctx);
    return absl::OkStatus();
  }

  absl::Status Bind() {
    if (!options_.tls_cert_file.empty()) {
      absl::StatusOr<std::shared_ptr<ssl::context>> ctx = LoadTlsContext();
      if (!ctx.ok()) return ctx.status();
      absl::MutexLock lock(&mu_);
      ssl_ctx_ = *std::move(ctx);
      tls_ = true;
    }
    absl::StatusOr<HostPort> hp = ParseHostPort(options_.listen);
    if (!hp.ok()) return hp.status();
    boost::system::error_code ec;
    asio::ip::address address = asio::ip::make_address(hp->host, ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("listen: bad address ", hp->host));
    tcp::endpoint endpoint(address, hp->port);
    auto fail = [&](absl::string_view what) {
      return absl::UnavailableError(
          absl::StrCat("s3 http server ", what, " ", options_.listen, ": ", ec.message()));
    };
    if (acceptor_.open(endpoint.protocol(), ec); ec) return fail("open");
    if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec); ec) return fail("opt");
    if (acceptor_.bind(endpoint, ec); ec) return fail("bind");
    if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) return fail("listen");
    port_ = acceptor_.local_endpoint(ec).port();
    if (ec) return fail("local_endpoint");
    return absl::OkStatus();
  }

  // Starts the worker pool, the I/O threads and the accept loop. RESOURCE_EXHAUSTED (nothing
  // left running) if a thread cannot be created.
  absl::Status Run() {
    absl::StatusOr<std::unique_ptr<WorkerPool>> pool = WorkerPool::Start(options_.worker_threads);
    if (!pool.ok()) return pool.status();
    pool_ = *std::move(pool);
    for (int i = 0; i < options_.io_threads; ++i) {
      try {
        threads_.emplace_back([this] { RunIo(); });
      } catch (const std::system_error& e) {
        work_.reset();
        io_.stop();
        for (std::thread& t : threads_) t.join();
        threads_.clear();
        pool_->Stop();
        return absl::ResourceExhaustedError(
            absl::StrCat("s3 http server: cannot start I/O thread: ", e.what()));
      }
    }
    asio::post(acceptor_.get_executor(), [this] { Accept(); });
    return absl::OkStatus();
  }

  void Stop(absl::Duration grace);

  const HttpServerOptions& options() const { return options_; }
  uint16_t port() const { return port_; }
  size_t open_connections() const {
    absl::MutexLock lock(&mu_);
    return table_.open();
  }
  // No new request starts a keep-alive wait: set by Stop() before it drains.
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  // The grace is over (or there was none): requests not yet started are not served.
  bool closing_all() const { return closing_all_.load(std::memory_order_acquire); }
  std::string NextRequestId() {
    return absl::StrFormat("%016X", next_request_id_.fetch_add(1, std::memory_order_relaxed));
  }

  // Runs `task` on the worker pool; false once the server is stopping.
  bool Submit(std::function<void()> task) { return pool_->Submit(std::move(task)); }

  // Admission state changes (see ConnectionTable); false if the connection was evicted.
  bool HandshakeDone(uint64_t id) {
    absl::MutexLock lock(&mu_);
    return table_.HandshakeDone(id);
  }
  bool FirstRequest(uint64_t id) {
    absl::MutexLock lock(&mu_);
    return table_.FirstRequest(id);
  }
  // Called by a session's destructor: forgets it and frees its slot (or its rejection).
  void Untrack(uint64_t id, bool rejecting) {
    absl::MutexLock lock(&mu_);
    sessions_.erase(id);
    table_.Release(id);
    if (rejecting) --rejecting_;
  }

 private:
  // At most this many refused plain connections are being answered 503 at once; beyond that
  // they are closed without an answer (under a flood the answer would only feed it).
  static constexpr int kMaxRejecting = 64;

  void Accept();
  void OnAccepted(tcp::socket socket);
  void OnAcceptError(const beast::error_code& ec);
  // One I/O thread: nothing thrown by a handler may end it (or the process).
  void RunIo() {
    while (true) {
      try {
        io_.run();
        return;  // stopped
      } catch (const std::exception& e) {
        TESSERA_LOG(ERROR, "s3_http_io_exception").Field("what", e.what());
      } catch (...) {
        TESSERA_LOG(ERROR, "s3_http_io_exception").Field("what", "unknown exception");
      }
    }
  }
  // References to the live sessions `ids`, to Close() once mu_ is released: a reference taken
  // here may become a session's last, and its destructor takes mu_.
  void CollectLocked(const std::vector<uint64_t>& ids,
                     std::vector<std::shared_ptr<SessionBase>>* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (uint64_t id : ids) {
      auto it = sessions_.find(id);
      if (it == sessions_.end()) continue;
      // Null for a session whose destructor is already running (waiting for mu_).
      if (std::shared_ptr<SessionBase> s = it->second->weak_from_this().lock()) {
        out->push_back(std::move(s));
      }
    }
  }
  static void CloseAll(std::vector<std::shared_ptr<SessionBase>> sessions) {
    for (const auto& s : sessions) s->Close();
  }

  HttpServerOptions options_;
  asio::io_context io_;
  // Sessions start operations from worker threads at any time: keep run() going until Stop().
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_;  // on the acceptor's strand
  // The context new TLS sessions use (replaced by ReloadTls), and the ones it replaced.
  std::shared_ptr<ssl::context> ssl_ctx_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<ssl::context>> retired_ssl_ctx_ ABSL_GUARDED_BY(mu_);
  bool tls_ = false;
  uint16_t port_ = 0;
  std::unique_ptr<WorkerPool> pool_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> closing_all_{false};
  std::atomic<uint64_t> next_request_id_{1};
  uint64_t next_session_id_ = 1;  // on the acceptor's strand
  absl::Mutex stop_mu_;
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;
  mutable absl::Mutex mu_;
  // Every live session (admitted, evicted but not yet gone, or being refused), for Stop().
  absl::flat_hash_map<uint64_t, SessionBase*> sessions_ ABSL_GUARDED_BY(mu_);
  ConnectionTable table_ ABSL_GUARDED_BY(mu_);
  int rejecting_ ABSL_GUARDED_BY(mu_) = 0;
};

namespace {

using Clock = std::chrono::steady_clock;
Clock::duration D(absl::Duration d) { return absl::ToChronoNanoseconds(d); }

template <class Stream>
beast::tcp_stream& Lowest(Stream& s) {
  return beast::get_lowest_layer(s);
}

// Errors on reading a request header that deserve an HTTP answer (the rest: EOF, reset,
// timeout, eviction, shutdown, just close).
bool IsParseError(beast::error_code ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::need_buffer;
}
bool HeaderErrorIsAnswered(beast::error_code ec) {
  return ec == http::error::header_limit || ec == http::error::buffer_overflow ||
         ec == http::error::body_limit || IsParseError(ec);
}

// One connection. Waiting is asynchronous on the I/O threads (the TLS handshake, every request
// header, the refusal of an over-limit connection, the closing drain), so an idle or silent
// connection holds no thread. Once a request header has arrived the request is served on a pool
// worker, which may block (handlers do); its socket operations are started on the connection's
// strand (so Close() is serialised with them) and awaited. When the response is done the worker
// hands the connection back to the I/O side for the next header.
//
// Lifetime: shared_ptr-owned by whatever is pending (an I/O completion handler or a worker task);
// the destructor releases the connection's slot.
template <class Stream>
class Session : public SessionBase, public HttpBodyReader, public HttpResponseWriter {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>;

  template <class... Args>
  Session(S3HttpServer::Impl* server, uint64_t id, bool refusing, tcp::socket socket,
          Args&&... args)
      : server_(server),
        id_(id),
        refusing_(refusing),
        strand_(socket.get_executor()),
        stream_(std::move(socket), std::forward<Args>(args)...),
        buffer_(server->options().max_header_bytes + 8192) {
    beast::error_code ec;
    tcp::endpoint ep = Lowest(stream_).socket().remote_endpoint(ec);
    if (!ec) remote_ = absl::StrCat(ep.address().to_string(), ":", ep.port());
  }

  ~Session() override {
    beast::error_code ec;
    Lowest(stream_).socket().close(ec);
    server_->Untrack(id_, refusing_);
  }

  void Close() override {
    asio::post(strand_, [this, self = shared_from_this()] {
      beast::error_code ec;
      Lowest(stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
      Lowest(stream_).socket().close(ec);
    });
  }

  void CloseIfIdle() override {
    asio::post(strand_, [this, self = shared_from_this()] {
      // Serving: the worker closes it after the response. Closing: it ends by itself soon, and
      // a reset now could destroy the response the peer has not read yet.
      if (serving_ || closing_) return;
      beast::error_code ec;
      Lowest(stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
      Lowest(stream_).socket().close(ec);
    });
  }

  // An admitted connection: TLS handshake (if any), then the first request.
  void Start() {
    asio::dispatch(strand_, [self = Self()] {
      if (self->server_->stopping()) return self->CloseGracefully();
      if constexpr (kTls) {
        self->Handshake();
      } else {
        self->ReadHeader(/*first=*/true);
      }
    });
  }

  // A plain connection over the limit (constructed with `refusing`): 503 SlowDown, then closed.
  void Refuse() {
    asio::dispatch(strand_, [self = Self()] {
      self->request_id_ = self->server_->NextRequestId();
      self->keep_alive_ = false;
      HttpServerResponse out = self->ErrorResponse(S3ErrorCode::kSlowDown,
                                                   "Too many open connections; please retry", "");
      auto& res = self->refusal_.emplace();
      self->PrepareHeader(res, out.status, out.headers);
      res.body() = std::move(out.body);
      res.prepare_payload();
      Lowest(self->stream_).expires_after(D(std::min(self->opt().write_timeout, absl::Seconds(5))));
      http::async_write(self->stream_, res,
                        [self](beast::error_code, size_t) { self->CloseGracefully(); });
    });
  }

  // --- HttpBodyReader (on the worker) -----------------------------------------------------
  absl::Status Read(size_t max, std::string* out) override {
    out->clear();
    if (!body_status_.ok()) return body_status_;
    // "100 Continue" is sent even for an empty body (as S3 does): a client that asked for it
    // gets it whenever the handler accepts the body.
    if (!continue_sent_ && expect_continue_ && !started_) {
      continue_sent_ = true;
      static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      auto [ec, n] = Await(opt().write_timeout, [&](auto h) {
        asio::async_write(stream_, asio::buffer(kContinue, sizeof(kContinue) - 1), std::move(h));
      });
      if (ec) return body_status_ = S3Status(S3ErrorCode::kIncompleteBody, "connection lost");
    }
    if (parser_->is_done()) return absl::OkStatus();
    out->resize(max);
    while (true) {
      parser_->get().body().data = out->data();
      parser_->get().body().size = max;
      auto [ec, n] = Await(opt().read_timeout, [&](auto h) {
        http::async_read(stream_, buffer_, *parser_, std::move(h));
      });
      const size_t got = max - parser_->get().body().size;
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        out->clear();
        keep_alive_ = false;
        if (ec == http::error::body_limit) {
          return body_status_ = S3Status(S3ErrorCode::kEntityTooLarge);
        }
        if (ec == beast::error::timeout) {
          return body_status_ = S3Status(S3ErrorCode::kRequestTimeout);
        }
        if (IsParseError(ec)) {
          return body_status_ = S3Status(S3ErrorCode::kInvalidRequest, "malformed request body");
        }
        return body_status_ =
                   S3Status(S3ErrorCode::kIncompleteBody,
                            "the client closed the connection before sending the whole body");
      }
      if (got > 0 || parser_->is_done()) {
        out->resize(got);
        return absl::OkStatus();
      }
    }
  }
  std::optional<uint64_t> content_length() const override {
    auto len = parser_->content_length();
    if (!len) return std::nullopt;
    return *len;
  }
  bool done() const override { return parser_->is_done(); }

  // --- HttpResponseWriter (on the worker) -------------------------------------------------
  absl::Status Send(HttpServerResponse out) override {
    if (started_) return absl::FailedPreconditionError("response already started");
    started_ = true;
    http::response<http::string_body> res;
    PrepareHeader(res, out.status, out.headers);
    if (head_) {
      res.content_length(out.head_content_length.value_or(out.body.size()));
      http::response_serializer<http::string_body> sr(res);
      return WriteSerializer(sr, /*header_only=*/true);
    }
    res.body() = std::move(out.body);
    res.prepare_payload();
    http::response_serializer<http::string_body> sr(res);
    return WriteSerializer(sr, /*header_only=*/false);
  }

  absl::Status StartBody(int status, std::vector<std::pair<std::string, std::string>> headers,
                         uint64_t content_length) override {
    if (started_) return absl::FailedPreconditionError("response already started");
    started_ = true;
    stream_res_.emplace();
    PrepareHeader(*stream_res_, status, headers);
    stream_res_->content_length(content_length);
    stream_left_ = head_ ? 0 : content_length;
    stream_sr_.emplace(*stream_res_);
    return WriteSerializer(*stream_sr_, /*header_only=*/true);
  }

  absl::Status WriteBody(absl::string_view data) override {
    if (!stream_sr_) return absl::FailedPreconditionError("StartBody first");
    if (!write_status_.ok()) return write_status_;
    if (data.empty()) return absl::OkStatus();
    if (data.size() > stream_left_) {
      keep_alive_ = false;
      return write_status_ = absl::InvalidArgumentError("more body bytes than announced");
    }
    auto [ec, n] = Await(opt().write_timeout, [&](auto h) {
      asio::async_write(stream_, asio::buffer(data.data(), data.size()), std::move(h));
    });
    if (ec) {
      keep_alive_ = false;
      return write_status_ = absl::UnavailableError(absl::StrCat("write: ", ec.message()));
    }
    stream_left_ -= data.size();
    return absl::OkStatus();
  }

  absl::Status EndBody() override {
    if (!stream_sr_) return absl::FailedPreconditionError("StartBody first");
    if (!write_status_.ok()) return write_status_;
    if (stream_left_ != 0) {
      keep_alive_ = false;
      return write_status_ = absl::DataLossError("response body shorter than announced");
    }
    return absl::OkStatus();
  }

  bool started() const override { return started_; }

 private:
  const HttpServerOptions& opt() const { return server_->options(); }
  std::shared_ptr<Session> Self() { return std::static_pointer_cast<Session>(shared_from_this()); }

  // --- I/O side (on the strand) -----------------------------------------------------------
  void Handshake() {
    if constexpr (kTls) {
      Lowest(stream_).expires_after(D(opt().handshake_timeout));
      stream_.async_handshake(ssl::stream_base::server, [self = Self()](beast::error_code ec) {
        if (ec || !self->server_->HandshakeDone(self->id_)) return self->CloseGracefully();
        self->handshake_done_ = true;
        self->ReadHeader(/*first=*/true);
      });
    }
  }

  // Waits for the next request header; a complete one (or one that deserves an error answer)
  // goes to a worker.
  void ReadHeader(bool first) {
    if (server_->stopping()) return CloseGracefully();
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(opt().max_header_bytes));
    parser_->body_limit(opt().max_body_bytes);
    Lowest(stream_).expires_after(D(first ? opt().read_timeout : opt().idle_timeout));
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = Self(), first](beast::error_code ec, size_t) {
                              if (first && !self->server_->FirstRequest(self->id_)) {
                                return self->CloseGracefully();  // evicted while waiting
                              }
                              if (ec && !HeaderErrorIsAnswered(ec)) return self->CloseGracefully();
                              self->header_ec_ = ec;
                              self->serving_ = true;
                              if (!self->server_->Submit([self] { self->ServeOnWorker(); })) {
                                self->serving_ = false;
                                self->CloseGracefully();  // stopped
                              }
                            });
  }

  // Closes the connection, letting the peer read what was sent: TLS close_notify (1 s at
  // most), our half closed, unread input drained for up to 200 ms (closing with unread input
  // would reset the connection and could destroy the response in flight), then the socket.
  void CloseGracefully() {
    if (closing_) return;
    closing_ = true;
    if (!Lowest(stream_).socket().is_open()) return;
    if constexpr (kTls) {
      if (handshake_done_) {
        Lowest(stream_).expires_after(std::chrono::seconds(1));
        stream_.async_shutdown([self = Self()](beast::error_code) { self->Drain(); });
        return;
      }
    }
    Drain();
  }

  void Drain() {
    beast::error_code ec;
    Lowest(stream_).socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec || !Lowest(stream_).socket().is_open()) return;
    Lowest(stream_).expires_after(std::chrono::milliseconds(200));
    sink_ = std::make_unique<char[]>(kSinkBytes);
    DrainSome(64);
  }

  void DrainSome(int reads_left) {
    Lowest(stream_).async_read_some(asio::buffer(sink_.get(), kSinkBytes),
                                    [self = Self(), reads_left](beast::error_code ec, size_t) {
                                      if (ec || reads_left <= 1) {
                                        beast::error_code ignored;
                                        Lowest(self->stream_).socket().close(ignored);
                                        return;
                                      }
                                      self->DrainSome(reads_left - 1);
                                    });
  }

  // --- Worker side ------------------------------------------------------------------------
  // Serves the request whose header arrived, then hands the connection back to the I/O side.
  // Nothing thrown by a handler escapes (the connection is closed instead).
  void ServeOnWorker() {
    bool keep = false;
    bool threw = false;
    try {
      // A request whose header arrived before a draining Stop() is still served (the answer
      // says "Connection: close"); once the grace is over it is not started.
      keep = !server_->closing_all() && ServeRequest() && !server_->stopping();
    } catch (const std::exception& e) {
      threw = true;
      TESSERA_LOG(ERROR, "s3_http_handler_exception")
          .Field("what", e.what())
          .Field("request_id", request_id_);
    } catch (...) {
      threw = true;
      TESSERA_LOG(ERROR, "s3_http_handler_exception")
          .Field("what", "unknown exception")
          .Field("request_id", request_id_);
    }
    if (threw && !started_) {
      keep_alive_ = false;
      try {
        (void)Send(ErrorResponse(S3ErrorCode::kInternalError, "", ""));
      } catch (...) {
      }
    }
    if (keep) {
      asio::post(strand_, [self = Self()] {
        self->serving_ = false;
        self->ReadHeader(/*first=*/false);
      });
    } else {
      asio::post(strand_, [self = Self()] {
        self->serving_ = false;
        self->CloseGracefully();
      });
    }
  }

  // Starts an operation on the strand (with its deadline) and waits for it. Worker only.
  template <class Start>
  std::pair<beast::error_code, size_t> Await(absl::Duration timeout, Start&& start) {
    std::promise<std::pair<beast::error_code, size_t>> done;
    auto result = done.get_future();
    asio::dispatch(strand_, [&] {
      Lowest(stream_).expires_after(D(timeout));
      start([&done](beast::error_code ec, size_t n) { done.set_value({ec, n}); });
    });
    return result.get();
  }

  template <class Res>
  void PrepareHeader(Res& res, int status,
                     const std::vector<std::pair<std::string, std::string>>& headers) {
    res.version(version_);
    res.result(static_cast<unsigned>(status));
    res.set(http::field::server, opt().server_name);
    bool has_request_id = false;
    for (const auto& [k, v] : headers) {
      res.insert(k, v);
      has_request_id |= absl::EqualsIgnoreCase(k, "x-amz-request-id");
    }
    if (!has_request_id) res.set("x-amz-request-id", request_id_);
    // A final answer to an "Expect: 100-continue" request that never got its 100 closes the
    // connection: the client may or may not have sent the body (it may stop waiting for the
    // 100 and send it anyway), and some clients (botocore) keep state from such an early answer
    // that corrupts the next response read on the same connection.
    if (expect_continue_ && !continue_sent_) keep_alive_ = false;
    res.keep_alive(keep_alive_ && !server_->stopping());
  }

  template <class Serializer>
  absl::Status WriteSerializer(Serializer& sr, bool header_only) {
    auto [ec, n] = Await(opt().write_timeout, [&](auto h) {
      if (header_only) {
        http::async_write_header(stream_, sr, std::move(h));
      } else {
        http::async_write(stream_, sr, std::move(h));
      }
    });
    if (ec) {
      keep_alive_ = false;
      return write_status_ = absl::UnavailableError(absl::StrCat("write: ", ec.message()));
    }
    return absl::OkStatus();
  }

  void WriteErrorAndClose(S3ErrorCode code, absl::string_view message, absl::string_view resource) {
    if (request_id_.empty()) request_id_ = server_->NextRequestId();
    keep_alive_ = false;
    started_ = false;
    (void)Send(ErrorResponse(code, message, resource));
  }

  HttpServerResponse ErrorResponse(S3ErrorCode code, absl::string_view message,
                                   absl::string_view resource) {
    const S3ErrorInfo& info = GetErrorInfo(code);
    HttpServerResponse r;
    r.status = info.http_status;
    r.headers.emplace_back("Content-Type", "application/xml");
    r.body = s3::WriteError(ErrorBody{std::string(info.name),
                                      std::string(message.empty() ? info.default_message : message),
                                      std::string(resource), request_id_});
    return r;
  }

  // Answers the request whose header (or header error, header_ec_) arrived; false to close the
  // connection.
  bool ServeRequest() {
    request_id_.clear();
    started_ = false;
    stream_res_.reset();
    stream_sr_.reset();
    stream_left_ = 0;
    write_status_ = absl::OkStatus();
    body_status_ = absl::OkStatus();
    continue_sent_ = false;
    expect_continue_ = false;
    head_ = false;
    version_ = 11;
    keep_alive_ = true;

    if (beast::error_code ec = header_ec_) {
      if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
        WriteErrorAndClose(S3ErrorCode::kRequestHeaderSectionTooLarge, "", "");
      } else if (ec == http::error::body_limit) {
        WriteErrorAndClose(S3ErrorCode::kEntityTooLarge, "", "");
      } else {
        WriteErrorAndClose(S3ErrorCode::kInvalidRequest, "Malformed HTTP request", "");
      }
      return false;
    }
    ++requests_;
    request_id_ = server_->NextRequestId();
    const auto& req = parser_->get();
    version_ = req.version();
    head_ = req.method() == http::verb::head;
    const bool limit_reached =
        opt().max_requests_per_connection != 0 && requests_ >= opt().max_requests_per_connection;
    keep_alive_ = req.keep_alive() && !limit_reached;
    auto expect = req.find(http::field::expect);
    expect_continue_ =
        expect != req.end() &&
        absl::EqualsIgnoreCase(absl::string_view(expect->value().data(), expect->value().size()),
                               "100-continue");
    if (auto len = parser_->content_length(); len && *len > opt().max_body_bytes) {
      WriteErrorAndClose(S3ErrorCode::kEntityTooLarge, "", std::string(req.target()));
      return false;
    }
    // RFC 9112 6.1: a request whose Transfer-Encoding does not end in chunked has no knowable
    // length: 400 and close (never guess, which would let a body be read as the next request).
    if (req.find(http::field::transfer_encoding) != req.end() && !parser_->chunked()) {
      WriteErrorAndClose(S3ErrorCode::kInvalidRequest, "Transfer-Encoding must end with chunked",
                         std::string(req.target()));
      return false;
    }

    HttpServerRequest in;
    in.method = std::string(req.method_string());
    in.target = std::string(req.target());
    for (const auto& field : req) {
      in.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    in.remote = remote_;
    in.request_id = request_id_;
    in.tls = kTls;

    if (opt().streaming_handler) {
      opt().streaming_handler(in, this, this);
    } else {
      std::string piece;
      while (true) {
        absl::Status s = Read(256 << 10, &piece);
        if (!s.ok()) {
          S3ErrorCode code = ErrorCodeOf(s);
          if (code == S3ErrorCode::kIncompleteBody) return false;  // nobody left to answer
          WriteErrorAndClose(code, "", in.target);
          return false;
        }
        if (piece.empty()) break;
        in.body.append(piece);
      }
      HttpServerResponse out;
      opt().handler(in, &out);
      (void)Send(std::move(out));
    }
    if (!started_) {
      keep_alive_ = false;
      (void)Send(ErrorResponse(S3ErrorCode::kInternalError, "no response", in.target));
    }
    if (stream_sr_ && stream_left_ != 0) keep_alive_ = false;
    if (!write_status_.ok() || !body_status_.ok()) return false;
    // Whatever body the handler left unread would be taken for the next request: close unless
    // it is complete.
    if (!parser_->is_done()) return false;
    return keep_alive_ && !server_->stopping();
  }

  static constexpr size_t kSinkBytes = 4096;

  S3HttpServer::Impl* const server_;
  const uint64_t id_;
  const bool refusing_;  // counted by the server as a refusal in progress until destroyed
  asio::any_io_executor strand_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::buffer_body>> parser_;
  beast::error_code header_ec_;
  std::optional<http::response<http::empty_body>> stream_res_;
  std::optional<http::response_serializer<http::empty_body>> stream_sr_;
  std::optional<http::response<http::string_body>> refusal_;
  std::unique_ptr<char[]> sink_;  // closing drain
  uint64_t stream_left_ = 0;
  std::string remote_;
  std::string request_id_;
  size_t requests_ = 0;
  unsigned version_ = 11;
  bool head_ = false;
  bool keep_alive_ = true;
  bool started_ = false;
  bool expect_continue_ = false;
  bool continue_sent_ = false;
  bool handshake_done_ = false;  // strand
  bool closing_ = false;         // strand
  bool serving_ = false;         // strand: a worker owns the request in progress
  absl::Status write_status_;
  absl::Status body_status_;
};

using PlainSession = Session<beast::tcp_stream>;
using TlsSession = Session<beast::ssl_stream<beast::tcp_stream>>;

}  // namespace

void S3HttpServer::Impl::Accept() {
  acceptor_.async_accept(asio::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open() || stopping()) return;
    if (ec) return OnAcceptError(ec);
    // Whatever happens to this connection, the accept loop goes on.
    try {
      OnAccepted(std::move(socket));
    } catch (const std::exception& e) {
      TESSERA_LOG(ERROR, "s3_http_accept_exception").Field("what", e.what());
    } catch (...) {
      TESSERA_LOG(ERROR, "s3_http_accept_exception").Field("what", "unknown exception");
    }
    Accept();
  });
}

void S3HttpServer::Impl::OnAccepted(tcp::socket socket) {
  // Responses go out as several writes (status + headers, body chunks); without NODELAY Nagle
  // holds the last small one for the client's delayed ACK (~40 ms per request).
  beast::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  const uint64_t id = next_session_id_++;
  // Declared before the lock: if the last reference went at the end of the locked block, the
  // session's destructor would take mu_ again.
  std::shared_ptr<SessionBase> session;
  std::vector<std::shared_ptr<SessionBase>> evicted_sessions;  // closed after the lock
  bool refuse = false;
  {
    absl::MutexLock lock(&mu_);
    // Checked under mu_: either Stop() has not closed the sessions yet (and will close this one)
    // or this sees it stopping.
    if (stopping()) return;
    // Admission first, before any TLS work: an over-limit connection costs no handshake.
    std::vector<uint64_t> evicted;
    const bool admitted = table_.Admit(id, tls_, &evicted);
    CollectLocked(evicted, &evicted_sessions);
    if (!admitted) {
      // TLS over the limit is closed without a handshake; plain gets a 503 while few are.
      if (tls_ || rejecting_ >= kMaxRejecting) return;  // the socket closes with it
      refuse = true;
      ++rejecting_;
    }
    try {
      if (tls_) {
        session = std::make_shared<TlsSession>(this, id, refuse, std::move(socket), *ssl_ctx_);
      } else {
        session = std::make_shared<PlainSession>(this, id, refuse, std::move(socket));
      }
    } catch (...) {
      table_.Release(id);
      if (refuse) --rejecting_;
      throw;
    }
    sessions_.emplace(id, session.get());
  }
  CloseAll(std::move(evicted_sessions));
  if (refuse) {
    static_cast<PlainSession*>(session.get())->Refuse();
  } else if (tls_) {
    static_cast<TlsSession*>(session.get())->Start();
  } else {
    static_cast<PlainSession*>(session.get())->Start();
  }
}

void S3HttpServer::Impl::OnAcceptError(const beast::error_code& ec) {
  const bool out_of_resources =
      ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
      ec == asio::error::no_memory || ec == boost::system::errc::too_many_files_open_in_system;
  if (!out_of_resources) {
    Accept();  // e.g. the client gave up before accept(): nothing to wait for
    return;
  }
  // Out of descriptors: make room by dropping the oldest connection that never sent a request,
  // and retry a little later (retrying at once would spin on the same error).
  TESSERA_LOG(WARNING, "s3_http_accept_failed").Field("error", ec.message());
  std::vector<std::shared_ptr<SessionBase>> victims;
  {
    absl::MutexLock lock(&mu_);
    if (std::optional<uint64_t> victim = table_.EvictOldestEmbryonic()) {
      CollectLocked({*victim}, &victims);
    }
  }
  CloseAll(std::move(victims));
  accept_retry_.expires_after(std::chrono::milliseconds(100));
  accept_retry_.async_wait([this](beast::error_code wait_ec) {
    if (wait_ec || !acceptor_.is_open() || stopping()) return;
    Accept();
  });
}

void S3HttpServer::Impl::Stop(absl::Duration grace) {
  absl::MutexLock lock(&stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  stopping_.store(true, std::memory_order_release);
  asio::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
    accept_retry_.cancel();
  });
  // Sessions admitted after this see stopping() when they start.
  auto live = [this] {
    std::vector<std::shared_ptr<SessionBase>> all;
    absl::MutexLock l(&mu_);
    std::vector<uint64_t> ids;
    for (const auto& [id, s] : sessions_) ids.push_back(id);
    CollectLocked(ids, &all);
    return all;
  };
  auto none_left = +[](absl::flat_hash_map<uint64_t, SessionBase*>* s) { return s->empty(); };
  if (grace > absl::ZeroDuration()) {
    // Idle connections close now; requests in progress finish (their connections close after
    // the response) until the grace runs out.
    for (const auto& s : live()) s->CloseIfIdle();
    absl::MutexLock l(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(none_left, &sessions_), grace)) {
      TESSERA_LOG(WARNING, "s3_http_shutdown_grace_expired")
          .Field("grace", grace)
          .Field("connections_cut", sessions_.size());
    }
  }
  // Every remaining session sees its socket fail and ends; wait for all of them, then stop the
  // workers and the I/O threads (which their pending operations needed).
  closing_all_.store(true, std::memory_order_release);
  CloseAll(live());
  {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(none_left, &sessions_));
  }
  pool_->Stop();
  work_.reset();
  io_.stop();
  for (std::thread& t : threads_) t.join();
}

absl::StatusOr<std::unique_ptr<S3HttpServer>> S3HttpServer::Start(HttpServerOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  auto impl = std::make_unique<Impl>(std::move(options));
  if (absl::Status s = impl->Bind(); !s.ok()) return s;
  if (absl::Status s = impl->Run(); !s.ok()) return s;
  return std::unique_ptr<S3HttpServer>(new S3HttpServer(std::move(impl)));
}

S3HttpServer::S3HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
S3HttpServer::~S3HttpServer() { Stop(absl::ZeroDuration()); }
uint16_t S3HttpServer::port() const { return impl_->port(); }
size_t S3HttpServer::open_connections() const { return impl_->open_connections(); }
void S3HttpServer::Stop(absl::Duration grace) { impl_->Stop(grace); }
absl::Status S3HttpServer::ReloadTls() { return impl_->ReloadTls(); }

}  // namespace tessera::services::s3
