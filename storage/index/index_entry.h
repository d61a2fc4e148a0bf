// IndexEntry: what the slice index records about one slice, and its versioned binary encoding.
//
// Encoding, version 1 (all integers little-endian):
//   u8  entry version (kEntryVersion = 1)
//   u8  state (1 live, 2 corrupt, 3 missing)
//   u8  location kind (1 file, 2 inline)
//   u8  reserved (0)
//   u64 length            u32 crc32c of the whole slice      u32 block size
//   i64 created time (Unix micros)                          i64 last verified time (Unix micros)
//   file:   u32 data dir index, u16 file name length, name bytes, u32 block count, u32 crcs...
//   inline: u32 data length, data bytes
// Decoders accept trailing bytes (room for compatible additions) and refuse a newer version.
//
// Thread-safety: value type.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tessera::storage {

enum class EntryState : uint8_t { kLive = 1, kCorrupt = 2, kMissing = 3 };

struct IndexEntry {
  static constexpr uint8_t kEntryVersion = 1;

  EntryState state = EntryState::kLive;
  bool is_inline = false;
  // File slices: which data directory (index into SliceStoreOptions::data_dirs) and the file's
  // name relative to it.
  uint32_t dir_index = 0;
  std::string file_name;
  // Inline slices: the bytes themselves.
  std::string inline_data;
  uint64_t length = 0;
  uint32_t crc32c = 0;  // whole slice
  uint32_t block_size = 0;
  std::vector<uint32_t> block_crcs;  // file slices only
  int64_t created_micros = 0;
  int64_t verified_micros = 0;

  friend bool operator==(const IndexEntry&, const IndexEntry&) = default;
};

[[nodiscard]] std::string EncodeIndexEntry(const IndexEntry& entry);
// DATA_LOSS for malformed bytes; FAILED_PRECONDITION for a newer entry version.
[[nodiscard]] absl::StatusOr<IndexEntry> DecodeIndexEntry(absl::string_view bytes);

}  // namespace tessera::storage
