#include "services/object/manifest_store.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/status_reasons.h"

namespace tessera::services {
namespace {

constexpr char kConditionPayload[] = "type.tessera/commit-condition-not-met";

// An entity tag without W/ and quotes, for comparison.
absl::string_view BareETag(absl::string_view e) {
  e = absl::StripAsciiWhitespace(e);
  absl::ConsumePrefix(&e, "W/");
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  return e;
}

bool ETagListMatches(absl::string_view list, absl::string_view etag) {
  for (absl::string_view candidate : absl::StrSplit(list, ',')) {
    candidate = absl::StripAsciiWhitespace(candidate);
    if (candidate == "*" || BareETag(candidate) == BareETag(etag)) return true;
  }
  return false;
}

}  // namespace

absl::Status ConditionNotMet(const std::string& message) {
  absl::Status s = absl::FailedPreconditionError(message);
  s.SetPayload(kConditionPayload, absl::Cord("1"));
  return s;
}

bool IsConditionNotMet(const absl::Status& status) {
  return absl::IsFailedPrecondition(status) && status.GetPayload(kConditionPayload).has_value();
}

absl::Status NoSuchKeyError(const std::string& bucket, const std::string& key) {
  return WithReason(absl::NotFoundError(absl::StrCat("no such key: ", bucket, "/", key)),
                    StatusReason::kNoSuchKey);
}

absl::Status CheckCommitCondition(const CommitCondition& condition, const std::string& bucket,
                                  const std::string& key, const v1::ObjectManifest* latest) {
  const bool live = latest != nullptr && !latest->delete_marker();
  if (condition.if_none_match && live) {
    return ConditionNotMet(absl::StrCat("key exists: ", bucket, "/", key, " (If-None-Match)"));
  }
  if ((!condition.if_match.empty() || condition.if_live) && !live) {
    return NoSuchKeyError(bucket, key);
  }
  if (!condition.if_match.empty() && !ETagListMatches(condition.if_match, latest->etag())) {
    return ConditionNotMet(absl::StrCat("ETag of ", bucket, "/", key, " is ", latest->etag(),
                                        ", not ", condition.if_match, " (If-Match)"));
  }
  return absl::OkStatus();
}

bool KeepWhenSuperseded(const v1::ObjectManifest& manifest) {
  if (manifest.delete_marker()) return false;
  if (manifest.stripe_chunks() > 0 || !manifest.data_version_id().empty()) return true;
  for (const v1::PartRecord& part : manifest.parts()) {
    if (part.stripes_size() > 0 || part.stripe_count() > 0) return true;
  }
  return false;
}

void SortVersions(bool first_is_head, std::vector<v1::ObjectManifest>& versions) {
  // Superseded versions by decided position, newest first; entries from before head registers
  // (commit_sequence 0) after them, in their version-id order (already newest first).
  const auto from = versions.begin() + (first_is_head && !versions.empty() ? 1 : 0);
  std::stable_sort(from, versions.end(),
                   [](const v1::ObjectManifest& a, const v1::ObjectManifest& b) {
                     return a.commit_sequence() > b.commit_sequence();
                   });
}

absl::Status CheckManifestFormat(const v1::ObjectManifest& manifest) {
  if (manifest.schema_version() <= kNewestManifestSchema) return absl::OkStatus();
  return NewerFormatError(
      absl::StrCat("object manifest of ", manifest.bucket(), "/", manifest.key()),
      manifest.schema_version(), kNewestManifestSchema);
}

absl::Status CheckBucketRecordFormat(const v1::BucketRecord& record) {
  if (record.schema_version() <= kNewestBucketRecordSchema) return absl::OkStatus();
  return NewerFormatError(absl::StrCat("bucket record of ", record.name()), record.schema_version(),
                          kNewestBucketRecordSchema);
}

absl::Status CheckStripeChunkFormat(const v1::StripeChunk& chunk) {
  if (chunk.format_version() <= kNewestStripeChunkFormat) return absl::OkStatus();
  return NewerFormatError(absl::StrCat("stripe chunk ", chunk.chunk()), chunk.format_version(),
                          kNewestStripeChunkFormat);
}

}  // namespace tessera::services
