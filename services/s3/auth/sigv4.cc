#include "services/s3/auth/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "services/s3/errors/errors.h"
#include "services/s3/request/headers.h"

namespace tessera::services::s3 {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

bool IsUnreserved(unsigned char c) {
  return absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsLowerHex(absl::string_view s, size_t size) {
  if (s.size() != size) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Trims and collapses runs of spaces/tabs to a single space.
std::string NormalizeHeaderValue(absl::string_view v) {
  v = absl::StripAsciiWhitespace(v);
  std::string out;
  out.reserve(v.size());
  bool in_space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      if (!in_space) out.push_back(' ');
      in_space = true;
    } else {
      out.push_back(c);
      in_space = false;
    }
  }
  return out;
}

absl::Status Malformed(absl::string_view what) {
  return S3Status(S3ErrorCode::kAuthorizationHeaderMalformed,
                  absl::StrCat("The authorization header is malformed; ", what));
}

absl::Status QueryError(absl::string_view what) {
  return S3Status(S3ErrorCode::kAuthorizationQueryParametersError, what);
}

// Decoded query parameters in order of appearance.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQuery(absl::string_view raw) {
  std::vector<std::pair<std::string, std::string>> out;
  if (raw.empty()) return out;
  for (absl::string_view part : absl::StrSplit(raw, '&')) {
    if (part.empty()) continue;
    size_t eq = part.find('=');
    absl::string_view name = part.substr(0, eq);
    absl::string_view value = eq == absl::string_view::npos ? "" : part.substr(eq + 1);
    std::string n, v;
    if (!PercentDecode(name, &n) || !PercentDecode(value, &v)) {
      return S3Status(S3ErrorCode::kInvalidArgument, "malformed percent-encoding in query");
    }
    out.emplace_back(std::move(n), std::move(v));
  }
  return out;
}

const std::string* FindParam(const std::vector<std::pair<std::string, std::string>>& params,
                             absl::string_view name) {
  for (const auto& [k, v] : params) {
    if (k == name) return &v;
  }
  return nullptr;
}

void SplitTarget(absl::string_view target, absl::string_view* path, absl::string_view* query) {
  size_t q = target.find('?');
  *path = target.substr(0, q);
  *query = q == absl::string_view::npos ? "" : target.substr(q + 1);
}

std::string BuildCanonicalRequest(absl::string_view method, absl::string_view canonical_uri,
                                  absl::string_view canonical_query,
                                  absl::string_view canonical_headers,
                                  const std::vector<std::string>& signed_headers,
                                  absl::string_view payload_hash) {
  return absl::StrCat(method, "\n", canonical_uri, "\n", canonical_query, "\n", canonical_headers,
                      "\n", absl::StrJoin(signed_headers, ";"), "\n", payload_hash);
}

absl::StatusOr<std::vector<std::string>> ParseSignedHeaders(absl::string_view value) {
  std::vector<std::string> out;
  if (value.empty()) return out;
  for (absl::string_view h : absl::StrSplit(value, ';')) {
    if (h.empty()) return absl::InvalidArgumentError("empty name in SignedHeaders");
    for (char c : h) {
      if (absl::ascii_isupper(static_cast<unsigned char>(c)) || c <= ' ' || c > '~' || c == ':') {
        return absl::InvalidArgumentError("SignedHeaders must be lowercase header names");
      }
    }
    out.emplace_back(h);
  }
  return out;
}

bool Contains(const std::vector<std::string>& v, absl::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// AWS refuses a SigV4 request (header or presigned) that carries an x-amz-* header the
// signature does not cover: the router and handlers act on such headers (x-amz-copy-source turns
// a PUT into a copy, x-amz-acl sets permissions), so an unsigned one could be added by anybody
// who holds a presigned URL or sits on the path.
absl::Status CheckAmzHeadersSigned(const HttpRequest& request,
                                   const std::vector<std::string>& signed_headers) {
  for (const auto& [name, value] : request.headers) {
    const std::string lower = absl::AsciiStrToLower(name);
    if (absl::StartsWith(lower, "x-amz-") && !Contains(signed_headers, lower)) {
      return S3Status(S3ErrorCode::kAccessDenied,
                      absl::StrCat("There were headers present in the request which were not "
                                   "signed: ",
                                   lower));
    }
  }
  return absl::OkStatus();
}

}  // namespace

