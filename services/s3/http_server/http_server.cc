#include "services/s3/http_server/http_server.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <future>
#include <thread>
#include <unordered_set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "services/common/host_port.h"
#include "services/s3/errors/errors.h"
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
  if (max_connections < 1) return absl::InvalidArgumentError("max_connections < 1");
  if (read_timeout <= absl::ZeroDuration() || idle_timeout <= absl::ZeroDuration() ||
      write_timeout <= absl::ZeroDuration()) {
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

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void Close() = 0;  // from any thread
};

class S3HttpServer::Impl {
 public:
  explicit Impl(HttpServerOptions options)
      : options_(std::move(options)),
        work_(asio::make_work_guard(io_)),
        acceptor_(asio::make_strand(io_)),
        ssl_ctx_(ssl::context::tls_server) {}

  absl::Status Bind() {
    if (!options_.tls_cert_file.empty()) {
      boost::system::error_code ec;
      ssl_ctx_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1);
      ssl_ctx_.use_certificate_chain_file(options_.tls_cert_file, ec);
      if (ec) return absl::InvalidArgumentError(absl::StrCat("tls_cert_file: ", ec.message()));
      ssl_ctx_.use_private_key_file(options_.tls_key_file, ssl::context::pem, ec);
      if (ec) return absl::InvalidArgumentError(absl::StrCat("tls_key_file: ", ec.message()));
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

  void Run() {
    Accept();
    for (int i = 0; i < options_.io_threads; ++i) threads_.emplace_back([this] { io_.run(); });
  }

  void Stop();

  const HttpServerOptions& options() const { return options_; }
  uint16_t port() const { return port_; }
  size_t open_connections() const { return open_.load(std::memory_order_acquire); }
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  ssl::context& ssl_ctx() { return ssl_ctx_; }
  std::string NextRequestId() {
    return absl::StrFormat("%016X", next_request_id_.fetch_add(1, std::memory_order_relaxed));
  }

  // Connection accounting; false if the new connection is over the limit.
  bool Register(SessionBase* s) {
    size_t now = open_.fetch_add(1, std::memory_order_acq_rel) + 1;
    absl::MutexLock lock(&mu_);
    sessions_.insert(s);
    return now <= options_.max_connections;
  }
  // Called by the connection thread as its last action.
  void Unregister(SessionBase* s) {
    absl::MutexLock lock(&mu_);
    sessions_.erase(s);
    open_.fetch_sub(1, std::memory_order_acq_rel);
  }

 private:
  void Accept();

  HttpServerOptions options_;
  asio::io_context io_;
  // Connection threads start operations at any time: keep run() going until Stop().
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  tcp::acceptor acceptor_;
  ssl::context ssl_ctx_;
  bool tls_ = false;
  uint16_t port_ = 0;
  std::vector<std::thread> threads_;
  std::atomic<size_t> open_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> next_request_id_{1};
  absl::Mutex stop_mu_;
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;
  absl::Mutex mu_;
  std::unordered_set<SessionBase*> sessions_ ABSL_GUARDED_BY(mu_);
};

namespace {

using Clock = std::chrono::steady_clock;
Clock::duration D(absl::Duration d) { return absl::ToChronoNanoseconds(d); }

template <class Stream>
beast::tcp_stream& Lowest(Stream& s) {
  return beast::get_lowest_layer(s);
}

// One connection, served by its own thread. Socket operations are started on the connection's
// strand (so Close() from Stop() is serialised with them) and awaited by the thread.
template <class Stream>
class Session : public SessionBase, public HttpBodyReader, public HttpResponseWriter {
 public:
  template <class... Args>
  Session(S3HttpServer::Impl* server, tcp::socket socket, Args&&... args)
      : server_(server),
        strand_(socket.get_executor()),
        stream_(std::move(socket), std::forward<Args>(args)...),
        buffer_(server->options().max_header_bytes + 8192) {
    beast::error_code ec;
    tcp::endpoint ep = Lowest(stream_).socket().remote_endpoint(ec);
    if (!ec) remote_ = absl::StrCat(ep.address().to_string(), ":", ep.port());
  }

