// The on-disk format of one slice file, version 1 (see docs/design/slice_store.md).
//
//   offset size  field
//        0    8  magic "TSSLICE\x01"
//        8    1  format version (kFormatVersion = 1)
//        9    1  flags (0; reserved)
//       10    1  id length in bytes (<= kMaxIdSize)
//       11    1  reserved (0)
//       12    4  block size in bytes (little-endian; 65536)
//       16    8  slice length in bytes (little-endian), excluding this header
//       24   32  slice id key (SliceId::Encode()), zero-padded
//       56    4  reserved (0)
//       60    4  CRC32C of bytes [0, 60) (little-endian)
//       64    -  slice data, `length` bytes
//
// Per-block CRC32Cs (one per kBlockSize bytes of data; the last block may be short) are kept in
// the slice's index entry, not in the file: every read consults the index anyway, so keeping them
// there saves a read per Get. The header makes a file self-describing for offline tools and lets
// Verify() catch a file that was swapped for another slice's.
//
// Thread-safety: pure functions and value types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tessera::storage::slice {

inline constexpr char kMagic[8] = {'T', 'S', 'S', 'L', 'I', 'C', 'E', '\x01'};
inline constexpr uint8_t kFormatVersion = 1;
inline constexpr size_t kHeaderSize = 64;
inline constexpr size_t kMaxIdSize = 32;
inline constexpr uint32_t kBlockSize = 64 << 10;

struct SliceHeader {
  uint8_t version = kFormatVersion;
  uint32_t block_size = kBlockSize;
  uint64_t length = 0;  // data bytes after the header
  std::string id;       // the slice id key, at most kMaxIdSize bytes
};

// The kHeaderSize-byte encoding of `header`. `header.id` must be at most kMaxIdSize bytes.
[[nodiscard]] std::string EncodeHeader(const SliceHeader& header);

// Parses a header. DATA_LOSS when the bytes are short, the magic or the header CRC is wrong or a
// field is impossible; FAILED_PRECONDITION for a format version newer than this code knows.
[[nodiscard]] absl::StatusOr<SliceHeader> DecodeHeader(absl::string_view bytes);

// Size of the file holding a slice of `length` bytes.
[[nodiscard]] inline uint64_t FileSize(uint64_t length) { return kHeaderSize + length; }

// Number of blocks a slice of `length` bytes has (0 for an empty slice).
[[nodiscard]] inline uint64_t BlockCount(uint64_t length, uint32_t block_size = kBlockSize) {
  return (length + block_size - 1) / block_size;
}

// Per-block CRC32Cs of `data` in `block_size` blocks, and the CRC32C of the whole of `data`.
struct Checksums {
  uint32_t whole = 0;
  std::vector<uint32_t> blocks;
};
[[nodiscard]] Checksums ComputeChecksums(absl::string_view data, uint32_t block_size = kBlockSize);

// The blocks a byte range [offset, offset + length) of a slice touches: [first, first + count).
// `length` must be > 0 and the range within the slice.
struct BlockSpan {
  uint64_t first = 0;
  uint64_t count = 0;
};
[[nodiscard]] inline BlockSpan BlocksForRange(uint64_t offset, uint64_t length,
                                              uint32_t block_size = kBlockSize) {
  const uint64_t first = offset / block_size;
  const uint64_t last = (offset + length - 1) / block_size;
  return {first, last - first + 1};
}

}  // namespace tessera::storage::slice
