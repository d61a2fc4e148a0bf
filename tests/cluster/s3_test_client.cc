#include "tests/cluster/s3_test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "services/s3/auth/sigv4.h"

namespace tessera::testing {
namespace {

namespace s3 = services::s3;

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

absl::Status SendAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno("send");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// Reads until `buffer` holds at least `n` bytes (false on EOF or error).
bool ReadAtLeast(int fd, std::string* buffer, size_t n) {
  char chunk[64 << 10];
  while (buffer->size() < n) {
    const ssize_t got = ::recv(fd, chunk, sizeof(chunk), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    buffer->append(chunk, static_cast<size_t>(got));
  }
  return true;
}

// Reads until `buffer` contains `delimiter` at or after `from`; its position, or npos.
size_t ReadUntil(int fd, std::string* buffer, absl::string_view delimiter, size_t from) {
  while (true) {
    const size_t at = absl::string_view(*buffer).find(delimiter, from);
    if (at != std::string::npos) return at;
    if (!ReadAtLeast(fd, buffer, buffer->size() + 1)) return std::string::npos;
  }
}

// Reads one HTTP/1.1 answer (Content-Length, chunked, or up to EOF) from `fd`.
absl::StatusOr<S3Response> ReadResponse(int fd, bool head_request) {
  std::string buffer;
  const size_t end = ReadUntil(fd, &buffer, "\r\n\r\n", 0);
  if (end == std::string::npos) return absl::UnavailableError("no HTTP answer (connection closed)");
  S3Response r;
  std::vector<absl::string_view> lines =
      absl::StrSplit(absl::string_view(buffer).substr(0, end), "\r\n");
  std::vector<absl::string_view> status_line = absl::StrSplit(lines[0], ' ');
  if (status_line.size() < 2 || !absl::SimpleAtoi(status_line[1], &r.status)) {
    return absl::UnavailableError(absl::StrCat("bad status line: ", lines[0]));
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(lines[i], absl::MaxSplits(':', 1));
    r.headers[absl::AsciiStrToLower(kv.first)] = std::string(absl::StripAsciiWhitespace(kv.second));
  }
  std::string rest = buffer.substr(end + 4);
  if (head_request || r.status == 204 || r.status == 304) return r;
  if (absl::EqualsIgnoreCase(r.header("transfer-encoding"), "chunked")) {
    size_t pos = 0;
    while (true) {
      const size_t eol = ReadUntil(fd, &rest, "\r\n", pos);
      if (eol == std::string::npos) return absl::UnavailableError("truncated chunked body");
      uint64_t size = 0;
      const absl::string_view size_text =
          absl::string_view(rest).substr(pos, eol - pos).substr(0, rest.find(';', pos) - pos);
      if (!absl::SimpleHexAtoi(size_text, &size)) {
        return absl::UnavailableError("bad chunk size");
      }
      if (size == 0) return r;
      if (!ReadAtLeast(fd, &rest, eol + 2 + size + 2)) {
        return absl::UnavailableError("truncated chunk");
      }
      r.body.append(rest, eol + 2, size);
      pos = eol + 2 + size + 2;
    }
  }
  uint64_t length = 0;
  if (absl::SimpleAtoi(r.header("content-length"), &length)) {
    if (!ReadAtLeast(fd, &rest, length)) {
      return absl::UnavailableError(
          absl::StrCat("body truncated: ", rest.size(), " of ", length, " bytes"));
    }
    rest.resize(length);
  } else {
    ReadAtLeast(fd, &rest, SIZE_MAX);  // to EOF
  }
  r.body = std::move(rest);
  return r;
}

}  // namespace

std::string S3Response::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

std::string S3Response::XmlValue(absl::string_view tag) const {
  const std::string open = absl::StrCat("<", tag, ">");
  const size_t start = body.find(open);
  if (start == std::string::npos) return "";
  const size_t end = body.find(absl::StrCat("</", tag, ">"), start);
  if (end == std::string::npos) return "";
  return body.substr(start + open.size(), end - start - open.size());
}

PartialRequest::~PartialRequest() {
  if (fd_ >= 0) ::close(fd_);
}

S3TestClient::S3TestClient(int port, std::string access_key, std::string secret_key,
                           absl::Duration io_timeout)
    : port_(port),
      access_key_(std::move(access_key)),
      secret_key_(std::move(secret_key)),
      io_timeout_(io_timeout) {}

absl::StatusOr<int> S3TestClient::Connect() const {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  const timeval tv = absl::ToTimeval(io_timeout_);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    absl::Status s = Errno(absl::StrCat("connect to 127.0.0.1:", port_));
    ::close(fd);
    return s;
  }
  return fd;
}

std::string S3TestClient::Head(
    const std::string& method, const std::string& path, const std::string& query,
    uint64_t content_length,
    const std::vector<std::pair<std::string, std::string>>& headers) const {
  const std::string target = query.empty() ? path : absl::StrCat(path, "?", query);
  const std::string host = absl::StrCat("127.0.0.1:", port_);
  const std::string date = s3::FormatAmzDate(absl::Now());
  const std::string payload(s3::kUnsignedPayload);
  s3::HttpRequest r{
      method, target, {{"host", host}, {"x-amz-content-sha256", payload}, {"x-amz-date", date}}};
  absl::StatusOr<std::string> auth =
      s3::SignAuthorizationHeader(r, access_key_, secret_key_, "us-east-1", date,
                                  {"host", "x-amz-content-sha256", "x-amz-date"}, payload);
  std::string out = absl::StrCat(
      method, " ", target, " HTTP/1.1\r\nHost: ", host, "\r\nx-amz-date: ", date,
      "\r\nx-amz-content-sha256: ", payload, "\r\nAuthorization: ", auth.ok() ? *auth : "unsigned",
      "\r\nContent-Length: ", content_length, "\r\nConnection: close\r\n");
  for (const auto& [name, value] : headers) absl::StrAppend(&out, name, ": ", value, "\r\n");
  absl::StrAppend(&out, "\r\n");
  return out;
}

absl::StatusOr<S3Response> S3TestClient::Request(
    const std::string& method, const std::string& path, const std::string& query,
    absl::string_view body, const std::vector<std::pair<std::string, std::string>>& headers) const {
  absl::StatusOr<int> fd = Connect();
  if (!fd.ok()) return fd.status();
  absl::Status sent = SendAll(*fd, Head(method, path, query, body.size(), headers));
  if (sent.ok()) sent = SendAll(*fd, body);
  absl::StatusOr<S3Response> r =
      sent.ok() ? ReadResponse(*fd, method == "HEAD") : absl::StatusOr<S3Response>(sent);
  ::close(*fd);
  if (!r.ok()) {
    return absl::UnavailableError(
        absl::StrCat(method, " ", path, "?", query, ": ", r.status().message()));
  }
  return r;
}

absl::StatusOr<PartialRequest> S3TestClient::StartRequest(const std::string& method,
                                                          const std::string& path,
                                                          const std::string& query,
                                                          uint64_t content_length,
                                                          absl::string_view prefix) const {
  if (prefix.size() > content_length) {
    return absl::InvalidArgumentError("the prefix is longer than the body");
  }
  absl::StatusOr<int> fd = Connect();
  if (!fd.ok()) return fd.status();
  PartialRequest request(*fd);
  absl::Status sent = SendAll(*fd, Head(method, path, query, content_length, {}));
  if (sent.ok()) sent = SendAll(*fd, prefix);
  if (!sent.ok()) return sent;
  return request;
}

absl::StatusOr<S3Response> S3TestClient::Put(const std::string& bucket, const std::string& key,
                                             absl::string_view data) const {
  return Request("PUT", absl::StrCat("/", bucket, "/", key), "", data);
}

absl::StatusOr<S3Response> S3TestClient::Get(const std::string& bucket,
                                             const std::string& key) const {
  return Request("GET", absl::StrCat("/", bucket, "/", key));
}

absl::StatusOr<S3Response> S3TestClient::CreateMultipartUpload(const std::string& bucket,
                                                               const std::string& key) const {
  return Request("POST", absl::StrCat("/", bucket, "/", key), "uploads=");
}

absl::StatusOr<S3Response> S3TestClient::UploadPart(const std::string& bucket,
                                                    const std::string& key,
                                                    const std::string& upload_id, int part_number,
                                                    absl::string_view data) const {
  return Request("PUT", absl::StrCat("/", bucket, "/", key),
                 absl::StrCat("partNumber=", part_number, "&uploadId=", QueryValue(upload_id)),
                 data);
}

absl::StatusOr<S3Response> S3TestClient::ListParts(const std::string& bucket,
                                                   const std::string& key,
                                                   const std::string& upload_id) const {
  return Request("GET", absl::StrCat("/", bucket, "/", key),
                 absl::StrCat("uploadId=", QueryValue(upload_id)));
}

std::string S3TestClient::QueryValue(absl::string_view value) { return s3::UriEncode(value, true); }

std::string S3TestClient::CompleteBody(const std::vector<S3Part>& parts) {
  std::string xml = "<CompleteMultipartUpload>";
  for (const S3Part& p : parts) {
    absl::StrAppend(&xml, "<Part><PartNumber>", p.number, "</PartNumber><ETag>", p.etag,
                    "</ETag></Part>");
  }
  absl::StrAppend(&xml, "</CompleteMultipartUpload>");
  return xml;
}

absl::StatusOr<S3Response> S3TestClient::CompleteMultipartUpload(
    const std::string& bucket, const std::string& key, const std::string& upload_id,
    const std::vector<S3Part>& parts) const {
  return Request("POST", absl::StrCat("/", bucket, "/", key),
                 absl::StrCat("uploadId=", QueryValue(upload_id)), CompleteBody(parts));
}

std::vector<S3Part> PartsOf(const S3Response& list_parts) {
  std::vector<S3Part> out;
  size_t pos = 0;
  while (true) {
    const size_t start = list_parts.body.find("<Part>", pos);
    if (start == std::string::npos) break;
    const size_t end = list_parts.body.find("</Part>", start);
    if (end == std::string::npos) break;
    S3Response one;
    one.body = list_parts.body.substr(start, end - start);
    S3Part p;
    if (absl::SimpleAtoi(one.XmlValue("PartNumber"), &p.number)) {
      // The XML may escape the ETag's quotes.
      p.etag = absl::StrReplaceAll(one.XmlValue("ETag"), {{"&quot;", "\""}});
      out.push_back(p);
    }
    pos = end;
  }
  return out;
}

}  // namespace tessera::testing
