#include "services/s3/handlers/s3_metrics.h"

#include "absl/strings/str_cat.h"

namespace tessera::services::s3 {

absl::StatusOr<std::unique_ptr<S3Metrics>> S3Metrics::Create(Registry* registry) {
  std::unique_ptr<S3Metrics> m(new S3Metrics());
  auto requests = registry->AddCounter("tessera_s3_requests_total",
                                       "S3 requests served, by operation and HTTP status.",
                                       {"operation", "code"});
  if (!requests.ok()) return requests.status();
  m->requests_ = *requests;
  // 1 ms .. ~65 s: from a HEAD to a 5 GiB PUT.
  auto latency = registry->AddHistogram(
      "tessera_s3_request_duration_seconds",
      "S3 request latency from arrival to the last response byte, by operation.", {"operation"},
      ExponentialBuckets(0.001, 2.0, 17));
  if (!latency.ok()) return latency.status();
  m->latency_ = *latency;
  auto received = registry->AddCounter("tessera_s3_received_bytes_total",
                                       "S3 request body bytes read, by operation.", {"operation"});
  if (!received.ok()) return received.status();
  m->received_ = *received;
  auto sent = registry->AddCounter("tessera_s3_sent_bytes_total",
                                   "S3 response body bytes sent, by operation.", {"operation"});
  if (!sent.ok()) return sent.status();
  m->sent_ = *sent;
  auto inflight =
      registry->AddGauge("tessera_s3_inflight_requests", "S3 requests being served.", {});
  if (!inflight.ok()) return inflight.status();
  m->inflight_ = &(*inflight)->WithLabels({});
  return m;
}

void S3Metrics::RequestDone(const std::string& operation, int http_status, absl::Duration latency,
                            uint64_t bytes_in, uint64_t bytes_out) {
  inflight_->Decrement();
  requests_->WithLabels({operation, absl::StrCat(http_status)}).Increment();
  latency_->WithLabels({operation}).Observe(absl::ToDoubleSeconds(latency));
  if (bytes_in > 0) received_->WithLabels({operation}).Increment(static_cast<double>(bytes_in));
  if (bytes_out > 0) sent_->WithLabels({operation}).Increment(static_cast<double>(bytes_out));
}

}  // namespace tessera::services::s3
