// CRC32C (Castagnoli, as in iSCSI, ext4 and RocksDB), computed with ISA-L's crc32_iscsi.
//
// Convention: the standard, finalised CRC32C (init 0xFFFFFFFF, reflected, final XOR 0xFFFFFFFF),
// so Value("123456789") == 0xE3069283. ISA-L's crc32_iscsi(buf, len, init) neither pre- nor
// post-inverts, so Value(x) == ~crc32_iscsi(x, len, 0xFFFFFFFF).
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace tessera::storage::crc32c {

// The CRC32C of `data` extended from a previous finalised CRC `init` (0 for a fresh start):
// Extend(Extend(0, a), b) == Value(a + b).
[[nodiscard]] uint32_t Extend(uint32_t init, const char* data, size_t n);

[[nodiscard]] inline uint32_t Value(const char* data, size_t n) { return Extend(0, data, n); }
[[nodiscard]] inline uint32_t Value(absl::string_view data) {
  return Extend(0, data.data(), data.size());
}

}  // namespace tessera::storage::crc32c
