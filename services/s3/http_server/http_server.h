// S3HttpServer: the S3 gateway's HTTP/1.1 front end (Boost.Beast), network part only. It parses
// requests under limits and deadlines and hands each complete request to a handler callback; the
// S3 layers (auth, request, xml, ...) and the cluster are the handler's business.
//
//   * Keep-alive per HTTP/1.1 rules (Connection: close honoured; HTTP/1.0 closes by default);
//     optional cap on requests per connection.
//   * Limits: header section (RequestHeaderSectionTooLarge) and body (EntityTooLarge) sizes, both
//     answered with an S3 XML error and a closed connection.
//   * Connections (checked when accepted, before any TLS work): at most max_connections open.
//     When full, the oldest connection that has not yet sent a complete request header (still
//     in its TLS handshake, or silent) is closed to make room; if every open connection has sent
//     a request the new one is refused (plain HTTP: 503 SlowDown, then closed; TLS: closed).
//     At most max_handshakes TLS handshakes at once (a new one closes the oldest), each within
//     handshake_timeout. So a flood of silent connections cannot lock real clients out.
//   * Deadlines: handshake_timeout for the TLS handshake, read_timeout for receiving a request
//     (the first request's header, then every body read), idle_timeout for a kept-alive
//     connection waiting for its next request, write_timeout for sending a response. Expired
//     connections are closed.
//   * "Expect: 100-continue" gets an interim 100 response before the body is read (aws-cli and
//     the SDKs send it on PUT), unless the declared body is already too large.
//   * Malformed HTTP gets 400 InvalidRequest and a closed connection.
//
//   * Streaming: with `streaming_handler` set, the handler reads the request body piecewise
//     through an HttpBodyReader (bounded memory whatever the body size; "100 Continue" is sent
//     when it first reads) and may stream its response through HttpResponseWriter (each write
//     waits for the socket: backpressure). With only `handler` set, bodies are buffered up to
//     max_body_bytes and the handler fills an HttpServerResponse.
//   * HTTPS when tls_cert_file and tls_key_file are given (OpenSSL via Asio ssl::stream).
//
// Threads: a fixed number, whatever the number of connections. io_threads Asio threads do all the
// waiting asynchronously (accept, TLS handshakes, request headers, idle keep-alive connections,
// closing), so a silent or idle connection holds no thread. Once a request header has arrived the
// request is served on one of worker_threads pool threads, where the handler may block (e.g. on
// the object data path); requests beyond that wait in FIFO order for a free worker. A worker is
// held from the header until the response is sent, including while the handler reads the body
// (each read bounded by read_timeout). Nothing a handler throws escapes: the request gets a 500
// if nothing was sent yet, the connection is closed, and the server keeps serving.
// Thread-safety: all public methods are thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tessera::services::s3 {

struct HttpServerRequest {
  std::string method;  // "GET", ...
  std::string target;  // request-target as received, e.g. "/bucket/key?uploads"
  std::vector<std::pair<std::string, std::string>> headers;  // in order, names as sent
  std::string body;        // de-chunked if Transfer-Encoding: chunked (buffered handler only)
  std::string remote;      // "127.0.0.1:54321"
  std::string request_id;  // sent as x-amz-request-id unless the response sets its own
  bool tls = false;
};

struct HttpServerResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // For HEAD: the Content-Length to announce (the body is never sent for HEAD).
  std::optional<uint64_t> head_content_length;
};

using HttpHandler = std::function<void(const HttpServerRequest&, HttpServerResponse*)>;

// The request body, read piecewise (de-chunked if Transfer-Encoding: chunked).
class HttpBodyReader {
 public:
  virtual ~HttpBodyReader() = default;
  // Replaces *out with the next at most `max` (> 0) body bytes; *out empty = end of body.
  // Errors: IncompleteBody (client closed early), RequestTimeout (client too slow),
  // EntityTooLarge (over max_body_bytes), InvalidRequest (bad chunked framing). After an error
  // the connection is closed once the response is sent.
  [[nodiscard]] virtual absl::Status Read(size_t max, std::string* out) = 0;
  // Content-Length as declared; nullopt for chunked bodies.
  virtual std::optional<uint64_t> content_length() const = 0;
  // True once the whole body has been read.
  virtual bool done() const = 0;
};