// --- Canonicalisation ---------------------------------------------------------------------------

std::string UriEncode(absl::string_view s, bool encode_slash) {
  std::string out;
  out.reserve(s.size() * 3 / 2);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c) || (c == '/' && !encode_slash)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

bool PercentDecode(absl::string_view s, std::string* out) {
  out->clear();
  out->reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out->push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return false;
    int hi = HexValue(s[i + 1]);
    int lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

absl::StatusOr<std::string> CanonicalUri(absl::string_view raw_path) {
  if (raw_path.empty()) return std::string("/");
  std::string decoded;
  if (!PercentDecode(raw_path, &decoded)) {
    return S3Status(S3ErrorCode::kInvalidArgument, "malformed percent-encoding in path");
  }
  return UriEncode(decoded, /*encode_slash=*/false);
}

absl::StatusOr<std::string> CanonicalQueryString(absl::string_view raw_query, bool drop_signature) {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> params = ParseQuery(raw_query);
  if (!params.ok()) return params.status();
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(params->size());
  for (const auto& [k, v] : *params) {
    if (drop_signature && k == "X-Amz-Signature") continue;
    encoded.emplace_back(UriEncode(k, true), UriEncode(v, true));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [k, v] : encoded) {
    if (!out.empty()) out.push_back('&');
    absl::StrAppend(&out, k, "=", v);
  }
  return out;
}

std::string CanonicalHeaders(const std::vector<std::pair<std::string, std::string>>& headers,
                             const std::vector<std::string>& signed_headers) {
  std::string out;
  for (const std::string& name : signed_headers) {
    std::string joined;
    bool first = true;
    for (const auto& [k, v] : headers) {
      if (!absl::EqualsIgnoreCase(k, name)) continue;
      if (!first) joined.push_back(',');
      joined += NormalizeHeaderValue(v);
      first = false;
    }
    absl::StrAppend(&out, name, ":", joined, "\n");
  }
  return out;
}

std::string StringToSign(absl::string_view amz_date, absl::string_view scope,
                         absl::string_view canonical_request) {
  return absl::StrCat(kSigV4Algorithm, "\n", amz_date, "\n", scope, "\n",
                      Sha256Hex(canonical_request));
}

// --- Crypto -------------------------------------------------------------------------------------

std::string HmacSha256(absl::string_view key, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  std::string result(reinterpret_cast<char*>(out), len);
  OPENSSL_cleanse(out, sizeof(out));
  return result;
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(out), len));
}

std::string DeriveSigningKey(absl::string_view secret, absl::string_view date,
                             absl::string_view region, absl::string_view service) {
  std::string k_secret = absl::StrCat("AWS4", secret);
  std::string k_date = HmacSha256(k_secret, date);
  OPENSSL_cleanse(k_secret.data(), k_secret.size());
  std::string k_region = HmacSha256(k_date, region);
  std::string k_service = HmacSha256(k_region, service);
  std::string k_signing = HmacSha256(k_service, "aws4_request");
  OPENSSL_cleanse(k_date.data(), k_date.size());
  OPENSSL_cleanse(k_region.data(), k_region.size());
  OPENSSL_cleanse(k_service.data(), k_service.size());
  return k_signing;
}

