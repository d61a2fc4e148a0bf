#include "storage/index/index_entry.h"

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tessera::storage {
namespace {

constexpr uint8_t kLocationFile = 1;
constexpr uint8_t kLocationInline = 2;

void PutFixed(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

class Reader {
 public:
  explicit Reader(absl::string_view in) : in_(in) {}
  bool Fixed(int bytes, uint64_t* v) {
    if (in_.size() < static_cast<size_t>(bytes)) return false;
    *v = 0;
    for (int i = 0; i < bytes; ++i) {
      *v |= uint64_t{static_cast<unsigned char>(in_[i])} << (8 * i);
    }
    in_.remove_prefix(bytes);
    return true;
  }
  bool Bytes(size_t n, std::string* out) {
    if (in_.size() < n) return false;
    out->assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  size_t left() const { return in_.size(); }

 private:
  absl::string_view in_;
};

absl::Status Malformed(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("malformed slice index entry: ", what));
}

}  // namespace

std::string EncodeIndexEntry(const IndexEntry& e) {
  std::string out;
  out.reserve(48 + e.file_name.size() + 4 * e.block_crcs.size() + e.inline_data.size());
  PutFixed(&out, IndexEntry::kEntryVersion, 1);
  PutFixed(&out, static_cast<uint8_t>(e.state), 1);
  PutFixed(&out, e.is_inline ? kLocationInline : kLocationFile, 1);
  PutFixed(&out, 0, 1);
  PutFixed(&out, e.length, 8);
  PutFixed(&out, e.crc32c, 4);
  PutFixed(&out, e.block_size, 4);
  PutFixed(&out, static_cast<uint64_t>(e.created_micros), 8);
  PutFixed(&out, static_cast<uint64_t>(e.verified_micros), 8);
  if (e.is_inline) {
    PutFixed(&out, e.inline_data.size(), 4);
    out.append(e.inline_data);
  } else {
    PutFixed(&out, e.dir_index, 4);
    PutFixed(&out, e.file_name.size(), 2);
    out.append(e.file_name);
    PutFixed(&out, e.block_crcs.size(), 4);
    for (uint32_t crc : e.block_crcs) PutFixed(&out, crc, 4);
  }
  return out;
}

absl::StatusOr<IndexEntry> DecodeIndexEntry(absl::string_view bytes) {
  Reader r(bytes);
  uint64_t version, state, kind, reserved, v;
  if (!r.Fixed(1, &version)) return Malformed("empty");
  if (version > IndexEntry::kEntryVersion) {
    return absl::FailedPreconditionError(absl::StrCat("slice index entry version ", version,
                                                      " is newer than supported version ",
                                                      IndexEntry::kEntryVersion));
  }
  if (version == 0) return Malformed("version 0");
  IndexEntry e;
  if (!r.Fixed(1, &state) || !r.Fixed(1, &kind) || !r.Fixed(1, &reserved)) {
    return Malformed("truncated header");
  }
  if (state < 1 || state > 3) return Malformed(absl::StrCat("state ", state));
  e.state = static_cast<EntryState>(state);
  if (kind != kLocationFile && kind != kLocationInline) {
    return Malformed(absl::StrCat("location kind ", kind));
  }
  e.is_inline = kind == kLocationInline;
  if (!r.Fixed(8, &e.length)) return Malformed("truncated length");
  if (!r.Fixed(4, &v)) return Malformed("truncated crc");
  e.crc32c = static_cast<uint32_t>(v);
  if (!r.Fixed(4, &v)) return Malformed("truncated block size");
  e.block_size = static_cast<uint32_t>(v);
  if (!r.Fixed(8, &v)) return Malformed("truncated created time");
  e.created_micros = static_cast<int64_t>(v);
  if (!r.Fixed(8, &v)) return Malformed("truncated verified time");
  e.verified_micros = static_cast<int64_t>(v);
  if (e.is_inline) {
    if (!r.Fixed(4, &v) || !r.Bytes(v, &e.inline_data)) return Malformed("truncated data");
    if (e.inline_data.size() != e.length) return Malformed("inline length mismatch");
  } else {
    if (!r.Fixed(4, &v)) return Malformed("truncated dir index");
    e.dir_index = static_cast<uint32_t>(v);
    if (!r.Fixed(2, &v) || !r.Bytes(v, &e.file_name)) return Malformed("truncated file name");
    if (!r.Fixed(4, &v)) return Malformed("truncated block count");
    if (v > r.left() / 4) return Malformed("block count exceeds entry");
    e.block_crcs.resize(v);
    for (uint32_t& crc : e.block_crcs) {
      uint64_t c;
      if (!r.Fixed(4, &c)) return Malformed("truncated block crcs");
      crc = static_cast<uint32_t>(c);
    }
    if (e.block_size == 0) return Malformed("block size 0");
    if (e.block_crcs.size() != (e.length + e.block_size - 1) / e.block_size) {
      return Malformed("block count does not match length");
    }
  }
  return e;
}

}  // namespace tessera::storage