  void Close() override {
    asio::post(strand_, [this] {
      beast::error_code ec;
      Lowest(stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
      Lowest(stream_).socket().close(ec);
    });
  }

  // The connection's whole life; runs on its own thread.
  void Run(bool over_limit, bool tls) {
    if (tls && !Handshake()) return;
    if (over_limit) {
      WriteErrorAndClose(S3ErrorCode::kSlowDown, "Too many open connections; please retry", "");
      return;
    }
    bool first = true;
    while (!server_->stopping()) {
      if (!ServeOne(first)) break;
      first = false;
    }
    Shutdown();
  }

  // --- HttpBodyReader -----------------------------------------------------------------------
  absl::Status Read(size_t max, std::string* out) override {
    out->clear();
    if (!body_status_.ok()) return body_status_;
    // "100 Continue" is sent even for an empty body (as S3 does): a client that asked for it
    // gets it whenever the handler accepts the body.
    if (!continue_sent_ && expect_continue_ && !started_) {
      continue_sent_ = true;
      static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      Lowest(stream_).expires_after(D(opt().write_timeout));
      auto [ec, n] = Await([&](auto h) {
        asio::async_write(stream_, asio::buffer(kContinue, sizeof(kContinue) - 1), std::move(h));
      });
      if (ec) return body_status_ = S3Status(S3ErrorCode::kIncompleteBody, "connection lost");
    }
    if (parser_->is_done()) return absl::OkStatus();
    out->resize(max);
    while (true) {
      parser_->get().body().data = out->data();
      parser_->get().body().size = max;
      Lowest(stream_).expires_after(D(opt().read_timeout));
      auto [ec, n] =
          Await([&](auto h) { http::async_read(stream_, buffer_, *parser_, std::move(h)); });
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

  // --- HttpResponseWriter -------------------------------------------------------------------
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
    Lowest(stream_).expires_after(D(opt().write_timeout));
    auto [ec, n] = Await([&](auto h) {
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

  static bool IsParseError(beast::error_code ec) {
    return ec.category() == http::make_error_code(http::error::bad_method).category() &&
           ec != http::error::end_of_stream && ec != http::error::partial_message &&
           ec != http::error::need_buffer;
  }

  // Starts an operation on the strand and waits for it.
  template <class Start>
  std::pair<beast::error_code, size_t> Await(Start&& start) {
    std::promise<std::pair<beast::error_code, size_t>> done;
    auto result = done.get_future();
    asio::dispatch(strand_, [&] {
      start([&done](beast::error_code ec, size_t n) { done.set_value({ec, n}); });
    });
    return result.get();
  }

  bool Handshake() {
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      Lowest(stream_).expires_after(D(opt().read_timeout));
      auto [ec, n] = Await([&](auto h) {
        stream_.async_handshake(ssl::stream_base::server,
                                [h = std::move(h)](beast::error_code e) mutable { h(e, 0); });
      });
      return !ec;
    }
    return true;
  }

  void Shutdown() {
    beast::error_code ec;
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      Lowest(stream_).expires_after(std::chrono::seconds(1));
      Await([&](auto h) {
        stream_.async_shutdown([h = std::move(h)](beast::error_code e) mutable { h(e, 0); });
      });
    }
    int fd = -1;
    Await([&](auto h) {
      Lowest(stream_).socket().shutdown(tcp::socket::shutdown_send, ec);
      if (Lowest(stream_).socket().is_open()) fd = Lowest(stream_).socket().native_handle();
      h(ec, 0);
    });
    // Give the peer a moment to read what was sent before the socket is closed (closing with
    // unread input would reset the connection): drain briefly.
    if (fd >= 0) {
      const auto until = Clock::now() + std::chrono::milliseconds(200);
      char sink[4096];
      for (int i = 0; i < 64 && Clock::now() < until; ++i) {
        pollfd p{fd, POLLIN, 0};
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
        if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(left, 0))) <= 0) break;
        if ((p.revents & POLLIN) == 0) break;
        if (::recv(fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0) break;
      }
    }
    Await([&](auto h) {
      Lowest(stream_).socket().close(ec);
      h(ec, 0);
    });
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
    Lowest(stream_).expires_after(D(opt().write_timeout));
    auto [ec, n] = Await([&](auto h) {
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

  // Reads and answers one request; false to close the connection.
  bool ServeOne(bool first) {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(opt().max_header_bytes));
    parser_->body_limit(opt().max_body_bytes);
    request_id_.clear();
    started_ = false;
    stream_res_.reset();
    stream_sr_.reset();
    stream_left_ = 0;
    write_status_ = absl::OkStatus();
    body_status_ = absl::OkStatus();
    continue_sent_ = false;
    version_ = 11;
    keep_alive_ = true;

    Lowest(stream_).expires_after(D(first ? opt().read_timeout : opt().idle_timeout));
    auto [ec, n] =
        Await([&](auto h) { http::async_read_header(stream_, buffer_, *parser_, std::move(h)); });
    if (ec) {
      if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
        WriteErrorAndClose(S3ErrorCode::kRequestHeaderSectionTooLarge, "", "");
      } else if (ec == http::error::body_limit) {
        WriteErrorAndClose(S3ErrorCode::kEntityTooLarge, "", "");
      } else if (IsParseError(ec)) {
        WriteErrorAndClose(S3ErrorCode::kInvalidRequest, "Malformed HTTP request", "");
      }
      return false;  // EOF, reset, timeout, shutdown
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
    in.tls = std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>;

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

  S3HttpServer::Impl* server_;
  asio::any_io_executor strand_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::buffer_body>> parser_;
  std::optional<http::response<http::empty_body>> stream_res_;
  std::optional<http::response_serializer<http::empty_body>> stream_sr_;
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
  absl::Status write_status_;
  absl::Status body_status_;
};

}  // namespace

void S3HttpServer::Impl::Accept() {
  acceptor_.async_accept(asio::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open() || stopping()) return;
    if (!ec) {
      // Responses go out as several writes (status + headers, body chunks); without NODELAY
      // Nagle holds the last small one for the client's delayed ACK (~40 ms per request).
      beast::error_code nodelay_ec;
      socket.set_option(tcp::no_delay(true), nodelay_ec);
      std::unique_ptr<SessionBase> session;
      const bool tls = tls_;
      if (tls) {
        session = std::make_unique<Session<beast::ssl_stream<beast::tcp_stream>>>(
            this, std::move(socket), ssl_ctx_);
      } else {
        session = std::make_unique<Session<beast::tcp_stream>>(this, std::move(socket));
      }
      const bool ok = Register(session.get());
      std::thread([this, tls, ok, s = std::move(session)]() mutable {
        if (tls) {
          static_cast<Session<beast::ssl_stream<beast::tcp_stream>>*>(s.get())->Run(!ok, true);
        } else {
          static_cast<Session<beast::tcp_stream>*>(s.get())->Run(!ok, false);
        }
        SessionBase* raw = s.get();
        s.reset();
        Unregister(raw);
      }).detach();
    }
    Accept();
  });
}

void S3HttpServer::Impl::Stop() {
  absl::MutexLock lock(&stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  stopping_.store(true, std::memory_order_release);
  asio::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
  });
  {
    absl::MutexLock l(&mu_);
    for (SessionBase* s : sessions_) s->Close();
  }
  // Connection threads see their sockets fail and exit; wait for all of them, then stop the
  // I/O threads (which their pending operations needed).
  {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](std::unordered_set<SessionBase*>* s) { return s->empty(); }, &sessions_));
  }
  work_.reset();
  io_.stop();
  for (std::thread& t : threads_) t.join();
}

absl::StatusOr<std::unique_ptr<S3HttpServer>> S3HttpServer::Start(HttpServerOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  auto impl = std::make_unique<Impl>(std::move(options));
  if (absl::Status s = impl->Bind(); !s.ok()) return s;
  impl->Run();
  return std::unique_ptr<S3HttpServer>(new S3HttpServer(std::move(impl)));
}

S3HttpServer::S3HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
S3HttpServer::~S3HttpServer() { Stop(); }
uint16_t S3HttpServer::port() const { return impl_->port(); }
size_t S3HttpServer::open_connections() const { return impl_->open_connections(); }
void S3HttpServer::Stop() { impl_->Stop(); }

}  // namespace tessera::services::s3