std::string SignatureHex(absl::string_view signing_key, absl::string_view string_to_sign) {
  return absl::BytesToHexString(HmacSha256(signing_key, string_to_sign));
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// --- Parsing ------------------------------------------------------------------------------------

std::string CredentialScope::Scope() const {
  return absl::StrCat(date, "/", region, "/", service, "/aws4_request");
}

absl::StatusOr<CredentialScope> ParseCredential(absl::string_view value) {
  std::vector<absl::string_view> parts = absl::StrSplit(value, '/');
  if (parts.size() != 5 || parts[0].empty() || parts[2].empty() || parts[3].empty()) {
    return absl::InvalidArgumentError(
        "Credential must have the form <key>/<YYYYMMDD>/<region>/<service>/aws4_request");
  }
  if (parts[4] != "aws4_request") {
    return absl::InvalidArgumentError("Credential scope must end in aws4_request");
  }
  if (parts[1].size() != 8 || !std::all_of(parts[1].begin(), parts[1].end(), [](char c) {
        return absl::ascii_isdigit(static_cast<unsigned char>(c));
      })) {
    return absl::InvalidArgumentError("Credential date must be YYYYMMDD");
  }
  return CredentialScope{std::string(parts[0]), std::string(parts[1]), std::string(parts[2]),
                         std::string(parts[3])};
}

absl::StatusOr<ParsedAuthorization> ParseAuthorizationHeader(absl::string_view value) {
  if (!absl::ConsumePrefix(&value, kSigV4Algorithm) || value.empty() || value[0] != ' ') {
    return Malformed("unsupported algorithm (expected AWS4-HMAC-SHA256)");
  }
  ParsedAuthorization out;
  bool have_credential = false, have_signed = false, have_signature = false;
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    part = absl::StripAsciiWhitespace(part);
    size_t eq = part.find('=');
    if (eq == absl::string_view::npos) return Malformed("expected key=value components");
    absl::string_view key = part.substr(0, eq);
    absl::string_view v = part.substr(eq + 1);
    if (key == "Credential" && !have_credential) {
      absl::StatusOr<CredentialScope> c = ParseCredential(v);
      if (!c.ok()) return Malformed(c.status().message());
      out.credential = *std::move(c);
      have_credential = true;
    } else if (key == "SignedHeaders" && !have_signed) {
      absl::StatusOr<std::vector<std::string>> h = ParseSignedHeaders(v);
      if (!h.ok()) return Malformed(h.status().message());
      out.signed_headers = *std::move(h);
      have_signed = true;
    } else if (key == "Signature" && !have_signature) {
      out.signature = std::string(v);
      have_signature = true;
    } else {
      return Malformed(absl::StrCat("unexpected or repeated component '", key, "'"));
    }
  }
  if (!have_credential || !have_signed || !have_signature) {
    return Malformed("Credential, SignedHeaders and Signature are all required");
  }
  return out;
}

absl::StatusOr<absl::Time> ParseAmzDate(absl::string_view value) {
  if (value.size() != 16 || value[8] != 'T' || value[15] != 'Z') {
    return absl::InvalidArgumentError("date must be YYYYMMDDTHHMMSSZ");
  }
  for (size_t i = 0; i < 15; ++i) {
    if (i != 8 && !absl::ascii_isdigit(static_cast<unsigned char>(value[i]))) {
      return absl::InvalidArgumentError("date must be YYYYMMDDTHHMMSSZ");
    }
  }
  auto num = [&](size_t pos, size_t len) {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) v = v * 10 + (value[i] - '0');
    return v;
  };
  int y = num(0, 4), mo = num(4, 2), d = num(6, 2), h = num(9, 2), mi = num(11, 2),
      sec = num(13, 2);
  absl::CivilSecond cs(y, mo, d, h, mi, sec);
  // CivilSecond normalises out-of-range fields; a round trip catches them.
  if (cs.year() != y || cs.month() != mo || cs.day() != d || cs.hour() != h || cs.minute() != mi ||
      cs.second() != sec) {
    return absl::InvalidArgumentError("invalid date");
  }
  return absl::FromCivil(cs, absl::UTCTimeZone());
}

std::string FormatAmzDate(absl::Time t) {
  return absl::FormatTime("%Y%m%dT%H%M%SZ", t, absl::UTCTimeZone());
}

