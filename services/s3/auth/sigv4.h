// AWS Signature Version 4 for S3, server side: verifies the Authorization header form and
// presigned URLs, exactly as AWS documents them ("Authenticating Requests (AWS Signature Version
// 4)" in the S3 API reference), and hands the chunk-signing context to AwsChunkedDecoder for the
// STREAMING-* payload modes.
//
//   SigV4Verifier verifier(&credentials, Clock::Real(), {.region = "us-east-1"});
//   absl::StatusOr<AuthResult> auth = verifier.Verify(request);
//   if (!auth.ok()) -> S3 error from ErrorCodeOf(auth.status())
//
// Failures carry S3 codes (services/s3/errors): SignatureDoesNotMatch, InvalidAccessKeyId,
// RequestTimeTooSkewed (clock skew over 15 minutes), AccessDenied "Request has expired" (presign
// past X-Amz-Expires, as AWS answers), AuthorizationHeaderMalformed,
// AuthorizationQueryParametersError, InvalidRequest / InvalidArgument for bad
// x-amz-content-sha256. Signatures are compared in constant time (CRYPTO_memcmp). Secrets and
// signing keys never appear in messages.
//
// The canonicalisation helpers are public for tests, fuzzing and clients.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "services/s3/auth/credential_store.h"

namespace tessera::services::s3 {

inline constexpr absl::string_view kSigV4Algorithm = "AWS4-HMAC-SHA256";
inline constexpr absl::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
inline constexpr absl::string_view kStreamingSignedPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
inline constexpr absl::string_view kStreamingSignedPayloadTrailer =
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
inline constexpr absl::string_view kStreamingUnsignedPayloadTrailer =
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
inline constexpr absl::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
inline constexpr int64_t kMaxPresignExpirySeconds = 7 * 24 * 3600;  // 604800

// A request as the HTTP layer received it.
struct HttpRequest {
  std::string method;  // "GET", "PUT", ...
  std::string target;  // request-target as received: "/path%20x?query" (percent-encoded)
  std::vector<std::pair<std::string, std::string>> headers;  // names in any case, repeats kept
};

// --- Canonicalisation (S3 rules) ---------------------------------------------------------------

// UriEncode as AWS defines it: every byte except A-Z a-z 0-9 - . _ ~ becomes %XX (uppercase hex);
// '/' is kept when !encode_slash.
std::string UriEncode(absl::string_view s, bool encode_slash);
// Decodes %XX escapes (nothing else; '+' stays '+'). False on a malformed escape.
[[nodiscard]] bool PercentDecode(absl::string_view s, std::string* out);
// The canonical URI of a raw (as received) path: decoded once, each segment UriEncoded, slashes
// kept, no dot-segment removal (S3 does not normalise). "" -> "/".
[[nodiscard]] absl::StatusOr<std::string> CanonicalUri(absl::string_view raw_path);
// The canonical query string of a raw query: parameters decoded, UriEncoded (slash too), sorted
// by encoded name then value, "name=" for empty values; X-Amz-Signature dropped if
// `drop_signature`.
[[nodiscard]] absl::StatusOr<std::string> CanonicalQueryString(absl::string_view raw_query,
                                                               bool drop_signature);
// "name:value\n" for each of `signed_headers` (lowercase names, in the given order): values of
// repeated headers joined with ',', each trimmed and with runs of spaces collapsed to one.
std::string CanonicalHeaders(const std::vector<std::pair<std::string, std::string>>& headers,
                             const std::vector<std::string>& signed_headers);
std::string StringToSign(absl::string_view amz_date, absl::string_view scope,
                         absl::string_view canonical_request);

// --- Crypto -------------------------------------------------------------------------------------

std::string HmacSha256(absl::string_view key, absl::string_view data);  // raw 32 bytes
std::string Sha256Hex(absl::string_view data);                          // lowercase hex
// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
std::string DeriveSigningKey(absl::string_view secret, absl::string_view date,
                             absl::string_view region, absl::string_view service);
// Lowercase hex HMAC-SHA256(signing_key, string_to_sign).
std::string SignatureHex(absl::string_view signing_key, absl::string_view string_to_sign);
// Constant-time equality of two strings (length is not secret).
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

// --- Parsed pieces ------------------------------------------------------------------------------

struct CredentialScope {
  std::string access_key;
  std::string date;  // YYYYMMDD
  std::string region;
  std::string service;        // "s3"
  std::string Scope() const;  // "date/region/service/aws4_request"
};

struct ParsedAuthorization {
  CredentialScope credential;
  std::vector<std::string> signed_headers;
  std::string signature;  // as sent
};

// Parses "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,
// SignedHeaders=host;x-amz-date,Signature=<64 hex>" (spaces after commas optional).
// AuthorizationHeaderMalformed on any deviation.
[[nodiscard]] absl::StatusOr<ParsedAuthorization> ParseAuthorizationHeader(absl::string_view value);
// Parses "AK/20130524/us-east-1/s3/aws4_request".
[[nodiscard]] absl::StatusOr<CredentialScope> ParseCredential(absl::string_view value);
// Parses "20130524T000000Z". InvalidArgument otherwise.
[[nodiscard]] absl::StatusOr<absl::Time> ParseAmzDate(absl::string_view value);
std::string FormatAmzDate(absl::Time t);  // "20130524T000000Z"

// --- Verification -------------------------------------------------------------------------------

enum class PayloadMode {
  kSignedPayload,             // x-amz-content-sha256 is the hex SHA-256 of the body
  kUnsignedPayload,           // UNSIGNED-PAYLOAD (and every presigned URL without a hash)
  kStreamingSigned,           // STREAMING-AWS4-HMAC-SHA256-PAYLOAD
  kStreamingSignedTrailer,    // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
  kStreamingUnsignedTrailer,  // STREAMING-UNSIGNED-PAYLOAD-TRAILER
};

// Parses an x-amz-content-sha256 value. InvalidArgument (S3 code) for anything else.
[[nodiscard]] absl::StatusOr<PayloadMode> ParsePayloadMode(absl::string_view value);

// What the chunk decoder needs to verify a chain of chunk signatures.
struct ChunkSigningContext {
  std::string signing_key;     // derived key (secret-equivalent for one day/region: keep close)
  std::string amz_date;        // "20130524T000000Z"
  std::string scope;           // "20130524/us-east-1/s3/aws4_request"
  std::string seed_signature;  // the request's (header) signature, lowercase hex
};

struct AuthResult {
  std::string access_key;
  std::string user_id;
  bool anonymous = false;
  bool presigned = false;
  PayloadMode payload_mode = PayloadMode::kUnsignedPayload;
  std::string payload_sha256_hex;     // kSignedPayload: the body must hash to this
  ChunkSigningContext chunk_context;  // streaming modes
  absl::Time request_time;
};

struct VerifierOptions {
  // The only region accepted in credential scopes; empty accepts any.
  std::string region = "us-east-1";
  std::string service = "s3";
  absl::Duration max_skew = absl::Minutes(15);
  // Requests with neither an Authorization header nor X-Amz-Algorithm: anonymous AuthResult if
  // true, else AccessDenied.
  bool allow_anonymous = false;
  [[nodiscard]] absl::Status Validate() const;
};

class SigV4Verifier {
 public:
  // `credentials` and `clock` must outlive the verifier.
  SigV4Verifier(const CredentialStore* credentials, Clock* clock, VerifierOptions options = {});

