// CallSignature: how a caller of the Gateway gRPC API (api/gateway.proto) proves who it is. Shared
// by the server's CallVerifier and the SDK; no gRPC types. See docs/design/security.md.
//
// Every call carries four metadata entries:
//   x-tessera-access-key   the caller's access key id (a CredentialStore access key, as in S3)
//   x-tessera-date         the signing time, decimal Unix seconds
//   x-tessera-nonce        32 lowercase hex digits (16 random bytes), fresh for every call
//   x-tessera-signature    64 lowercase hex digits:
//       HMAC-SHA256(signing_key, "TESSERA-GRPC-HMAC-SHA256-V1\n" access_key "\n" full_method
//                                "\n" date "\n" nonce)
//   where signing_key = HMAC-SHA256(secret_key, "TESSERA-GRPC-HMAC-SHA256-V1") and full_method is
//   the gRPC path, e.g. "/tessera.v1.Gateway/ListBuckets".
// The signature binds the call to one method, one instant and one nonce: the server refuses it
// for another method, outside its clock-skew window, or a second time (replay cache). It does not
// cover the messages: run the gateway with TLS where the network is not trusted.
//
// Thread-safety: pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tessera::sdk {

inline constexpr char kCallAccessKeyHeader[] = "x-tessera-access-key";
inline constexpr char kCallDateHeader[] = "x-tessera-date";
inline constexpr char kCallNonceHeader[] = "x-tessera-nonce";
inline constexpr char kCallSignatureHeader[] = "x-tessera-signature";
// Versions the scheme: a future scheme uses another string, so no signature carries over.
inline constexpr char kCallSignatureContext[] = "TESSERA-GRPC-HMAC-SHA256-V1";
// The gRPC service whose methods are signed.
inline constexpr char kGatewayServicePath[] = "/tessera.v1.Gateway/";

// The Gateway API version: every SDK call carries `x-tessera-api: <kGatewayApiVersion>`. It is
// raised when requests change in a way an older gateway would misread (a field it must not
// ignore). The gateway refuses a newer version before anything else (FAILED_PRECONDITION naming
// both versions); a call without the header is version 1 (clients from before it existed).
inline constexpr char kApiVersionHeader[] = "x-tessera-api";
inline constexpr uint32_t kGatewayApiVersion = 1;
// OK for a version up to kGatewayApiVersion or an empty `value` (no header); FAILED_PRECONDITION
// carrying kNewerFormat (base/status_reasons.h) for a newer one; INVALID_ARGUMENT if malformed.
[[nodiscard]] absl::Status CheckApiVersion(absl::string_view value);

// The four metadata values of one call (empty = absent).
struct CallSignature {
  std::string access_key;
  std::string date;
  std::string nonce;
  std::string signature;
};

// Signs one call of `full_method` at `now` with a fresh random nonce. INTERNAL only if the
// system's random generator fails.
[[nodiscard]] absl::StatusOr<CallSignature> SignCall(absl::string_view access_key,
                                                     absl::string_view secret_key,
                                                     absl::string_view full_method, absl::Time now);

// The lowercase hex signature over the given fields (what SignCall puts in `signature`).
[[nodiscard]] std::string CallSignatureHex(absl::string_view secret_key,
                                           absl::string_view access_key,
                                           absl::string_view full_method, absl::string_view date,
                                           absl::string_view nonce);

}  // namespace tessera::sdk
