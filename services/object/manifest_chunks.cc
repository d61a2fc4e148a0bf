#include "services/object/manifest_chunks.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace tessera::services {

SplitManifest Split(const v1::ObjectManifest& full) {
  SplitManifest out;
  int stripes = 0;
  for (const v1::PartRecord& part : full.parts()) stripes += part.stripes_size();
  if (stripes <= kStripesPerChunk) {
    out.head = full;
    return out;
  }
  out.head = full;
  out.head.set_schema_version(kManifestSchemaOutOfLine);
  for (v1::PartRecord& part : *out.head.mutable_parts()) {
    part.set_stripe_count(static_cast<uint32_t>(part.stripes_size()));
    part.clear_stripes();
  }
  for (const v1::PartRecord& part : full.parts()) {
    for (int first = 0; first < part.stripes_size(); first += kStripesPerChunk) {
      v1::StripeChunk& chunk = out.chunks.emplace_back();
      chunk.set_format_version(1);
      chunk.set_chunk(static_cast<uint32_t>(out.chunks.size() - 1));
      chunk.set_part_number(part.number());
      chunk.set_first_stripe(static_cast<uint32_t>(first));
      const int end = std::min(part.stripes_size(), first + kStripesPerChunk);
      for (int i = first; i < end; ++i) *chunk.add_stripes() = part.stripes(i);
    }
  }
  out.head.set_stripe_chunks(static_cast<uint32_t>(out.chunks.size()));
  return out;
}

absl::Status Join(v1::ObjectManifest& head, const std::vector<v1::StripeChunk>& chunks) {
  if (head.stripe_chunks() == 0) return absl::OkStatus();
  if (chunks.size() != head.stripe_chunks()) {
    return absl::DataLossError(absl::StrCat("manifest of ", head.key(), " has ", chunks.size(),
                                            " of its ", head.stripe_chunks(), " stripe chunks"));
  }
  size_t next = 0;
  for (v1::PartRecord& part : *head.mutable_parts()) {
    while (static_cast<uint32_t>(part.stripes_size()) < part.stripe_count()) {
      if (next == chunks.size()) return absl::DataLossError("stripe chunks end before the parts");
      const v1::StripeChunk& c = chunks[next];
      if (c.chunk() != next || c.part_number() != part.number() ||
          c.first_stripe() != static_cast<uint32_t>(part.stripes_size()) || c.stripes_size() == 0 ||
          part.stripes_size() + c.stripes_size() > static_cast<int>(part.stripe_count())) {
        return absl::DataLossError(absl::StrCat("stripe chunk ", next, " of ", head.key(),
                                                " does not match its manifest"));
      }
      for (const v1::StripeRecord& s : c.stripes()) *part.add_stripes() = s;
      ++next;
    }
    part.clear_stripe_count();
  }
  if (next != chunks.size()) return absl::DataLossError("more stripe chunks than stripes");
  head.set_schema_version(1);
  head.clear_stripe_chunks();
  return absl::OkStatus();
}

std::string ChunkField(absl::string_view version_id) {
  return absl::StrCat("tessera.chunks", version_id);
}

std::string ChunkKey(uint32_t chunk) {
  std::string key(4, '\0');
  for (int i = 0; i < 4; ++i) key[i] = static_cast<char>((chunk >> (24 - 8 * i)) & 0xff);
  return key;
}

}  // namespace tessera::services
