#include "base/random.h"

#include <cstring>
#include <limits>

namespace tessera {

uint64_t Random::Uniform(uint64_t n) {
  if (n == 0) return 0;
  // Reject the top partial range so every residue is equally likely.
  const uint64_t limit =
      std::numeric_limits<uint64_t>::max() - (std::numeric_limits<uint64_t>::max() % n + 1) % n;
  uint64_t v;
  do {
    v = Next();
  } while (v > limit);
  return v % n;
}

int64_t Random::Range(int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
  const uint64_t off = span == std::numeric_limits<uint64_t>::max() ? Next() : Uniform(span + 1);
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + off);
}

std::string Random::Bytes(size_t n) {
  std::string out(n, '\0');
  size_t i = 0;
  while (i < n) {
    uint64_t v = Next();
    for (int b = 0; b < 8 && i < n; ++b, ++i) {
      out[i] = static_cast<char>(v & 0xff);  // little-endian byte order, platform independent
      v >>= 8;
    }
  }
  return out;
}

std::string RandomBytes(size_t n, uint64_t seed) { return Random(seed).Bytes(n); }

}  // namespace tessera
