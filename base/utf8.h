// UTF-8 validation for names that cross into stored metadata (object keys, listing prefixes,
// header values kept in manifests). Protobuf `string` fields must hold valid UTF-8: an invalid
// byte sequence fails serialization deep in the metadata path, which a caller would see as an
// internal error instead of the clear INVALID_ARGUMENT a bad name deserves.
//
// Thread-safety: pure functions.
#pragma once

#include "absl/strings/string_view.h"

namespace tessera {

// True if `s` is well-formed UTF-8 (RFC 3629): no overlong forms, no UTF-16 surrogates
// (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequences. The empty string is valid.
[[nodiscard]] bool IsValidUtf8(absl::string_view s);

}  // namespace tessera