// The response of a streaming handler: either Send() once, or StartBody() then WriteBody()...
// EndBody(). A handler that sends nothing gets a 500 InternalError.
class HttpResponseWriter {
 public:
  virtual ~HttpResponseWriter() = default;
  [[nodiscard]] virtual absl::Status Send(HttpServerResponse response) = 0;
  // Sends status and headers announcing `content_length` body bytes (for HEAD none follow).
  [[nodiscard]] virtual absl::Status StartBody(
      int status, std::vector<std::pair<std::string, std::string>> headers,
      uint64_t content_length) = 0;
  // Sends the next body bytes; returns when the socket took them (backpressure).
  [[nodiscard]] virtual absl::Status WriteBody(absl::string_view data) = 0;
  // Ends the body. If fewer bytes than announced were written the connection is closed (the
  // client sees a truncated body) and an error is returned.
  [[nodiscard]] virtual absl::Status EndBody() = 0;
  // True once a status line has been sent.
  virtual bool started() const = 0;
};

using StreamingHttpHandler =
    std::function<void(const HttpServerRequest&, HttpBodyReader*, HttpResponseWriter*)>;

struct HttpServerOptions {
  std::string listen = "127.0.0.1:0";  // host:port; port 0 picks a free one
  int io_threads = 2;
  int worker_threads = 64;  // requests served (handlers running) at once; 1..4096
  size_t max_header_bytes = 16 << 10;
  uint64_t max_body_bytes = 64ull << 20;
  size_t max_connections = 1024;
  size_t max_handshakes = 256;             // TLS handshakes in progress at once
  size_t max_requests_per_connection = 0;  // 0 = unlimited
  absl::Duration handshake_timeout = absl::Seconds(10);
  absl::Duration read_timeout = absl::Seconds(30);
  absl::Duration idle_timeout = absl::Seconds(60);
  absl::Duration write_timeout = absl::Seconds(30);
  std::string server_name = "tessera-s3";
  // HTTPS: PEM certificate chain and private key files (both or neither).
  std::string tls_cert_file;
  std::string tls_key_file;
  // Exactly one of the two is required.
  HttpHandler handler;
  StreamingHttpHandler streaming_handler;
  [[nodiscard]] absl::Status Validate() const;
};

class S3HttpServer {
 public:
  // Binds and starts the I/O and worker threads. INVALID_ARGUMENT for bad options, UNAVAILABLE
  // if the address cannot be bound, RESOURCE_EXHAUSTED if a thread cannot be created.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<S3HttpServer>> Start(
      HttpServerOptions options);
  ~S3HttpServer();
  S3HttpServer(const S3HttpServer&) = delete;
  S3HttpServer& operator=(const S3HttpServer&) = delete;

  uint16_t port() const;
  // Connections currently holding one of the max_connections slots (refused ones do not).
  size_t open_connections() const;
  // Closes the listener. With a positive `grace`, closes idle connections at once and lets the
  // requests in progress (and those whose header has arrived) finish for up to `grace`: their
  // answers carry "Connection: close" and their connections close after them. Then closes
  // every connection still open, waits for running handlers to return (their sockets fail)
  // and joins the worker and I/O threads. Blocks for at most about `grace` plus the handlers'
  // own time to notice the failure. Idempotent (a second call returns at once, or once the
  // first is done). Thread-safe; not from a handler.
  void Stop(absl::Duration grace = absl::ZeroDuration());
  // Re-reads tls_cert_file and tls_key_file: connections accepted from now on use them, open
  // ones keep their session. OK without TLS. On an error (INVALID_ARGUMENT naming the file) the
  // current certificate stays in use. Thread-safe.
  [[nodiscard]] absl::Status ReloadTls();

  class Impl;

 private:
  explicit S3HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::services::s3
