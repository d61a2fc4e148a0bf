#include "services/s3/http_server/http_server.h"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <thread>
#include <unordered_map>

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
  if (!handler) return absl::InvalidArgumentError("handler is required");
  return absl::OkStatus();
}

class Session;

class S3HttpServer::Impl {
 public:
  explicit Impl(HttpServerOptions options)
      : options_(std::move(options)), acceptor_(asio::make_strand(io_)) {}

  absl::Status Bind() {
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
  std::string NextRequestId() {
    return absl::StrFormat("%016X", next_request_id_.fetch_add(1, std::memory_order_relaxed));
  }

  // Connection accounting; false if the new connection is over the limit.
  bool Register(Session* s, const std::shared_ptr<Session>& sp) {
    size_t now = open_.fetch_add(1, std::memory_order_acq_rel) + 1;
    absl::MutexLock lock(&mu_);
    sessions_[s] = sp;
    return now <= options_.max_connections;
  }
  void Unregister(Session* s) {
    open_.fetch_sub(1, std::memory_order_acq_rel);
    absl::MutexLock lock(&mu_);
    sessions_.erase(s);
  }

 private:
  void Accept();

  HttpServerOptions options_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::vector<std::thread> threads_;
  std::atomic<size_t> open_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> next_request_id_{1};
  absl::Mutex stop_mu_;
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;
  absl::Mutex mu_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_ ABSL_GUARDED_BY(mu_);
};

// One connection: read a request, answer it, repeat while kept alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, S3HttpServer::Impl* server)
      : stream_(std::move(socket)),
        buffer_(server->options().max_header_bytes + 8192),
        server_(server) {
    beast::error_code ec;
    tcp::endpoint ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = absl::StrCat(ep.address().to_string(), ":", ep.port());
  }
  ~Session() { server_->Unregister(this); }

  void Start(bool over_limit) {
    if (over_limit) {
      WriteError(S3ErrorCode::kSlowDown, "Too many open connections; please retry", "");
      return;
    }
    ReadHeader(/*first=*/true);
  }

  // Called (via the session's strand) by Stop().
  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  asio::any_io_executor executor() { return stream_.get_executor(); }

 private:
  using Clock = std::chrono::steady_clock;
  static Clock::duration D(absl::Duration d) { return absl::ToChronoNanoseconds(d); }
  const HttpServerOptions& opt() const { return server_->options(); }

  void ReadHeader(bool first) {
    if (server_->stopping()) return Close();
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(opt().max_header_bytes));
    parser_->body_limit(opt().max_body_bytes);
    stream_.expires_after(D(first ? opt().read_timeout : opt().idle_timeout));
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    if (parser_->is_done()) return Handle();
    auto expect = parser_->get().find(http::field::expect);
    if (expect != parser_->get().end() &&
        absl::EqualsIgnoreCase(absl::string_view(expect->value().data(), expect->value().size()),
                               "100-continue")) {
      static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      stream_.expires_after(D(opt().write_timeout));
      asio::async_write(stream_, asio::buffer(kContinue, sizeof(kContinue) - 1),
                        [self = shared_from_this()](beast::error_code ec2, size_t) {
                          if (ec2) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_after(D(opt().read_timeout));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->OnReadError(ec);
                       self->Handle();
                     });
  }

  void OnReadError(beast::error_code ec) {
    std::string target;
    if (parser_ && parser_->is_header_done()) {
      target = std::string(parser_->get().target());
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      return WriteError(S3ErrorCode::kRequestHeaderSectionTooLarge, "", target);
    }
    if (ec == http::error::body_limit) {
      return WriteError(S3ErrorCode::kEntityTooLarge, "", target);
    }
    const bool parse_error =
        ec.category() == http::make_error_code(http::error::bad_method).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message;
    if (parse_error) return WriteError(S3ErrorCode::kInvalidRequest, "Malformed HTTP request", "");
    Close();  // EOF, reset, timeout, shutdown
  }

  void Handle() {
    ++requests_;
    const auto& req = parser_->get();
    HttpServerRequest in;
    in.method = std::string(req.method_string());
    in.target = std::string(req.target());
    for (const auto& field : req) {
      in.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    in.body = std::move(parser_->get().body());
    in.remote = remote_;
    HttpServerResponse out;
    opt().handler(in, &out);

    res_ = {};
    res_.version(req.version());
    res_.result(static_cast<unsigned>(out.status));
    res_.set(http::field::server, opt().server_name);
    bool has_request_id = false;
    for (const auto& [k, v] : out.headers) {
      res_.insert(k, v);
      has_request_id |= absl::EqualsIgnoreCase(k, "x-amz-request-id");
    }
    if (!has_request_id) res_.set("x-amz-request-id", server_->NextRequestId());
    const bool limit_reached =
        opt().max_requests_per_connection != 0 && requests_ >= opt().max_requests_per_connection;
    res_.keep_alive(req.keep_alive() && !limit_reached && !server_->stopping());
    if (req.method() == http::verb::head) {
      res_.content_length(out.head_content_length.value_or(out.body.size()));
    } else {
      res_.body() = std::move(out.body);
      res_.prepare_payload();
    }
    Write(req.method() == http::verb::head);
  }

  void WriteError(S3ErrorCode code, absl::string_view message, absl::string_view resource) {
    const S3ErrorInfo& info = GetErrorInfo(code);
    std::string request_id = server_->NextRequestId();
    res_ = {};
    res_.version(11);
    res_.result(static_cast<unsigned>(info.http_status));
    res_.set(http::field::server, opt().server_name);
    res_.set(http::field::content_type, "application/xml");
    res_.set("x-amz-request-id", request_id);
    res_.body() = WriteError(ErrorBody{
        std::string(info.name), std::string(message.empty() ? info.default_message : message),
        std::string(resource), request_id});
    res_.keep_alive(false);
    res_.prepare_payload();
    Write(false);
  }
  static std::string WriteError(const ErrorBody& e) { return s3::WriteError(e); }

  void Write(bool head) {
    stream_.expires_after(D(opt().write_timeout));
    auto done = [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec || !self->res_.keep_alive()) return self->Close();
      self->ReadHeader(/*first=*/false);
    };
    if (head) {
      // Headers only: serialize the header part of the response.
      serializer_.emplace(res_);
      http::async_write_header(stream_, *serializer_, std::move(done));
    } else {
      http::async_write(stream_, res_, std::move(done));
    }
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  std::optional<http::response_serializer<http::string_body>> serializer_;
  S3HttpServer::Impl* server_;
  std::string remote_;
  size_t requests_ = 0;
};

void S3HttpServer::Impl::Accept() {
  acceptor_.async_accept(asio::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open() || stopping()) return;
    if (!ec) {
      auto session = std::make_shared<Session>(std::move(socket), this);
      bool ok = Register(session.get(), session);
      session->Start(!ok);
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
  std::vector<std::shared_ptr<Session>> live;
  {
    absl::MutexLock l(&mu_);
    for (auto& [ptr, weak] : sessions_) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) asio::post(s->executor(), [s] { s->Close(); });
  live.clear();
  // With the acceptor and every socket closed, pending operations complete with errors, no new
  // work is started (stopping_), and run() returns on every thread.
  for (std::thread& t : threads_) t.join();
  io_.stop();
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
