// SliceId: the name of one slice, and its fixed-width index key.
//
// Thread-safety: a value type; const methods may be called concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tessera::storage {

// Names one slice by the object version, part, stripe and slice index it belongs to, so orphans
// can be found without reading every manifest.
struct SliceId {
  static constexpr size_t kVersionIdSize = 16;
  // Size of Encode()'s result: version_id plus three big-endian uint32s.
  static constexpr size_t kEncodedSize = kVersionIdSize + 12;
  std::string version_id;  // exactly kVersionIdSize bytes
  uint32_t part = 0;
  uint32_t stripe = 0;
  uint32_t index = 0;

  // Fixed-width big-endian key: version_id | part | stripe | index (28 bytes). Keys of one
  // object version sort together and in (part, stripe, index) order.
  std::string Encode() const;
  // The id encoded in `key`; INVALID_ARGUMENT unless key is kEncodedSize bytes.
  static absl::StatusOr<SliceId> Decode(absl::string_view key);
  // Human-readable form for logs and errors: <hex version id>/<part>/<stripe>/<index>.
  std::string ToString() const;
  bool Valid() const { return version_id.size() == kVersionIdSize; }
  friend bool operator==(const SliceId&, const SliceId&) = default;
};

}  // namespace tessera::storage
