#include "services/s3/checksum/crc64nvme.h"

#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tessera::services::s3 {
namespace {

// The polynomial bit-reflected, for the LSB-first (reflected) algorithm.
constexpr uint64_t kPolyReflected = 0x9a6c9329ac4bc9b5ULL;
// The polynomial in normal (MSB-first) order, x^64 implicit.
constexpr uint64_t kPolyNormal = 0xad93d23594c93659ULL;

struct Tables {
  uint64_t t[16][256];
};

constexpr Tables MakeTables() {
  Tables tables{};
  for (int b = 0; b < 256; ++b) {
    uint64_t crc = static_cast<uint64_t>(b);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ ((crc & 1) ? kPolyReflected : 0);
    tables.t[0][b] = crc;
  }
  for (int k = 1; k < 16; ++k) {
    for (int b = 0; b < 256; ++b) {
      uint64_t prev = tables.t[k - 1][b];
      tables.t[k][b] = (prev >> 8) ^ tables.t[0][prev & 0xff];
    }
  }
  return tables;
}

constexpr Tables kTables = MakeTables();

inline uint64_t Load64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;  // x86-64 and every platform we target is little-endian.
}

// Raw update: `state` is the inverted (working) register; no init/xorout applied.
uint64_t UpdateTable(uint64_t state, const unsigned char* p, size_t n) {
  const auto& t = kTables.t;
  while (n >= 16) {
    uint64_t a = Load64(p) ^ state;
    uint64_t b = Load64(p + 8);
    state = t[15][a & 0xff] ^ t[14][(a >> 8) & 0xff] ^ t[13][(a >> 16) & 0xff] ^
            t[12][(a >> 24) & 0xff] ^ t[11][(a >> 32) & 0xff] ^ t[10][(a >> 40) & 0xff] ^
            t[9][(a >> 48) & 0xff] ^ t[8][a >> 56] ^ t[7][b & 0xff] ^ t[6][(b >> 8) & 0xff] ^
            t[5][(b >> 16) & 0xff] ^ t[4][(b >> 24) & 0xff] ^ t[3][(b >> 32) & 0xff] ^
            t[2][(b >> 40) & 0xff] ^ t[1][(b >> 48) & 0xff] ^ t[0][b >> 56];
    p += 16;
    n -= 16;
  }
  while (n > 0) {
    state = (state >> 8) ^ t[0][(state ^ *p) & 0xff];
    ++p;
    --n;
  }
  return state;
}

#if defined(__x86_64__)

// x^n mod P in normal order (degree < 64).
uint64_t XPowModP(int n) {
  uint64_t r = 1;
  for (int i = 0; i < n; ++i) {
    bool carry = (r >> 63) & 1;
    r <<= 1;
    if (carry) r ^= kPolyNormal;
  }
  return r;
}

uint64_t Reverse64(uint64_t v) {
  uint64_t r = 0;
  for (int i = 0; i < 64; ++i) {
    r = (r << 1) | (v & 1);
    v >>= 1;
  }
  return r;
}

// Folding constants. A 128-bit block R (little-endian load of 16 message bytes: low qword = the
// first 8 bytes = the bit-reversed high half A_hi of the block polynomial A) is moved forward by
// D bits with A*x^D == A_hi*x^(D+64) + A_lo*x^D (mod P). A carry-less multiply of two reversed
// 64-bit values yields the reversed 128-bit product shifted right by one, which the constants
// absorb by using x^(D+63) and x^(D-1) in place of x^(D+64) and x^D.
struct FoldConstants {
  uint64_t lo;  // multiplies the low qword (A_hi)
  uint64_t hi;  // multiplies the high qword (A_lo)
};

FoldConstants MakeFold(int distance_bits) {
  return {Reverse64(XPowModP(distance_bits + 63)), Reverse64(XPowModP(distance_bits - 1))};
}

struct ClmulConstants {
  FoldConstants by1024;
  FoldConstants by128k[8];  // by128k[k]: fold by 128*k bits, k = 1..7
};

const ClmulConstants& GetClmulConstants() {
  static const ClmulConstants c = [] {
    ClmulConstants out{};
    out.by1024 = MakeFold(1024);
    for (int k = 1; k < 8; ++k) out.by128k[k] = MakeFold(128 * k);
    return out;
  }();
  return c;
}

__attribute__((target("pclmul,sse4.1"), always_inline)) inline __m128i Fold(__m128i r, __m128i k) {
  __m128i a = _mm_clmulepi64_si128(r, k, 0x00);
  __m128i b = _mm_clmulepi64_si128(r, k, 0x11);
  return _mm_xor_si128(a, b);
}

__attribute__((target("pclmul,sse4.1"), always_inline)) inline __m128i MakeK(
    const FoldConstants& f) {
  return _mm_set_epi64x(static_cast<long long>(f.hi), static_cast<long long>(f.lo));
}

// Requires n >= 128. Returns the raw state after all of `p`.
__attribute__((target("pclmul,sse4.1"))) uint64_t UpdateClmul(uint64_t state,
                                                              const unsigned char* p, size_t n) {
  const ClmulConstants& c = GetClmulConstants();
  __m128i lane[8];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    lane[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i));
  }
  // Fold the running state into the first 8 bytes (linearity of the reflected register).
  lane[0] = _mm_xor_si128(lane[0], _mm_set_epi64x(0, static_cast<long long>(state)));
  p += 128;
  n -= 128;
  const __m128i k1024 = MakeK(c.by1024);
  while (n >= 128) {
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      __m128i next = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i));
      lane[i] = _mm_xor_si128(Fold(lane[i], k1024), next);
    }
    p += 128;
    n -= 128;
  }
  __m128i acc = lane[7];
  for (int i = 0; i < 7; ++i) acc = _mm_xor_si128(acc, Fold(lane[i], MakeK(c.by128k[7 - i])));
  alignas(16) unsigned char block[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(block), acc);
  // acc is congruent to everything folded so far: its CRC from a zero register is the state.
  uint64_t s = UpdateTable(0, block, 16);
  return UpdateTable(s, p, n);
}

bool DetectClmul() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}

#endif  // __x86_64__

}  // namespace

namespace internal {

uint64_t Crc64NvmeBitwise(uint64_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t state = ~crc;
  for (size_t i = 0; i < n; ++i) {
    state ^= p[i];
    for (int k = 0; k < 8; ++k) state = (state >> 1) ^ ((state & 1) ? kPolyReflected : 0);
  }
  return ~state;
}

uint64_t Crc64NvmeTable(uint64_t crc, const void* data, size_t n) {
  return ~UpdateTable(~crc, static_cast<const unsigned char*>(data), n);
}

bool Crc64NvmeHasClmul() {
#if defined(__x86_64__)
  static const bool has = DetectClmul();
  return has;
#else
  return false;
#endif
}

}  // namespace internal

uint64_t Crc64Nvme(uint64_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
#if defined(__x86_64__)
  if (n >= 256 && internal::Crc64NvmeHasClmul()) return ~UpdateClmul(~crc, p, n);
#endif
  return ~UpdateTable(~crc, p, n);
}

}  // namespace tessera::services::s3
