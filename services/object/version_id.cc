#include "services/object/version_id.h"

#include <algorithm>

#include "absl/time/time.h"
#include "base/sodium.h"

namespace tessera::services {

VersionIdGenerator::VersionIdGenerator(Clock* clock)
    : clock_(clock != nullptr ? clock : Clock::Real()) {}

std::string VersionIdGenerator::Next() {
  int64_t micros = absl::ToUnixMicros(clock_->Now());
  {
    absl::MutexLock lock(&mu_);
    micros = std::max(micros, last_micros_ + 1);
    last_micros_ = micros;
  }
  const uint64_t inverted = ~static_cast<uint64_t>(micros);
  std::string id(kVersionIdSize, '\0');
  for (int i = 0; i < 8; ++i) id[i] = static_cast<char>(inverted >> (56 - 8 * i));
  SecureRandomBytes(id.data() + 8, 8);
  return id;
}

int64_t VersionIdMicros(const std::string& version_id) {
  if (version_id.size() != kVersionIdSize) return 0;
  uint64_t inverted = 0;
  for (int i = 0; i < 8; ++i) {
    inverted = (inverted << 8) | static_cast<uint8_t>(version_id[i]);
  }
  return static_cast<int64_t>(~inverted);
}

}  // namespace tessera::services
