// Header lists as the S3 front end sees them: (name, value) pairs in the order received, names
// in whatever case the client sent. HTTP header names are case-insensitive, so every lookup in
// services/s3 goes through FindHeader / HeaderOr here rather than comparing names itself.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace tessera::services::s3 {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The value of the first header named `name` (ASCII case-insensitive); nullptr if there is none.
// The pointer is into `headers` and valid while it is unchanged.
const std::string* FindHeader(const HeaderList& headers, absl::string_view name);

// The first `name` header's value, or `fallback` if there is none.
std::string HeaderOr(const HeaderList& headers, absl::string_view name,
                     absl::string_view fallback = "");

}  // namespace tessera::services::s3
