#include "services/gatewayd/call_verifier.h"

#include <openssl/crypto.h>

#include <cstdint>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tessera::services {
namespace {

bool IsLowerHex(absl::string_view s, size_t length) {
  if (s.size() != length) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

absl::Status Refuse(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat("call not authenticated: ", why));
}

}  // namespace

CallVerifier::CallVerifier(const s3::CredentialStore* credentials, Clock* clock,
                           CallVerifierOptions options)
    : credentials_(credentials), clock_(clock), options_(options) {}

absl::StatusOr<Principal> CallVerifier::Verify(absl::string_view full_method,
                                               const sdk::CallSignature& call) {
  if (call.access_key.empty() && call.signature.empty()) {
    return Refuse(absl::StrCat("no credentials (metadata ", sdk::kCallAccessKeyHeader, ", ",
                               sdk::kCallDateHeader, ", ", sdk::kCallNonceHeader, ", ",
                               sdk::kCallSignatureHeader,
                               "); give the client an access key and secret"));
  }
  if (call.access_key.empty() || call.date.empty() || call.nonce.empty() ||
      call.signature.empty()) {
    return Refuse("incomplete credentials (access key, date, nonce and signature are required)");
  }
  int64_t seconds = 0;
  if (!absl::SimpleAtoi(call.date, &seconds) || call.date.size() > 12 || seconds < 0) {
    return Refuse(absl::StrCat(sdk::kCallDateHeader, " is not decimal Unix seconds"));
  }
  if (!IsLowerHex(call.nonce, 32)) {
    return Refuse(absl::StrCat(sdk::kCallNonceHeader, " must be 32 lowercase hex digits"));
  }
  if (!IsLowerHex(call.signature, 64)) {
    return Refuse(absl::StrCat(sdk::kCallSignatureHeader, " must be 64 lowercase hex digits"));
  }
  const absl::Time now = clock_->Now();
  const absl::Time signed_at = absl::FromUnixSeconds(seconds);
  if (absl::AbsDuration(now - signed_at) > options_.max_skew) {
    return Refuse(absl::StrCat(
        "the call was signed at ", call.date, " (Unix seconds), too far from the server's time ",
        absl::ToUnixSeconds(now), " (allowed skew ", absl::FormatDuration(options_.max_skew), ")"));
  }
  absl::StatusOr<s3::Credential> credential = credentials_->Lookup(call.access_key);
  if (!credential.ok()) return Refuse("unknown access key");
  const std::string expected = sdk::CallSignatureHex(credential->secret_key, call.access_key,
                                                     full_method, call.date, call.nonce);
  // Both are 64 hex digits here: equal lengths, so CRYPTO_memcmp's time depends on neither.
  if (CRYPTO_memcmp(expected.data(), call.signature.data(), expected.size()) != 0) {
    return Refuse(
        absl::StrCat("signature does not match (wrong secret key for this access key, "
                     "or signed for another method than ",
                     full_method, ")"));
  }
  // Only verified calls reach the cache: strangers cannot fill it.
  if (absl::Status s = Remember(absl::StrCat(call.access_key, "/", call.nonce), now,
                                signed_at + options_.max_skew);
      !s.ok()) {
    return s;
  }
  return Principal::User(credential->user_id);
}

absl::Status CallVerifier::Remember(const std::string& id, absl::Time now, absl::Time expiry) {
  absl::MutexLock lock(&mu_);
  // Forget what the date check now refuses anyway.
  while (!expiries_.empty() && expiries_.begin()->first < now) {
    seen_.erase(expiries_.begin()->second);
    expiries_.erase(expiries_.begin());
  }
  if (seen_.contains(id)) return Refuse("replayed (this nonce was already used)");
  if (seen_.size() >= options_.max_nonces) {
    return absl::ResourceExhaustedError("too many calls within the replay window; retry shortly");
  }
  seen_.insert(id);
  expiries_.emplace(expiry, id);
  return absl::OkStatus();
}

size_t CallVerifier::remembered_nonces() const {
  absl::MutexLock lock(&mu_);
  return seen_.size();
}

}  // namespace tessera::services
