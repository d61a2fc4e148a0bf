// Object version ids (docs/design/metadata.md): 16 bytes,
//
//   offset size field
//        0    8 ~timestamp, big-endian: microseconds since the Unix epoch, made strictly
//               increasing per generator (hybrid-logical-clock style: max(now, last + 1)),
//               then bit-inverted so newer versions sort first as byte strings
//        8    8 random bytes (libsodium CSPRNG), so ids from different gateways never collide
//
// Thread-safety: VersionIdGenerator is thread-safe; the free functions are pure.
#pragma once

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"

namespace tessera::services {

inline constexpr size_t kVersionIdSize = 16;

class VersionIdGenerator {
 public:
  // `clock` is not owned and must outlive the generator; nullptr = Clock::Real().
  explicit VersionIdGenerator(Clock* clock = nullptr);

  // A fresh id, newer (smaller as bytes) than every id this generator returned before.
  std::string Next();

 private:
  Clock* const clock_;
  absl::Mutex mu_;
  int64_t last_micros_ ABSL_GUARDED_BY(mu_) = 0;
};

// The timestamp (microseconds since the epoch) inside `version_id`; 0 if it is not 16 bytes.
int64_t VersionIdMicros(const std::string& version_id);

}  // namespace tessera::services