absl::StatusOr<PayloadMode> ParsePayloadMode(absl::string_view value) {
  if (value == kUnsignedPayload) return PayloadMode::kUnsignedPayload;
  if (value == kStreamingSignedPayload) return PayloadMode::kStreamingSigned;
  if (value == kStreamingSignedPayloadTrailer) return PayloadMode::kStreamingSignedTrailer;
  if (value == kStreamingUnsignedPayloadTrailer) return PayloadMode::kStreamingUnsignedTrailer;
  if (IsLowerHex(value, 64)) return PayloadMode::kSignedPayload;
  return S3Status(S3ErrorCode::kInvalidArgument,
                  "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-"
                  "PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-UNSIGNED-"
                  "PAYLOAD-TRAILER or a valid sha256 value.");
}

// --- Verifier -----------------------------------------------------------------------------------

absl::Status VerifierOptions::Validate() const {
  if (service.empty()) return absl::InvalidArgumentError("service must not be empty");
  if (max_skew < absl::ZeroDuration()) return absl::InvalidArgumentError("max_skew < 0");
  return absl::OkStatus();
}

SigV4Verifier::SigV4Verifier(const CredentialStore* credentials, Clock* clock,
                             VerifierOptions options)
    : credentials_(credentials), clock_(clock), options_(std::move(options)) {}

