#include "api/sdk/call_signature.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_reasons.h"

namespace tessera::sdk {
namespace {

std::string HmacSha256(absl::string_view key, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

}  // namespace

absl::Status CheckApiVersion(absl::string_view value) {
  if (value.empty()) return absl::OkStatus();  // a client from before the header
  uint32_t version = 0;
  if (!absl::SimpleAtoi(value, &version) || version == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed ", kApiVersionHeader, " metadata (expected a version >= 1)"));
  }
  if (version <= kGatewayApiVersion) return absl::OkStatus();
  return WithReason(
      absl::FailedPreconditionError(absl::StrCat(
          "the client speaks Tessera gateway API ", version, "; this gateway knows up to ",
          kGatewayApiVersion, ": upgrade the gateway (tessera-gateway) before its clients")),
      StatusReason::kNewerFormat);
}

std::string CallSignatureHex(absl::string_view secret_key, absl::string_view access_key,
                             absl::string_view full_method, absl::string_view date,
                             absl::string_view nonce) {
  // A key derived for this purpose only: the secret's other use (S3 SigV4) never HMACs this
  // context string with it, so a signature of one scheme is never valid in the other.
  const std::string signing_key = HmacSha256(secret_key, kCallSignatureContext);
  const std::string to_sign = absl::StrCat(kCallSignatureContext, "\n", access_key, "\n",
                                           full_method, "\n", date, "\n", nonce);
  return absl::BytesToHexString(HmacSha256(signing_key, to_sign));
}

absl::StatusOr<CallSignature> SignCall(absl::string_view access_key, absl::string_view secret_key,
                                       absl::string_view full_method, absl::Time now) {
  uint8_t random[16];
  if (RAND_bytes(random, sizeof(random)) != 1) {
    return absl::InternalError("cannot sign the call: the random number generator failed");
  }
  CallSignature s;
  s.access_key = std::string(access_key);
  s.date = absl::StrCat(absl::ToUnixSeconds(now));
  s.nonce = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(random), sizeof(random)));
  s.signature = CallSignatureHex(secret_key, access_key, full_method, s.date, s.nonce);
  return s;
}

}  // namespace tessera::sdk
