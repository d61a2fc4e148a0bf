// Small helpers shared by the gateway tests.
#pragma once

#include <openssl/evp.h>

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "services/object/object_service.h"

namespace tessera::services::testing {

// The raw 16-byte MD5 of `data` (what a multipart ChosenPart carries).
inline std::string Md5Raw(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

// `n` bytes of a pattern that differs per `seed` and does not repeat with a short period.
inline std::string PatternData(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 31 + (i >> 9));
  return s;
}

inline std::string Md5Etag(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr);
  return absl::StrCat("\"", absl::BytesToHexString(std::string(reinterpret_cast<char*>(md), len)),
                      "\"");
}

struct GetOutcome {
  absl::Status status;
  std::string data;
  ReadStats stats;
};

inline GetOutcome GetAll(ObjectService& service, const std::string& bucket, const std::string& key,
                         ObjectRange range = {}) {
  GetOutcome out;
  auto got = service.GetObject(
      bucket, key, range,
      [&out](absl::string_view piece) {
        out.data.append(piece.data(), piece.size());
        return absl::OkStatus();
      },
      &out.stats);
  out.status = got.status();
  return out;
}

}  // namespace tessera::services::testing
