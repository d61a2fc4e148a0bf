// Seeded, reproducible pseudo-randomness for tests, fuzz-style loops and jitter. NOT for keys,
// nonces or anything secret (use libsodium's randombytes_buf for those).
//
// The generator is SplitMix64: the same seed gives the same sequence on every platform and
// compiler, so a failing seed printed by a test can be replayed.
//
// Thread-safety: RandomBytes is a pure function. A Random object is not thread-safe; give each
// thread its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tessera {

class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}

  // The next 64 pseudo-random bits.
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); n must be > 0 (returns 0 for n == 0). Unbiased (rejection sampling).
  uint64_t Uniform(uint64_t n);
  // Uniform in [lo, hi] (inclusive); requires lo <= hi.
  int64_t Range(int64_t lo, int64_t hi);
  // True with probability 1/n (n == 0 or 1: always true).
  bool OneIn(uint64_t n) { return n <= 1 || Uniform(n) == 0; }
  // `n` pseudo-random bytes.
  std::string Bytes(size_t n);

 private:
  uint64_t state_;
};

// `n` bytes determined by `seed` alone: RandomBytes(n, s) is a prefix of RandomBytes(n + k, s).
std::string RandomBytes(size_t n, uint64_t seed);

}  // namespace tessera
