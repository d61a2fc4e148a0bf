// Size limits of the metadata service's messages, shared by the acceptors (MetaService on every
// tessera-node), the proposers (gateways) and the node's gRPC server so that they agree.
//
// Why these numbers: a node's gRPC server receives at most kMaxMetaRequestBytes per message (the
// same cap its SliceService uses: one 1 MiB data chunk plus framing). Every value an acceptor
// stores arrived in one Accept or Commit request, so values are bounded by that cap; proposers
// refuse to write a larger one (kMaxMetaValueBytes leaves room for the key, ballot and op
// history in the request). Responses may be larger than requests: a Prepare or Read answer
// carries an accepted and a committed value, and a scan page always holds at least one entry, so
// the node sends up to kMaxMetaResponseBytes. Scan pages are otherwise cut at
// kMetaScanPageBytes, far enough below the response cap that a page of many entries never comes
// near it.
//
// Thread-safety: constants only.
#pragma once

#include <cstddef>

namespace tessera::services {

// Largest MetaService request a node accepts (its gRPC max receive message size).
inline constexpr size_t kMaxMetaRequestBytes = (1u << 20) + (64u << 10);
// Largest value (PaxosValue.data, e.g. a serialized object manifest) a proposer writes.
inline constexpr size_t kMaxMetaValueBytes = kMaxMetaRequestBytes - (32u << 10);
// Largest MetaService response a node sends (its gRPC max send message size) and a proposer
// receives: two values of the largest size plus keys, ballots and framing.
inline constexpr size_t kMaxMetaResponseBytes = 2 * kMaxMetaRequestBytes + (64u << 10);
// A scan page stops before the entry that would take its encoded size past this budget (a page
// always holds at least one entry, so a single larger entry is sent alone).
inline constexpr size_t kMetaScanPageBytes = 512u << 10;

static_assert(kMetaScanPageBytes < kMaxMetaRequestBytes);
static_assert(kMaxMetaValueBytes + (64u << 10) <= kMaxMetaResponseBytes / 2);

}  // namespace tessera::services
