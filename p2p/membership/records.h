// Signing and checking of membership records and liveness claims.
//
// A SignedNodeRecord's signature is Ed25519 by the record's own public key over
// kRecordDomain || record_bytes; a SignedLivenessClaim's is by the observer's key over
// kClaimDomain || claim_bytes. The domain prefixes keep a signature made for one kind of message
// from being accepted as another. Signatures are over the exact bytes carried, so no canonical
// re-serialization is needed. All functions are thread-safe (they touch no shared state).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "api/membership.pb.h"
#include "p2p/identity/node_identity.h"

namespace tessera::p2p {

inline constexpr absl::string_view kRecordDomain{"tessera.v1.NodeRecord\0", 22};
inline constexpr absl::string_view kClaimDomain{"tessera.v1.LivenessClaim\0", 25};
inline constexpr uint32_t kRecordFormatVersion = 1;
inline constexpr uint32_t kProtocolVersion = 1;

// Serializes `record` and signs it with `identity`. The caller makes sure the record's node_id and
// public_key are the identity's (the function does not overwrite them, so tests can forge).
tessera::v1::SignedNodeRecord SignRecord(const NodeIdentity& identity,
                                         const tessera::v1::NodeRecord& record);

// Parses a signed record and checks it: the bytes parse, format_version is known, node_id is
// derived from public_key, and the signature verifies. Returns the record, or
// INVALID_ARGUMENT (malformed / unknown version) or UNAUTHENTICATED (id or signature mismatch).
[[nodiscard]] absl::StatusOr<tessera::v1::NodeRecord> VerifyRecord(
    const tessera::v1::SignedNodeRecord& signed_record);

// Serializes and signs a liveness claim with the observer's identity.
tessera::v1::SignedLivenessClaim SignClaim(const NodeIdentity& observer,
                                           const tessera::v1::LivenessClaim& claim);

// OK when `signed_claim.signature` is the signature of `observer_public_key` over the claim.
// UNAUTHENTICATED otherwise.
[[nodiscard]] absl::Status VerifyClaimSignature(
    const tessera::v1::SignedLivenessClaim& signed_claim, absl::string_view observer_public_key);

}  // namespace tessera::p2p
