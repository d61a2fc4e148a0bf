// AdminServer: a small HTTP/1.1 server for operators and monitoring, on its own port.
//
//   GET /metrics  200, Prometheus text exposition (Content-Type: text/plain; version=0.0.4)
//   GET /healthz  200 "ok" while the daemon is serving; 503 "starting" / "stopping" otherwise
//   GET /readyz   200 "ready" while serving and the readiness check passes; 503 "starting" /
//                 "stopping", or "not ready: <why>" when the check fails (for load balancers and
//                 Kubernetes readiness probes: alive but unable to do its job, e.g. too few
//                 storage nodes for writes at full redundancy). No check: as /healthz.
//   other paths   404;  methods other than GET/HEAD  405 (with Allow: GET, HEAD)
//
// Requests are bounded (headers and body together at most max_request_bytes; larger gets 413 and
// the connection is closed) and every read/write has a deadline (idle or slow connections are
// dropped). Connections are kept alive per HTTP/1.1 rules. Boost.Beast on one I/O thread: the
// handlers only format text, so one thread is plenty.
//
// Thread-safety: all public methods are thread-safe. The metrics callback runs on the I/O thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tessera::services {

enum class Health { kStarting, kServing, kStopping };

struct AdminServerOptions {
  // host:port to listen on; port 0 picks a free port (see AdminServer::port()).
  std::string listen = "127.0.0.1:0";
  // Largest request (request line + headers + body) accepted, in bytes. Default 16 KiB.
  size_t max_request_bytes = 16 << 10;
  // Deadline for reading one request or writing one response. Default 10 s.
  absl::Duration io_timeout = absl::Seconds(10);
  // Produces the /metrics body. Required.
  std::function<std::string()> metrics_text;
  // The /readyz check: OK when ready, otherwise a status whose message says why (shown to the
  // caller; never a secret). Optional. Runs on the I/O thread: keep it cheap and non-blocking.
  std::function<absl::Status()> readiness;

  // OK, or INVALID_ARGUMENT naming the offending field.
  [[nodiscard]] absl::Status Validate() const;
};

class AdminServer {
 public:
  // Binds and starts serving on a background thread; health starts as kStarting.
  // INVALID_ARGUMENT for bad options; UNAVAILABLE when the address cannot be bound.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<AdminServer>> Start(
      AdminServerOptions options);

  // Stops (see Stop()).
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // The bound port (the real one when options asked for 0).
  uint16_t port() const;

  void SetHealth(Health health);
  Health health() const;

  // Closes the listener and all connections and joins the I/O thread. Idempotent.
  void Stop();

  class Impl;

 private:
  explicit AdminServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::services
