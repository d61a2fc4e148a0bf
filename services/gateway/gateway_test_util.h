// Small helpers shared by the gateway tests.
#pragma once

#include <openssl/evp.h>

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "services/gateway/object_service.h"

namespace tessera::services::testing {

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
