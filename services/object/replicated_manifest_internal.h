// Helpers shared by the files of ReplicatedManifestStore (replicated_manifest_store.cc: CRUD and
// listing; manifest_shard_split.cc: the split protocol;
// replicated_manifest_chunks.cc: stripes of large manifests out of line). Not part of any public
// interface.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "api/manifest.pb.h"
#include "base/status_reasons.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/message.h"
#include "services/meta/meta_client.h"
#include "services/object/manifest_store.h"

namespace tessera::services::replicated_internal {

inline absl::Status NoSuchBucket(const std::string& name) {
  return MarkNoSuchBucket(absl::NotFoundError(absl::StrCat("no such bucket: ", name)));
}

// The smallest string strictly greater than `s`.
inline std::string After(const std::string& s) { return s + std::string(1, '\0'); }

inline absl::StatusOr<v1::ObjectManifest> ParseManifest(const std::string& bytes) {
  v1::ObjectManifest m;
  if (!m.ParseFromString(bytes)) return absl::DataLossError("unparsable object manifest entry");
  if (absl::Status s = CheckManifestFormat(m); !s.ok()) return s;
  return m;
}

// The bucket record a bucket-name entry holds; nullopt when absent or deleted (the name is free).
inline absl::StatusOr<std::optional<v1::BucketRecord>> ParseRecord(const MetaValue& value) {
  if (!value.has_value()) return std::optional<v1::BucketRecord>();
  v1::BucketRecord r;
  if (!r.ParseFromString(*value)) return absl::DataLossError("unparsable bucket record");
  if (absl::Status s = CheckBucketRecordFormat(r); !s.ok()) return s;
  if (r.deleted()) return std::optional<v1::BucketRecord>();
  return std::optional<v1::BucketRecord>(std::move(r));
}

// Deterministic encoding (map fields in key order), to compare stored forms byte for byte.
inline std::string Canonical(const google::protobuf::Message& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&coded);
  }
  return out;
}

}  // namespace tessera::services::replicated_internal
