// Small helpers shared by the fuzz entry points.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"

namespace tessera::fuzz {

// Aborts (a finding for libFuzzer and a crash for the corpus test) when an invariant breaks.
inline void Check(bool ok) {
  if (!ok) std::abort();
}

inline absl::string_view Bytes(const uint8_t* data, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}

}  // namespace tessera::fuzz
