// Fuzz entry points over what a storage node takes from the network or its own disk: gossip
// datagrams (anyone who can reach the UDP port), slice-file headers and index records (read back
// after a crash or bit rot), and slice RPC requests (any authenticated peer). Each returns 0 and
// aborts on a broken invariant. Used by fuzz_corpus_test (every build) and, built with clang and
// libFuzzer, by run_fuzzers.sh.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessera::fuzz {

// One datagram into a fresh MembershipProtocol. Invariants: no crash; every datagram it answers
// with parses and fits options.max_message_bytes.
int FuzzGossipDatagram(const uint8_t* data, size_t size);
// data[0] & 1: 0 = slice-file header, 1 = RocksDB index entry; the rest is the record. Invariant:
// whatever decodes re-encodes to bytes that decode to the same value.
int FuzzSliceRecords(const uint8_t* data, size_t size);
// data[0]: which SliceService RPC; data[1] & 3: how many PutSlice stream messages (1-4); the rest
// is split into that many protobuf request messages. Invariants: no crash; a Put that succeeded
// reads back byte-identical.
int FuzzNodeRpc(const uint8_t* data, size_t size);

}  // namespace tessera::fuzz