  // Verifies the request's signature (header or presigned form). Thread-safe.
  // `virtual_hosted_bucket`: the bucket the Host header names in a virtual-hosted-style request
  // (bucket.s3.example.com) as the router resolves it, "" for path-style. SigV2 does not sign
  // Host, so its resource string carries this bucket (as AWS builds it): otherwise one
  // signature would be valid for the same key in every bucket.
  [[nodiscard]] absl::StatusOr<AuthResult> Verify(
      const HttpRequest& request, absl::string_view virtual_hosted_bucket = "") const;

 private:
  absl::StatusOr<AuthResult> VerifyHeader(const HttpRequest& request, absl::string_view path,
                                          absl::string_view query,
                                          absl::string_view authorization) const;
  absl::StatusOr<AuthResult> VerifyPresigned(const HttpRequest& request, absl::string_view path,
                                             absl::string_view query) const;
  absl::Status CheckScope(const CredentialScope& scope, absl::string_view amz_date) const;
  // Signature Version 2 (legacy; older SDKs still presign with it): "Authorization: AWS
  // AKID:signature" and ?AWSAccessKeyId=&Expires=&Signature=. The payload is never signed
  // (kUnsignedPayload).
  absl::StatusOr<AuthResult> VerifyV2(const HttpRequest& request, absl::string_view bucket_in_host,
                                      absl::string_view path, absl::string_view query,
                                      absl::string_view access_key, absl::string_view signature,
                                      absl::string_view date, bool presigned) const;

  const CredentialStore* credentials_;
  Clock* clock_;
  VerifierOptions options_;
};

// --- Client side (tests, tools) -----------------------------------------------------------------

// The Authorization header value for `request` signed with `secret` at `amz_date` for
// `signed_headers` (lowercase, sorted). The request must already carry those headers (host,
// x-amz-date, x-amz-content-sha256 ...). `payload_hash` is the x-amz-content-sha256 value.
[[nodiscard]] absl::StatusOr<std::string> SignAuthorizationHeader(
    const HttpRequest& request, absl::string_view access_key, absl::string_view secret,
    absl::string_view region, absl::string_view amz_date,
    const std::vector<std::string>& signed_headers, absl::string_view payload_hash);

}  // namespace tessera::services::s3
