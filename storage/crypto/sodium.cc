#include "storage/crypto/sodium.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>

namespace tessera::storage {

void EnsureSodiumInitialized() {
  // Function-local statics are initialized exactly once, thread-safely.
  static const bool initialized = [] {
    if (sodium_init() < 0) {
      std::fprintf(stderr, "event=sodium_init_failed\n");
      std::abort();
    }
    return true;
  }();
  (void)initialized;
}

}  // namespace tessera::storage
