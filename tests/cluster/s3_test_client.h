// S3TestClient: a deliberately small S3 client for process-level fault tests against tessera-s3
// on 127.0.0.1. Plain HTTP/1.1, one request per connection ("Connection: close"), requests signed
// with SigV4 in the header form and UNSIGNED-PAYLOAD (services/s3/auth/sigv4.h), as the SDKs do.
// Unlike a real SDK it never retries, and it can send a request's headers and only part of its
// body and leave the connection open (PartialRequest): the way to kill a server in the middle of
// an upload.
//
// Every socket operation is bounded by `io_timeout`, so a dead or hung server yields an error,
// never a hang. Transport failures (connect, send, receive, malformed answer) are UNAVAILABLE;
// an HTTP answer of any status is OK (the caller judges the status).
//
// Thread-safety: a client is immutable after construction except set_port(); use one per thread
// or synchronise set_port() externally. PartialRequest is owned by its caller (closes on
// destruction).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tessera::testing {

struct S3Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;

  // The header's value, or "" when absent.
  std::string header(const std::string& lower_name) const;
  // The text of the first <tag>...</tag> in the body, or "" when absent.
  std::string XmlValue(absl::string_view tag) const;
};

// A request whose headers and the first bytes of whose body (or all of it) were sent, and whose
// answer is never read. Destruction closes the connection (a server still reading the body sees
// it truncated).
class PartialRequest {
 public:
  explicit PartialRequest(int fd) : fd_(fd) {}
  PartialRequest(PartialRequest&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  PartialRequest& operator=(PartialRequest&&) = delete;
  ~PartialRequest();

 private:
  int fd_;
};

// One part of a multipart upload as the client knows it.
struct S3Part {
  int number = 0;
  std::string etag;  // as the server returned it, quotes included
};

class S3TestClient {
 public:
  S3TestClient(int port, std::string access_key, std::string secret_key,
               absl::Duration io_timeout = absl::Seconds(120));

  void set_port(int port) { port_ = port; }
  int port() const { return port_; }

  // Sends `method` /`path`?`query` (path and query already percent-encoded as needed; query
  // without '?') with `body` and returns the answer.
  [[nodiscard]] absl::StatusOr<S3Response> Request(
      const std::string& method, const std::string& path, const std::string& query = "",
      absl::string_view body = "",
      const std::vector<std::pair<std::string, std::string>>& headers = {}) const;

  // Sends the headers of a request announcing a `content_length`-byte body, then `prefix` (at
  // most content_length bytes; all of them sends the whole request), and returns without reading
  // an answer. Returns once the kernel took every byte of `prefix`: when `prefix` is larger than
  // the socket buffers, the server has read most of it. INVALID_ARGUMENT for a longer prefix.
  [[nodiscard]] absl::StatusOr<PartialRequest> StartRequest(const std::string& method,
                                                            const std::string& path,
                                                            const std::string& query,
                                                            uint64_t content_length,
                                                            absl::string_view prefix) const;

  // Convenience calls. Each returns the answer (any status) or a transport error.
  absl::StatusOr<S3Response> Put(const std::string& bucket, const std::string& key,
                                 absl::string_view data) const;
  absl::StatusOr<S3Response> Get(const std::string& bucket, const std::string& key) const;
  // POST ?uploads; the UploadId is XmlValue("UploadId") of a 200 answer.
  absl::StatusOr<S3Response> CreateMultipartUpload(const std::string& bucket,
                                                   const std::string& key) const;
  absl::StatusOr<S3Response> UploadPart(const std::string& bucket, const std::string& key,
                                        const std::string& upload_id, int part_number,
                                        absl::string_view data) const;
  absl::StatusOr<S3Response> ListParts(const std::string& bucket, const std::string& key,
                                       const std::string& upload_id) const;
  absl::StatusOr<S3Response> CompleteMultipartUpload(const std::string& bucket,
                                                     const std::string& key,
                                                     const std::string& upload_id,
                                                     const std::vector<S3Part>& parts) const;
  // `value` percent-encoded for a query string (e.g. an upload id).
  static std::string QueryValue(absl::string_view value);
  // The XML body of CompleteMultipartUpload for `parts`.
  static std::string CompleteBody(const std::vector<S3Part>& parts);

 private:
  // Connects, with send and receive timeouts set; the descriptor or UNAVAILABLE.
  absl::StatusOr<int> Connect() const;
  // The request line and headers (signed), ending with the empty line.
  std::string Head(const std::string& method, const std::string& path, const std::string& query,
                   uint64_t content_length,
                   const std::vector<std::pair<std::string, std::string>>& headers) const;

  int port_;
  const std::string access_key_, secret_key_;
  const absl::Duration io_timeout_;
};

// Every (part number, ETag) of a ListParts answer, in answer order.
std::vector<S3Part> PartsOf(const S3Response& list_parts);

}  // namespace tessera::testing
