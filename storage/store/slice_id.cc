#include "storage/store/slice_id.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace tessera::storage {
namespace {

void PutBe32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t GetBe32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

std::string SliceId::Encode() const {
  std::string out = version_id;
  out.reserve(kEncodedSize);
  PutBe32(&out, part);
  PutBe32(&out, stripe);
  PutBe32(&out, index);
  return out;
}

absl::StatusOr<SliceId> SliceId::Decode(absl::string_view key) {
  if (key.size() != kEncodedSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("slice key must be ", kEncodedSize, " bytes, got ", key.size()));
  }
  SliceId id;
  id.version_id = std::string(key.substr(0, kVersionIdSize));
  id.part = GetBe32(key.data() + kVersionIdSize);
  id.stripe = GetBe32(key.data() + kVersionIdSize + 4);
  id.index = GetBe32(key.data() + kVersionIdSize + 8);
  return id;
}

std::string SliceId::ToString() const {
  return absl::StrCat(absl::BytesToHexString(version_id), "/", part, "/", stripe, "/", index);
}

}  // namespace tessera::storage
