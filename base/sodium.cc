#include "base/sodium.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>

namespace tessera {

void EnsureSodiumInitialized() {
  // Function-local statics are initialised exactly once, thread-safely (C++11 magic statics).
  static const bool initialized = [] {
    if (sodium_init() < 0) {
      std::fprintf(stderr, "event=sodium_init_failed\n");
      std::abort();
    }
    return true;
  }();
  (void)initialized;
}

void SecureRandomBytes(void* out, size_t n) {
  EnsureSodiumInitialized();
  if (n > 0) randombytes_buf(out, n);
}

std::string SecureRandomString(size_t n) {
  std::string s(n, '\0');
  SecureRandomBytes(s.data(), s.size());
  return s;
}

uint64_t SecureRandomU64() {
  uint64_t v = 0;
  SecureRandomBytes(&v, sizeof(v));
  return v;
}

uint32_t SecureRandomUniform(uint32_t upper_bound) {
  EnsureSodiumInitialized();
  return randombytes_uniform(upper_bound);
}

}  // namespace tessera
