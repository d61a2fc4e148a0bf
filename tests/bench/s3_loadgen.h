// S3LoadClient: a minimal S3 client for load generation (tests/bench:s3_bench). One keep-alive
// HTTP/1.1 connection (Boost.Beast, blocking), requests signed with our SigV4 signer
// (services/s3/auth/sigv4.h, header form). PUT bodies are sent straight from the caller's buffer
// (no copy); GET bodies are read in 1 MiB pieces and dropped (or appended to `out`).
//
// Payload modes: UNSIGNED-PAYLOAD (default: what aws-cli / the SDKs use over HTTPS) or the
// signed body SHA-256 (x-amz-content-sha256 = hex SHA-256 of the body, computed by the client
// before sending; the server then hashes the body too).
//
// Thread-safety: one client per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tessera::bench {

struct S3LoadClientOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string access_key;
  std::string secret_key;
  std::string region = "us-east-1";
  bool signed_payload = false;
};

class S3LoadClient {
 public:
  static absl::StatusOr<std::unique_ptr<S3LoadClient>> Connect(S3LoadClientOptions options);
  ~S3LoadClient();

  // PUT /bucket. OK on 200.
  absl::Status CreateBucket(const std::string& bucket);
  // PUT /bucket/key with `data` as the body. OK on 200.
  absl::Status Put(const std::string& bucket, const std::string& key, absl::string_view data);
  // GET /bucket/key: the body's length; the bytes go to `out` if not null.
  absl::StatusOr<uint64_t> Get(const std::string& bucket, const std::string& key,
                               std::string* out = nullptr);

  class Impl;

 private:
  explicit S3LoadClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::bench
