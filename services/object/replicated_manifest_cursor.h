// EntryCursor: the object entries of one bucket in (object key, version id) order over its
// index shards (manifest_shard_map.h), read lazily through MetaClient::Scan: only the shards
// overlapping what the caller consumes are scanned, and a draining split's source is merged in
// (per entry the destination's copy wins, except a head register the source committed to later;
// see ReplacesHeld). Used by every read of ReplicatedManifestStore that walks keys (GetLatest,
// Commit's condition check, List, ScanVersions).
//
// Scan batches start at the size the constructor is given and double (up to kMaxScanBatch) while
// a stream needs more; a batch may come back shorter (pages are bounded by bytes) and is then
// continued from its page token.
//
// Errors: Next returns the MetaClient's error (UNAVAILABLE when no quorum answers).
// Thread-safety: not thread-safe (one walk, one thread). `meta` is not owned and must outlive it.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "services/meta/meta_client.h"
#include "services/object/manifest_shard_map.h"

namespace tessera::services {

// The largest Scan batch a cursor asks for.
inline constexpr uint32_t kMaxScanBatch = 1000;

// The first Scan batch for a walk that needs about `max_keys` keys: a page usually fits in one
// (max_keys + 1, at least 16, at most kMaxScanBatch).
uint32_t FirstScanBatch(int max_keys);

class EntryCursor {
 public:
  // Entries with lower <= object key < end ("" = unbounded) of the bucket mapped by `segments`.
  EntryCursor(MetaClient* meta, std::vector<Segment> segments, std::string lower, std::string end,
              uint32_t batch)
      : meta_(meta),
        segments_(std::move(segments)),
        lower_(std::move(lower)),
        end_(std::move(end)),
        batch_(batch) {}

  // Sets *out to the next entry and returns true; false when the range is exhausted.
  absl::StatusOr<bool> Next(ScanItem* out);

  // Later entries have object keys >= key (a no-op for a key not after the current lower bound).
  // Jumps instead of reading what lies between.
  void Seek(const std::string& key);

 private:
  struct Stream {
    std::string field;
    std::string start;
    std::string end;
    std::string token;
    std::deque<ScanItem> buf;
    bool done = false;
    uint32_t batch = 0;
  };

  static Stream MakeStream(const std::string& field, const std::string& start,
                           const std::string& end);
  absl::Status Fill(Stream& s);

  MetaClient* const meta_;
  const std::vector<Segment> segments_;
  std::string lower_;
  const std::string end_;
  const uint32_t batch_;
  size_t seg_ = 0;
  bool open_ = false;
  std::vector<Stream> streams_;
};

}  // namespace tessera::services
