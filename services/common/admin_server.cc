#include "services/common/admin_server.h"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/common/host_port.h"

namespace tessera::services {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

absl::Status AdminServerOptions::Validate() const {
  if (absl::StatusOr<HostPort> hp = ParseHostPort(listen); !hp.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("admin listen: ", hp.status().message()));
  }
  if (max_request_bytes < 256) {
    return absl::InvalidArgumentError("max_request_bytes must be at least 256");
  }
  if (io_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("io_timeout must be positive");
  }
  if (!metrics_text) return absl::InvalidArgumentError("metrics_text is required");
  return absl::OkStatus();
}

class AdminServer::Impl {
 public:
  explicit Impl(AdminServerOptions options)
      : options_(std::move(options)), acceptor_(asio::make_strand(io_)) {}

  absl::Status Bind() {
    absl::StatusOr<HostPort> hp = ParseHostPort(options_.listen);
    if (!hp.ok()) return hp.status();
    boost::system::error_code ec;
    asio::ip::address address = asio::ip::make_address(hp->host, ec);
    if (ec) {
      // A host name: resolve it (synchronously, at startup only).
      tcp::resolver resolver(io_);
      auto results = resolver.resolve(hp->host, "", ec);
      if (ec || results.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("admin listen: cannot resolve host \"", hp->host, "\""));
      }
      address = results.begin()->endpoint().address();
    }
    tcp::endpoint endpoint(address, hp->port);
    auto fail = [&](absl::string_view what) {
      return absl::UnavailableError(
          absl::StrCat("admin server ", what, " ", options_.listen, ": ", ec.message()));
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
    thread_ = std::thread([this] { io_.run(); });
  }

  void Stop() {
    absl::MutexLock lock(&stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    // Stopping the context abandons in-flight sessions; their sockets close when the pending
    // handlers holding them are destroyed (now, via restart's drop, or with the context).
    io_.stop();
    if (thread_.joinable()) thread_.join();
    // The I/O thread is gone, so the acceptor can be closed here without a race.
    boost::system::error_code ec;
    acceptor_.close(ec);
  }

  uint16_t port() const { return port_; }
  void SetHealth(Health h) { health_.store(h, std::memory_order_release); }
  Health health() const { return health_.load(std::memory_order_acquire); }
  const AdminServerOptions& options() const { return options_; }

  // Builds the response to one parsed request.
  void Respond(const http::request<http::string_body>& req,
               http::response<http::string_body>& res) {
    res.version(req.version());
    res.set(http::field::server, "tessera-admin");
    res.keep_alive(req.keep_alive());
    absl::string_view target(req.target().data(), req.target().size());
    if (size_t q = target.find('?'); q != absl::string_view::npos) target = target.substr(0, q);
    const bool known = target == "/metrics" || target == "/healthz" || target == "/readyz";
    if (!known) {
      Text(res, http::status::not_found, "not found\n");
    } else if (req.method() != http::verb::get && req.method() != http::verb::head) {
      Text(res, http::status::method_not_allowed, "method not allowed\n");
      res.set(http::field::allow, "GET, HEAD");
    } else if (target == "/metrics") {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res.body() = options_.metrics_text();
    } else {
      switch (health()) {
        case Health::kServing:
          if (target == "/healthz") {
            Text(res, http::status::ok, "ok\n");
          } else if (absl::Status ready =
                         options_.readiness ? options_.readiness() : absl::OkStatus();
                     ready.ok()) {
            Text(res, http::status::ok, "ready\n");
          } else {
            Text(res, http::status::service_unavailable,
                 absl::StrCat("not ready: ", ready.message(), "\n"));
          }
          break;
        case Health::kStarting:
          Text(res, http::status::service_unavailable, "starting\n");
          break;
        case Health::kStopping:
          Text(res, http::status::service_unavailable, "stopping\n");
          break;
      }
    }
    res.prepare_payload();
    if (req.method() == http::verb::head) res.body().clear();  // keeps Content-Length
  }

  static void Text(http::response<http::string_body>& res, http::status status, std::string body) {
    res.result(status);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = std::move(body);
  }

 private:
  void Accept();

  AdminServerOptions options_;
  asio::io_context io_{1};
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<Health> health_{Health::kStarting};
  std::thread thread_;
  absl::Mutex stop_mu_;
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;
};

namespace {

// One HTTP connection: read a request, answer, repeat while keep-alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, AdminServer::Impl* server)
      : stream_(std::move(socket)), buffer_(server->options().max_request_bytes), server_(server) {}

  void Start() { ReadRequest(); }

 private:
  std::chrono::steady_clock::duration Timeout() const {
    return absl::ToChronoNanoseconds(server_->options().io_timeout);
  }

  void ReadRequest() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_->options().max_request_bytes));
    parser_->body_limit(server_->options().max_request_bytes);
    stream_.expires_after(Timeout());
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::header_limit || ec == http::error::body_limit ||
        ec == http::error::buffer_overflow) {
      res_ = {};
      res_.version(11);
      AdminServer::Impl::Text(res_, http::status::payload_too_large, "request too large\n");
      res_.keep_alive(false);
      res_.prepare_payload();
      Write();
      return;
    }
    if (ec) {
      // A malformed request (an HTTP parse error, not a closed or timed-out connection) gets
      // one 400, then the connection closes.
      const bool parse_error =
          ec.category() == http::make_error_code(http::error::bad_method).category() &&
          ec != http::error::end_of_stream && ec != http::error::partial_message;
      if (parse_error) {
        res_ = {};
        res_.version(11);
        AdminServer::Impl::Text(res_, http::status::bad_request, "bad request\n");
        res_.keep_alive(false);
        res_.prepare_payload();
        Write();
        return;
      }
      Close();
      return;
    }
    res_ = {};
    server_->Respond(parser_->get(), res_);
    Write();
  }

  void Write() {
    stream_.expires_after(Timeout());
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec || !self->res_.keep_alive()) {
        self->Close();
        return;
      }
      self->ReadRequest();
    });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  AdminServer::Impl* server_;
};

}  // namespace

void AdminServer::Impl::Accept() {
  acceptor_.async_accept(asio::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) {
      return;
    }
    if (!ec) std::make_shared<Session>(std::move(socket), this)->Start();
    Accept();
  });
}

absl::StatusOr<std::unique_ptr<AdminServer>> AdminServer::Start(AdminServerOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  auto impl = std::make_unique<Impl>(std::move(options));
  if (absl::Status s = impl->Bind(); !s.ok()) return s;
  impl->Run();
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(impl)));
}

AdminServer::AdminServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AdminServer::~AdminServer() { Stop(); }
uint16_t AdminServer::port() const { return impl_->port(); }
void AdminServer::SetHealth(Health health) { impl_->SetHealth(health); }
Health AdminServer::health() const { return impl_->health(); }
void AdminServer::Stop() { impl_->Stop(); }

}  // namespace tessera::services
