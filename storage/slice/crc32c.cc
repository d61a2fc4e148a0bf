#include "storage/slice/crc32c.h"

#include <isa-l/crc.h>

#include <algorithm>
#include <climits>

namespace tessera::storage::crc32c {

uint32_t Extend(uint32_t init, const char* data, size_t n) {
  // crc32_iscsi takes an int length; feed very large buffers in chunks.
  constexpr size_t kMaxChunk = size_t{1} << 30;
  uint32_t state = ~init;
  auto* p = reinterpret_cast<unsigned char*>(const_cast<char*>(data));
  while (n > 0) {
    size_t chunk = std::min(n, kMaxChunk);
    state = crc32_iscsi(p, static_cast<int>(chunk), state);
    p += chunk;
    n -= chunk;
  }
  return ~state;
}

}  // namespace tessera::storage::crc32c
