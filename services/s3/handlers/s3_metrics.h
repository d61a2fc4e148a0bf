// S3Metrics: Prometheus metrics of the S3 front end, one observation per request.
//
//   tessera_s3_requests_total{operation,code}        counter, requests by S3 operation
//                                                     (OperationName: "PutObject", ...;
//                                                     "Unknown" when routing failed) and HTTP
//                                                     status ("200", "404", ...)
//   tessera_s3_request_duration_seconds{operation}   histogram, arrival to response sent
//   tessera_s3_received_bytes_total{operation}       counter, request body bytes read
//   tessera_s3_sent_bytes_total{operation}           counter, response body bytes sent
//   tessera_s3_inflight_requests                     gauge, requests being served
//
// Label sets are bounded: ~25 operations x the status codes S3 answers with.
//
// Thread-safety: thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/metrics.h"
#include "services/s3/http_server/http_server.h"

namespace tessera::services::s3 {

class S3Metrics {
 public:
  // Registers the families in `registry` (not owned; must outlive this object).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<S3Metrics>> Create(Registry* registry);

  void RequestStarted() { inflight_->Increment(); }
  void RequestDone(const std::string& operation, int http_status, absl::Duration latency,
                   uint64_t bytes_in, uint64_t bytes_out);

 private:
  S3Metrics() = default;
  CounterFamily* requests_ = nullptr;
  HistogramFamily* latency_ = nullptr;
  CounterFamily* received_ = nullptr;
  CounterFamily* sent_ = nullptr;
  Gauge* inflight_ = nullptr;
};

// Counts the body bytes a handler reads.
class CountingBodyReader final : public HttpBodyReader {
 public:
  explicit CountingBodyReader(HttpBodyReader* inner) : inner_(inner) {}
  [[nodiscard]] absl::Status Read(size_t max, std::string* out) override {
    absl::Status s = inner_->Read(max, out);
    if (s.ok()) bytes_ += out->size();
    return s;
  }
  std::optional<uint64_t> content_length() const override { return inner_->content_length(); }
  bool done() const override { return inner_->done(); }
  uint64_t bytes() const { return bytes_; }

 private:
  HttpBodyReader* const inner_;
  uint64_t bytes_ = 0;
};

// Records the status a handler answers with and the body bytes it sends.
class RecordingResponseWriter final : public HttpResponseWriter {
 public:
  explicit RecordingResponseWriter(HttpResponseWriter* inner) : inner_(inner) {}
  [[nodiscard]] absl::Status Send(HttpServerResponse response) override {
    status_ = response.status;
    const uint64_t n = response.body.size();
    absl::Status s = inner_->Send(std::move(response));
    if (s.ok()) bytes_ += n;
    return s;
  }
  [[nodiscard]] absl::Status StartBody(int status,
                                       std::vector<std::pair<std::string, std::string>> headers,
                                       uint64_t content_length) override {
    status_ = status;
    return inner_->StartBody(status, std::move(headers), content_length);
  }
  [[nodiscard]] absl::Status WriteBody(absl::string_view data) override {
    absl::Status s = inner_->WriteBody(data);
    if (s.ok()) bytes_ += data.size();
    return s;
  }
  [[nodiscard]] absl::Status EndBody() override { return inner_->EndBody(); }
  bool started() const override { return inner_->started(); }

  // The status sent; 500 if the handler sent nothing (the server answers InternalError then).
  int status() const { return status_; }
  uint64_t bytes() const { return bytes_; }

 private:
  HttpResponseWriter* const inner_;
  int status_ = 500;
  uint64_t bytes_ = 0;
};

}  // namespace tessera::services::s3
