#include "tests/bench/s3_loadgen.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/s3/auth/sigv4.h"

namespace tessera::bench {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class S3LoadClient::Impl {
 public:
  explicit Impl(S3LoadClientOptions o) : options(std::move(o)), socket(ioc) {}

  absl::Status Open() {
    beast::error_code ec;
    const auto address = net::ip::make_address(options.host, ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("bad host ", options.host));
    socket.connect(tcp::endpoint(address, static_cast<uint16_t>(options.port)), ec);
    if (ec) return absl::UnavailableError(absl::StrCat("connect: ", ec.message()));
    socket.set_option(tcp::no_delay(true), ec);
    host_header = absl::StrCat(options.host, ":", options.port);
    return absl::OkStatus();
  }

  // Sets host, x-amz-date, x-amz-content-sha256 and Authorization on `req`.
  template <class Request>
  absl::Status Sign(Request& req, const std::string& target, absl::string_view body,
                    bool signed_body) {
    const std::string date = services::s3::FormatAmzDate(absl::Now());
    const std::string hash =
        signed_body ? services::s3::Sha256Hex(body) : std::string(services::s3::kUnsignedPayload);
    services::s3::HttpRequest r;
    r.method = std::string(req.method_string());
    r.target = target;
    r.headers = {{"host", host_header}, {"x-amz-content-sha256", hash}, {"x-amz-date", date}};
    auto auth = services::s3::SignAuthorizationHeader(
        r, options.access_key, options.secret_key, options.region, date,
        {"host", "x-amz-content-sha256", "x-amz-date"}, hash);
    if (!auth.ok()) return auth.status();
    req.set(http::field::host, host_header);
    req.set("x-amz-content-sha256", hash);
    req.set("x-amz-date", date);
    req.set(http::field::authorization, *auth);
    return absl::OkStatus();
  }

  absl::Status Put(const std::string& target, absl::string_view data, bool signed_body) {
    http::request<http::buffer_body> req{http::verb::put, target, 11};
    if (absl::Status s = Sign(req, target, data, signed_body); !s.ok()) return s;
    req.content_length(data.size());
    req.body().data = const_cast<char*>(data.data());
    req.body().size = data.size();
    req.body().more = false;
    beast::error_code ec;
    http::write(socket, req, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("PUT ", target, " write: ", ec.message()));
    http::response<http::string_body> resp;
    http::read(socket, buffer, resp, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("PUT ", target, " read: ", ec.message()));
    if (resp.result_int() != 200) {
      return absl::InternalError(
          absl::StrCat("PUT ", target, ": HTTP ", resp.result_int(), " ", resp.body()));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Get(const std::string& target, std::string* out) {
    http::request<http::empty_body> req{http::verb::get, target, 11};
    if (absl::Status s = Sign(req, target, "", false); !s.ok()) return s;
    beast::error_code ec;
    http::write(socket, req, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("GET ", target, " write: ", ec.message()));
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(std::numeric_limits<uint64_t>::max());
    http::read_header(socket, buffer, parser, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("GET ", target, " read: ", ec.message()));
    const int status = parser.get().result_int();
    uint64_t total = 0;
    std::string error_body;
    while (!parser.is_done()) {
      parser.get().body().data = piece.data();
      parser.get().body().size = piece.size();
      http::read(socket, buffer, parser, ec);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) return absl::UnavailableError(absl::StrCat("GET ", target, " body: ", ec.message()));
      const size_t n = piece.size() - parser.get().body().size;
      total += n;
      if (status != 200) {
        error_body.append(piece.data(), n);
      } else if (out != nullptr) {
        out->append(piece.data(), n);
      }
    }
    if (status != 200) {
      return absl::InternalError(absl::StrCat("GET ", target, ": HTTP ", status, " ", error_body));
    }
    return total;
  }

  S3LoadClientOptions options;
  net::io_context ioc;
  tcp::socket socket;
  beast::flat_buffer buffer;
  std::string host_header;
  std::vector<char> piece = std::vector<char>(1 << 20);
};

absl::StatusOr<std::unique_ptr<S3LoadClient>> S3LoadClient::Connect(S3LoadClientOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  if (absl::Status s = impl->Open(); !s.ok()) return s;
  return std::unique_ptr<S3LoadClient>(new S3LoadClient(std::move(impl)));
}

S3LoadClient::S3LoadClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
S3LoadClient::~S3LoadClient() = default;

absl::Status S3LoadClient::CreateBucket(const std::string& bucket) {
  return impl_->Put(absl::StrCat("/", bucket), "", true);
}

absl::Status S3LoadClient::Put(const std::string& bucket, const std::string& key,
                               absl::string_view data) {
  return impl_->Put(absl::StrCat("/", bucket, "/", key), data, impl_->options.signed_payload);
}

absl::StatusOr<uint64_t> S3LoadClient::Get(const std::string& bucket, const std::string& key,
                                           std::string* out) {
  return impl_->Get(absl::StrCat("/", bucket, "/", key), out);
}

}  // namespace tessera::bench
