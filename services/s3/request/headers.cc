#include "services/s3/request/headers.h"

#include "absl/strings/match.h"

namespace tessera::services::s3 {

const std::string* FindHeader(const HeaderList& headers, absl::string_view name) {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, name)) return &v;
  }
  return nullptr;
}

std::string HeaderOr(const HeaderList& headers, absl::string_view name,
                     absl::string_view fallback) {
  const std::string* v = FindHeader(headers, name);
  return v != nullptr ? *v : std::string(fallback);
}

}  // namespace tessera::services::s3
