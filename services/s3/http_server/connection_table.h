// ConnectionTable: the S3 HTTP server's admission bookkeeping (no I/O, no threads).
//
// A connection holds one of `max_connections` slots from admission until it is released or
// evicted. Until its first request header has arrived a connection is "embryonic" (a TLS one
// first handshakes; at most `max_handshakes` handshakes at once): it has cost the client nothing
// and served nobody, so it is the one to drop under pressure.
//   * Table full: the oldest embryonic connection is evicted to admit the new one; only when
//     every slot holds a connection that has sent a request is the new one refused (the server
//     answers 503 SlowDown or closes). A flood of silent connections therefore cannot lock out
//     real clients, and established clients are never dropped for newcomers.
//   * Handshakes full: the oldest handshake in progress is evicted (a real client completes its
//     handshake in milliseconds; the oldest one is the likeliest to be silent).
// Evicted connections leave the table at once (their slot is reused); the caller closes them.
//
// Thread-compatible: the server calls it under its own lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace tessera::services::s3 {

class ConnectionTable {
 public:
  using Id = uint64_t;

  // Both limits >= 1.
  ConnectionTable(size_t max_connections, size_t max_handshakes);

  // Admits the new connection `id` (unique, never admitted before), starting with a TLS
  // handshake if `tls`. Appends the connections evicted to make room to *evicted. False (and
  // nothing evicted) if there is no room: every slot holds a connection past its first request.
  bool Admit(Id id, bool tls, std::vector<Id>* evicted);
  // The TLS handshake of `id` completed: it now awaits its first request. False if `id` is not
  // (no longer) handshaking, e.g. it was evicted.
  bool HandshakeDone(Id id);
  // The first request header of `id` arrived: it is no longer evictable. False if `id` is not
  // (no longer) embryonic, e.g. it was evicted.
  bool FirstRequest(Id id);
  // Evicts the oldest embryonic connection, if any (used when the process runs out of
  // descriptors).
  std::optional<Id> EvictOldestEmbryonic();
  // Frees the slot of `id`; no-op if it holds none (evicted, or never admitted).
  void Release(Id id);

  size_t open() const { return entries_.size(); }
  size_t handshakes() const { return handshaking_.size(); }
  size_t embryonic() const { return handshaking_.size() + awaiting_.size(); }

 private:
  enum class Phase { kHandshake, kAwaitingRequest, kServed };
  struct Entry {
    Phase phase;
    std::list<Id>::iterator pos;  // in handshaking_ or awaiting_; unused once kServed
  };

  void Remove(Id id);
  std::list<Id>* ListOf(Phase phase);

  const size_t max_connections_;
  const size_t max_handshakes_;
  absl::flat_hash_map<Id, Entry> entries_;
  // Oldest first (ids in the order they entered the phase).
  std::list<Id> handshaking_;
  std::list<Id> awaiting_;
};

}  // namespace tessera::services::s3
