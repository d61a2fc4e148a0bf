// CallVerifier: authenticates one Gateway gRPC call from its sdk::CallSignature (call_signature.h)
// against the users of a CredentialStore (the same credentials file and users as S3). The plain
// core of the gateway's authentication: no gRPC types (gateway_service.cc reads the metadata and
// maps the status).
//
// A call is accepted, as the user owning its access key, only if all of these hold:
//   * all four values are present and well formed (date: decimal seconds; nonce: 32 lowercase
//     hex digits; signature: 64 lowercase hex digits);
//   * the date is within `max_skew` of this server's clock (either direction);
//   * the access key is known, and the signature is the one its secret gives for this method,
//     date and nonce (compared in constant time);
//   * the (access key, nonce) pair was not accepted before within the skew window: each accepted
//     pair is remembered until its date is more than max_skew in the past, after which the date
//     check alone refuses the call. So a captured signature cannot be replayed.
// Refusals are UNAUTHENTICATED with a message that says what was wrong but never a secret or the
// expected signature. If the replay cache already holds `max_nonces` live entries, a call is
// refused with RESOURCE_EXHAUSTED (never accepted unrecorded, which would allow a replay).
//
// Thread-safety: thread-safe (one mutex around the replay cache).
#pragma once

#include <cstddef>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/sdk/call_signature.h"
#include "base/clock.h"
#include "services/object/access_policy.h"
#include "services/s3/auth/credential_store.h"

namespace tessera::services {

struct CallVerifierOptions {
  absl::Duration max_skew = absl::Minutes(15);  // as S3 SigV4
  size_t max_nonces = size_t{1} << 20;          // live replay-cache entries (~100 bytes each)
};

class CallVerifier {
 public:
  // `credentials` and `clock` are not owned and must outlive the verifier.
  CallVerifier(const s3::CredentialStore* credentials, Clock* clock,
               CallVerifierOptions options = {});

  // The caller of `full_method` ("/tessera.v1.Gateway/ListBuckets") presenting `call`: a user
  // Principal, or UNAUTHENTICATED / RESOURCE_EXHAUSTED as described above.
  [[nodiscard]] absl::StatusOr<Principal> Verify(absl::string_view full_method,
                                                 const sdk::CallSignature& call);

  // Live entries of the replay cache (tests).
  size_t remembered_nonces() const;

 private:
  // Records `id` (access key/nonce) until `expiry`; UNAUTHENTICATED if it is already recorded,
  // RESOURCE_EXHAUSTED if the cache is full.
  absl::Status Remember(const std::string& id, absl::Time now, absl::Time expiry);

  const s3::CredentialStore* const credentials_;
  Clock* const clock_;
  const CallVerifierOptions options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::string> seen_ ABSL_GUARDED_BY(mu_);
  std::multimap<absl::Time, std::string> expiries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::services
