#include "storage/slice/slice_format.h"

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "storage/slice/crc32c.h"

namespace tessera::storage::slice {
namespace {

void PutLe32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void PutLe64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint32_t GetLe32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}
uint64_t GetLe64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

constexpr size_t kCrcOffset = 60;

}  // namespace

std::string EncodeHeader(const SliceHeader& header) {
  std::string out(kHeaderSize, '\0');
  char* p = out.data();
  std::memcpy(p, kMagic, sizeof(kMagic));
  p[8] = static_cast<char>(header.version);
  p[9] = 0;
  const size_t id_len = std::min(header.id.size(), kMaxIdSize);
  p[10] = static_cast<char>(id_len);
  PutLe32(p + 12, header.block_size);
  PutLe64(p + 16, header.length);
  std::memcpy(p + 24, header.id.data(), id_len);
  PutLe32(p + kCrcOffset, crc32c::Value(p, kCrcOffset));
  return out;
}

absl::StatusOr<SliceHeader> DecodeHeader(absl::string_view bytes) {
  if (bytes.size() < kHeaderSize) {
    return absl::DataLossError(
        absl::StrCat("slice header truncated: ", bytes.size(), " of ", kHeaderSize, " bytes"));
  }
  const char* p = bytes.data();
  if (std::memcmp(p, kMagic, sizeof(kMagic)) != 0) {
    return absl::DataLossError("slice header has a bad magic number");
  }
  if (GetLe32(p + kCrcOffset) != crc32c::Value(p, kCrcOffset)) {
    return absl::DataLossError("slice header checksum mismatch");
  }
  SliceHeader header;
  header.version = static_cast<uint8_t>(p[8]);
  if (header.version > kFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat("slice format version ", header.version,
                                                      " is newer than supported version ",
                                                      kFormatVersion));
  }
  if (header.version == 0) return absl::DataLossError("slice header has format version 0");
  const size_t id_len = static_cast<unsigned char>(p[10]);
  if (id_len > kMaxIdSize) return absl::DataLossError("slice header id length out of range");
  header.block_size = GetLe32(p + 12);
  if (header.block_size == 0) return absl::DataLossError("slice header has block size 0");
  header.length = GetLe64(p + 16);
  header.id.assign(p + 24, id_len);
  return header;
}

Checksums ComputeChecksums(absl::string_view data, uint32_t block_size) {
  Checksums sums;
  sums.blocks.reserve(BlockCount(data.size(), block_size));
  for (size_t off = 0; off < data.size(); off += block_size) {
    const size_t n = std::min<size_t>(block_size, data.size() - off);
    const uint32_t block = crc32c::Value(data.data() + off, n);
    sums.blocks.push_back(block);
    sums.whole = crc32c::Extend(sums.whole, data.data() + off, n);
  }
  return sums;
}

}  // namespace tessera::storage::slice