absl::Status SigV4Verifier::CheckScope(const CredentialScope& scope,
                                       absl::string_view amz_date) const {
  if (scope.date != amz_date.substr(0, 8)) {
    return Malformed("the credential date does not match the request date");
  }
  if (!options_.region.empty() && scope.region != options_.region) {
    return Malformed(absl::StrCat("the region '", scope.region, "' is wrong; expecting '",
                                  options_.region, "'"));
  }
  if (scope.service != options_.service) {
    return Malformed(absl::StrCat("incorrect service '", scope.service, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<AuthResult> SigV4Verifier::Verify(const HttpRequest& request,
                                                 absl::string_view virtual_hosted_bucket) const {
  absl::string_view path, query;
  SplitTarget(request.target, &path, &query);
  const std::string* authorization = FindHeader(request.headers, "authorization");
  // An empty Authorization header carries no credentials: the request is anonymous.
  if (authorization != nullptr && absl::StripAsciiWhitespace(*authorization).empty()) {
    authorization = nullptr;
  }
  bool presigned =
      absl::StrContains(query, "X-Amz-Algorithm=") || absl::StrContains(query, "X-Amz-Signature=");
  if (authorization != nullptr && presigned) {
    return S3Status(S3ErrorCode::kInvalidArgument, "Only one auth mechanism allowed");
  }
  if (authorization != nullptr && absl::StartsWith(*authorization, "AWS ")) {
    // SigV2: "AWS AKID:signature". The date is Date, or "" when x-amz-date is sent (it is then
    // among the signed x-amz-* headers).
    absl::string_view v = absl::string_view(*authorization).substr(4);
    const size_t colon = v.rfind(':');
    if (colon == absl::string_view::npos || colon == 0) {
      return Malformed("the SigV2 Authorization header must be AWS AccessKeyId:Signature");
    }
    const std::string* xd = FindHeader(request.headers, "x-amz-date");
    const std::string* d = FindHeader(request.headers, "date");
    if (xd == nullptr && d == nullptr) {
      return S3Status(S3ErrorCode::kAccessDenied,
                      "AWS authentication requires a valid Date or x-amz-date header");
    }
    return VerifyV2(request, virtual_hosted_bucket, path, query, v.substr(0, colon),
                    v.substr(colon + 1), xd != nullptr ? "" : absl::string_view(*d), false);
  }
  if (authorization != nullptr) return VerifyHeader(request, path, query, *authorization);
  if (presigned) return VerifyPresigned(request, path, query);
  if (absl::StrContains(query, "AWSAccessKeyId=") && absl::StrContains(query, "Signature=")) {
    absl::StatusOr<std::vector<std::pair<std::string, std::string>>> params = ParseQuery(query);
    if (!params.ok()) return params.status();
    const std::string* key = FindParam(*params, "AWSAccessKeyId");
    const std::string* sig = FindParam(*params, "Signature");
    const std::string* expires = FindParam(*params, "Expires");
    if (key == nullptr || sig == nullptr || expires == nullptr) {
      return QueryError(
          "Query-string authentication requires the Signature, Expires and "
          "AWSAccessKeyId parameters");
    }
    return VerifyV2(request, virtual_hosted_bucket, path, query, *key, *sig, *expires, true);
  }
  if (options_.allow_anonymous) {
    AuthResult anon;
    anon.anonymous = true;
    return anon;
  }
  return S3Status(S3ErrorCode::kAccessDenied, "Anonymous requests are not allowed");
}

absl::StatusOr<AuthResult> SigV4Verifier::VerifyHeader(const HttpRequest& request,
                                                       absl::string_view path,
                                                       absl::string_view query,
                                                       absl::string_view authorization) const {
  absl::StatusOr<ParsedAuthorization> auth = ParseAuthorizationHeader(authorization);
  if (!auth.ok()) return auth.status();
  if (!Contains(auth->signed_headers, "host")) {
    return Malformed("the host header must be signed");
  }
  if (absl::Status s = CheckAmzHeadersSigned(request, auth->signed_headers); !s.ok()) return s;
  // Request time: x-amz-date, else Date (RFC 7231 IMF-fixdate).
  absl::Time t;
  std::string amz_date;
  if (const std::string* xd = FindHeader(request.headers, "x-amz-date")) {
    absl::StatusOr<absl::Time> parsed = ParseAmzDate(*xd);
    if (!parsed.ok()) {
      return S3Status(S3ErrorCode::kAccessDenied,
                      "AWS authentication requires a valid Date "
                      "or x-amz-date header");
    }
    t = *parsed;
    amz_date = *xd;
  } else if (const std::string* d = FindHeader(request.headers, "date")) {
    std::string err;
    if (!absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", *d, absl::UTCTimeZone(), &t, &err)) {
      return S3Status(S3ErrorCode::kAccessDenied,
                      "AWS authentication requires a valid Date "
                      "or x-amz-date header");
    }
    amz_date = FormatAmzDate(t);
  } else {
    return S3Status(S3ErrorCode::kAccessDenied,
                    "AWS authentication requires a valid Date or x-amz-date header");
  }
  // The clock skew first (as AWS: a request from the wrong day is RequestTimeTooSkewed, not a
  // scope error), then the credential scope.
  absl::Duration skew = clock_->Now() - t;
  if (skew > options_.max_skew || -skew > options_.max_skew) {
    return S3Status(S3ErrorCode::kRequestTimeTooSkewed);
  }
  if (absl::Status s = CheckScope(auth->credential, amz_date); !s.ok()) return s;
  const std::string* content_sha = FindHeader(request.headers, "x-amz-content-sha256");
  if (content_sha == nullptr) {
    return S3Status(S3ErrorCode::kInvalidRequest,
                    "Missing required header for this request: x-amz-content-sha256");
  }
  absl::StatusOr<PayloadMode> mode = ParsePayloadMode(*content_sha);
  if (!mode.ok()) return mode.status();

  absl::StatusOr<Credential> cred = credentials_->Lookup(auth->credential.access_key);
  if (!cred.ok()) return cred.status();

  absl::StatusOr<std::string> uri = CanonicalUri(path);
  if (!uri.ok()) return uri.status();
  absl::StatusOr<std::string> canonical_query = CanonicalQueryString(query, false);
  if (!canonical_query.ok()) return canonical_query.status();
  std::string canonical_request = BuildCanonicalRequest(
      request.method, *uri, *canonical_query,
      CanonicalHeaders(request.headers, auth->signed_headers), auth->signed_headers, *content_sha);
  std::string scope = auth->credential.Scope();
  std::string signing_key = DeriveSigningKey(cred->secret_key, auth->credential.date,
                                             auth->credential.region, auth->credential.service);
  std::string expected =
      SignatureHex(signing_key, StringToSign(amz_date, scope, canonical_request));
  if (!ConstantTimeEquals(expected, auth->signature)) {
    OPENSSL_cleanse(signing_key.data(), signing_key.size());
    return S3Status(S3ErrorCode::kSignatureDoesNotMatch);
  }
  AuthResult result;
  result.access_key = cred->access_key;
  result.user_id = cred->user_id;
  result.payload_mode = *mode;
  result.request_time = t;
  if (*mode == PayloadMode::kSignedPayload) result.payload_sha256_hex = *content_sha;
  if (*mode == PayloadMode::kStreamingSigned || *mode == PayloadMode::kStreamingSignedTrailer) {
    result.chunk_context = {std::move(signing_key), amz_date, scope, expected};
  } else {
    OPENSSL_cleanse(signing_key.data(), signing_key.size());
  }
  return result;
}

absl::StatusOr<AuthResult> SigV4Verifier::VerifyV2(const HttpRequest& request,
                                                   absl::string_view bucket_in_host,
                                                   absl::string_view path, absl::string_view query,
                                                   absl::string_view access_key,
                                                   absl::string_view signature,
                                                   absl::string_view date, bool presigned) const {
  const absl::Time now = clock_->Now();
  absl::Time t = now;
  if (presigned) {
    int64_t expires = 0;
    if (!absl::SimpleAtoi(date, &expires)) return QueryError("Invalid Expires parameter");
    if (now > absl::FromUnixSeconds(expires)) {
      return S3Status(S3ErrorCode::kAccessDenied, "Request has expired");
    }
  } else {
    const std::string* xd = FindHeader(request.headers, "x-amz-date");
    const std::string& when = xd != nullptr ? *xd : *FindHeader(request.headers, "date");
    std::string err;
    if (!absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", when, absl::UTCTimeZone(), &t, &err) &&
        !absl::ParseTime("%a, %d %b %Y %H:%M:%S +0000", when, absl::UTCTimeZone(), &t, &err)) {
      absl::StatusOr<absl::Time> amz = ParseAmzDate(when);
      if (!amz.ok()) {
        return S3Status(S3ErrorCode::kAccessDenied,
                        "AWS authentication requires a valid Date or x-amz-date header");
      }
      t = *amz;
    }
    if (now - t > options_.max_skew || t - now > options_.max_skew) {
      return S3Status(S3ErrorCode::kRequestTimeTooSkewed);
    }
  }
  absl::StatusOr<Credential> cred = credentials_->Lookup(access_key);
  if (!cred.ok()) return cred.status();
  // StringToSign = VERB \n Content-MD5 \n Content-Type \n Date|Expires \n
  //                CanonicalizedAmzHeaders CanonicalizedResource
  auto header = [&](absl::string_view name) {
    const std::string* v = FindHeader(request.headers, name);
    return v != nullptr ? std::string(absl::StripAsciiWhitespace(*v)) : std::string();
  };
  std::map<std::string, std::string> amz;
  for (const auto& [k, v] : request.headers) {
    std::string name = absl::AsciiStrToLower(k);
    if (!absl::StartsWith(name, "x-amz-")) continue;
    std::string value(absl::StripAsciiWhitespace(v));
    auto [it, inserted] = amz.emplace(name, value);
    if (!inserted) absl::StrAppend(&it->second, ",", value);
  }
  std::string to_sign = absl::StrCat(request.method, "\n", header("content-md5"), "\n",
                                     header("content-type"), "\n", date, "\n");
  for (const auto& [k, v] : amz) absl::StrAppend(&to_sign, k, ":", v, "\n");
  // The resource is "/bucket/key"; a bucket alone is "/bucket/" (with the slash) however sent.
  // A virtual-hosted request names its bucket in Host, which SigV2 does not sign: the bucket
  // goes into the resource (as AWS builds it), so the signature covers it.
  std::string resource(path.empty() ? "/" : path);
  if (!bucket_in_host.empty()) resource = absl::StrCat("/", bucket_in_host, resource);
  absl::StrAppend(&to_sign, resource);
  if (resource.size() > 1 && resource.find('/', 1) == std::string::npos) {
    absl::StrAppend(&to_sign, "/");
  }
  // Sub-resources and response overrides that are part of the resource, sorted, decoded.
  static constexpr absl::string_view kSubresources[] = {"acl",
                                                        "cors",
                                                        "delete",
                                                        "lifecycle",
                                                        "location",
                                                        "logging",
                                                        "notification",
                                                        "partNumber",
                                                        "policy",
                                                        "requestPayment",
                                                        "response-cache-control",
                                                        "response-content-disposition",
                                                        "response-content-encoding",
                                                        "response-content-language",
                                                        "response-content-type",
                                                        "response-expires",
                                                        "restore",
                                                        "tagging",
                                                        "torrent",
                                                        "uploadId",
                                                        "uploads",
                                                        "versionId",
                                                        "versioning",
                                                        "versions",
                                                        "website"};
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> params = ParseQuery(query);
  if (!params.ok()) return params.status();
  std::vector<std::pair<std::string, std::string>> sub;
  for (const auto& [k, v] : *params) {
    for (absl::string_view s : kSubresources) {
      if (k == s) sub.emplace_back(k, v);
    }
  }
  std::sort(sub.begin(), sub.end());
  for (size_t i = 0; i < sub.size(); ++i) {
    absl::StrAppend(&to_sign, i == 0 ? "?" : "&", sub[i].first);
    const bool has_value = absl::StrContains(query, absl::StrCat(sub[i].first, "="));
    if (has_value) absl::StrAppend(&to_sign, "=", sub[i].second);
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha1(), cred->secret_key.data(), static_cast<int>(cred->secret_key.size()),
       reinterpret_cast<const unsigned char*>(to_sign.data()), to_sign.size(), mac, &mac_len);
  const std::string expected =
      absl::Base64Escape(absl::string_view(reinterpret_cast<const char*>(mac), mac_len));
  OPENSSL_cleanse(mac, sizeof(mac));
  if (!ConstantTimeEquals(expected, signature)) {
    return S3Status(S3ErrorCode::kSignatureDoesNotMatch);
  }
  AuthResult result;
  result.access_key = cred->access_key;
  result.user_id = cred->user_id;
  result.presigned = presigned;
  result.payload_mode = PayloadMode::kUnsignedPayload;
  result.request_time = t;
  return result;
}

absl::StatusOr<AuthResult> SigV4Verifier::VerifyPresigned(const HttpRequest& request,
                                                          absl::string_view path,
                                                          absl::string_view query) const {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> params = ParseQuery(query);
  if (!params.ok()) return params.status();
  const std::string* algorithm = FindParam(*params, "X-Amz-Algorithm");
  const std::string* credential = FindParam(*params, "X-Amz-Credential");
  const std::string* date = FindParam(*params, "X-Amz-Date");
  const std::string* expires = FindParam(*params, "X-Amz-Expires");
  const std::string* signed_headers = FindParam(*params, "X-Amz-SignedHeaders");
  const std::string* signature = FindParam(*params, "X-Amz-Signature");
  if (algorithm == nullptr || credential == nullptr || date == nullptr || expires == nullptr ||
      signed_headers == nullptr || signature == nullptr) {
    return QueryError(
        "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
        "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.");
  }
  if (*algorithm != kSigV4Algorithm) {
    return QueryError("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
  }
  absl::StatusOr<CredentialScope> scope = ParseCredential(*credential);
  if (!scope.ok()) return QueryError("Error parsing the X-Amz-Credential parameter");
  absl::StatusOr<absl::Time> t = ParseAmzDate(*date);
  if (!t.ok())
    return QueryError("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
  int64_t expires_s = 0;
  if (!absl::SimpleAtoi(*expires, &expires_s) || expires_s < 0 ||
      !std::all_of(expires->begin(), expires->end(),
                   [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); })) {
    return QueryError("X-Amz-Expires should be a number");
  }
  if (expires_s > kMaxPresignExpirySeconds) {
    return QueryError(
        "X-Amz-Expires must be less than a week (in seconds) that is; 604800 seconds");
  }
  absl::StatusOr<std::vector<std::string>> headers = ParseSignedHeaders(*signed_headers);
  if (!headers.ok()) return QueryError(headers.status().message());
  if (!Contains(*headers, "host")) return QueryError("the host header must be signed");
  if (absl::Status s = CheckAmzHeadersSigned(request, *headers); !s.ok()) return s;
  if (absl::Status s = CheckScope(*scope, *date); !s.ok()) {
    return QueryError(s.message());
  }
  absl::Time now = clock_->Now();
  if (*t - now > options_.max_skew) {
    return S3Status(S3ErrorCode::kRequestTimeTooSkewed);
  }
  if (now > *t + absl::Seconds(expires_s)) {
    return S3Status(S3ErrorCode::kAccessDenied, "Request has expired");
  }
  absl::StatusOr<Credential> cred = credentials_->Lookup(scope->access_key);
  if (!cred.ok()) return cred.status();

  std::string payload_hash(kUnsignedPayload);
  if (const std::string* p = FindParam(*params, "X-Amz-Content-Sha256")) payload_hash = *p;
  absl::StatusOr<PayloadMode> mode = ParsePayloadMode(payload_hash);
  if (!mode.ok()) return mode.status();
  if (*mode != PayloadMode::kUnsignedPayload && *mode != PayloadMode::kSignedPayload) {
    return QueryError("streaming payloads cannot be presigned");
  }
  absl::StatusOr<std::string> uri = CanonicalUri(path);
  if (!uri.ok()) return uri.status();
  absl::StatusOr<std::string> canonical_query = CanonicalQueryString(query, true);
  if (!canonical_query.ok()) return canonical_query.status();
  std::string canonical_request =
      BuildCanonicalRequest(request.method, *uri, *canonical_query,
                            CanonicalHeaders(request.headers, *headers), *headers, payload_hash);
  std::string signing_key =
      DeriveSigningKey(cred->secret_key, scope->date, scope->region, scope->service);
  std::string expected =
      SignatureHex(signing_key, StringToSign(*date, scope->Scope(), canonical_request));
  OPENSSL_cleanse(signing_key.data(), signing_key.size());
  if (!ConstantTimeEquals(expected, *signature)) {
    return S3Status(S3ErrorCode::kSignatureDoesNotMatch);
  }
  AuthResult result;
  result.access_key = cred->access_key;
  result.user_id = cred->user_id;
  result.presigned = true;
  result.payload_mode = *mode;
  result.request_time = *t;
  if (*mode == PayloadMode::kSignedPayload) result.payload_sha256_hex = payload_hash;
  return result;
}

absl::StatusOr<std::string> SignAuthorizationHeader(
    const HttpRequest& request, absl::string_view access_key, absl::string_view secret,
    absl::string_view region, absl::string_view amz_date,
    const std::vector<std::string>& signed_headers, absl::string_view payload_hash) {
  absl::string_view path, query;
  SplitTarget(request.target, &path, &query);
  absl::StatusOr<std::string> uri = CanonicalUri(path);
  if (!uri.ok()) return uri.status();
  absl::StatusOr<std::string> canonical_query = CanonicalQueryString(query, false);
  if (!canonical_query.ok()) return canonical_query.status();
  CredentialScope scope{std::string(access_key), std::string(amz_date.substr(0, 8)),
                        std::string(region), "s3"};
  std::string canonical_request = BuildCanonicalRequest(
      request.method, *uri, *canonical_query, CanonicalHeaders(request.headers, signed_headers),
      signed_headers, payload_hash);
  std::string key = DeriveSigningKey(secret, scope.date, scope.region, scope.service);
  std::string signature =
      SignatureHex(key, StringToSign(amz_date, scope.Scope(), canonical_request));
  OPENSSL_cleanse(key.data(), key.size());
  return absl::StrCat(kSigV4Algorithm, " Credential=", access_key, "/", scope.Scope(),
                      ",SignedHeaders=", absl::StrJoin(signed_headers, ";"),
                      ",Signature=", signature);
}

}  // namespace tessera::services::s3
