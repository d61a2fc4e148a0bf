#include "p2p/membership/records.h"

#include "absl/strings/str_cat.h"

namespace tessera::p2p {

tessera::v1::SignedNodeRecord SignRecord(const NodeIdentity& identity,
                                         const tessera::v1::NodeRecord& record) {
  tessera::v1::SignedNodeRecord out;
  record.SerializeToString(out.mutable_record());
  out.set_signature(identity.Sign(absl::StrCat(kRecordDomain, out.record())));
  return out;
}

absl::StatusOr<tessera::v1::NodeRecord> VerifyRecord(
    const tessera::v1::SignedNodeRecord& signed_record) {
  tessera::v1::NodeRecord record;
  if (!record.ParseFromString(signed_record.record())) {
    return absl::InvalidArgumentError("node record does not parse");
  }
  if (record.format_version() != kRecordFormatVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown node record format_version ", record.format_version()));
  }
  if (record.node_id().empty() || NodeIdFromPublicKey(record.public_key()) != record.node_id()) {
    return absl::UnauthenticatedError("node id is not derived from the record's public key");
  }
  absl::Status s =
      VerifySignature(record.public_key(), absl::StrCat(kRecordDomain, signed_record.record()),
                      signed_record.signature());
  if (!s.ok()) return absl::UnauthenticatedError("node record signature does not verify");
  return record;
}

tessera::v1::SignedLivenessClaim SignClaim(const NodeIdentity& observer,
                                           const tessera::v1::LivenessClaim& claim) {
  tessera::v1::SignedLivenessClaim out;
  claim.SerializeToString(out.mutable_claim());
  out.set_signature(observer.Sign(absl::StrCat(kClaimDomain, out.claim())));
  return out;
}

absl::Status VerifyClaimSignature(const tessera::v1::SignedLivenessClaim& signed_claim,
                                  absl::string_view observer_public_key) {
  absl::Status s =
      VerifySignature(observer_public_key, absl::StrCat(kClaimDomain, signed_claim.claim()),
                      signed_claim.signature());
  if (!s.ok()) return absl::UnauthenticatedError("liveness claim signature does not verify");
  return absl::OkStatus();
}

}  // namespace tessera::p2p
