#include "services/object/data_path.h"

#include "absl/strings/str_cat.h"

namespace tessera::services {

absl::Status DataPathOptions::Validate() const {
  storage::StripeCodecOptions codec;
  codec.data_shards = data_shards;
  codec.parity_shards = parity_shards;
  codec.slice_alignment = slice_alignment;
  if (absl::Status s = codec.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("DataPathOptions: ", s.message()));
  }
  if (stripe_size == 0 || stripe_size > (256ull << 20)) {
    return absl::InvalidArgumentError("DataPathOptions.stripe_size must be in [1, 256 MiB]");
  }
  if (inline_threshold > (1ull << 20)) {
    return absl::InvalidArgumentError("DataPathOptions.inline_threshold must be at most 1 MiB");
  }
  if (max_stripes_in_flight < 1 || max_stripes_in_flight > 16) {
    return absl::InvalidArgumentError("DataPathOptions.max_stripes_in_flight must be in [1, 16]");
  }
  if (max_replacements_per_slice < 0) {
    return absl::InvalidArgumentError("DataPathOptions.max_replacements_per_slice must be >= 0");
  }
  if (max_write_stall < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("DataPathOptions.max_write_stall must not be negative");
  }
  if (!storage::AeadAlgorithmAvailable(aead)) {
    return absl::InvalidArgumentError("DataPathOptions.aead is not available on this CPU");
  }
  return absl::OkStatus();
}

absl::Status DataPathDeps::Validate() const {
  if (cluster == nullptr) return absl::InvalidArgumentError("DataPathDeps.cluster is null");
  if (slices == nullptr) return absl::InvalidArgumentError("DataPathDeps.slices is null");
  if (keyring == nullptr) return absl::InvalidArgumentError("DataPathDeps.keyring is null");
  if (gc_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("DataPathDeps.gc_grace must not be negative");
  }
  if (pool == nullptr) return absl::InvalidArgumentError("DataPathDeps.pool is null");
  if (key_source != v1::EncryptionParams::CLUSTER_MASTER_KEY &&
      key_source != v1::EncryptionParams::CLIENT_KEY) {
    return absl::InvalidArgumentError("DataPathDeps.key_source must be a master or client key");
  }
  return absl::OkStatus();
}

v1::CodingParams CodingParamsFor(const DataPathOptions& options) {
  v1::CodingParams coding;
  coding.set_code_id(kCodeIdRsCauchyIsal);
  coding.set_data_shards(options.data_shards);
  coding.set_parity_shards(options.parity_shards);
  coding.set_stripe_size(options.stripe_size);
  coding.set_slice_alignment(static_cast<uint32_t>(options.slice_alignment));
  coding.set_slice_hash_id(static_cast<uint32_t>(storage::SliceHashId::kSha256));
  return coding;
}

v1::SliceId MakeSliceId(const std::string& version_id, uint32_t part, uint32_t stripe,
                        uint32_t index) {
  v1::SliceId id;
  id.set_version_id(version_id);
  id.set_part(part);
  id.set_stripe(stripe);
  id.set_index(index);
  return id;
}

uint64_t PlacementSeed(const std::string& version_id, uint32_t part, uint32_t stripe) {
  // FNV-1a 64 over the version id and the big-endian part and stripe numbers: stable across
  // processes and releases (placement must be reproducible when a gateway retries).
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](uint8_t b) {
    h ^= b;
    h *= 0x100000001b3ull;
  };
  for (char c : version_id) mix(static_cast<uint8_t>(c));
  for (int i = 3; i >= 0; --i) mix(static_cast<uint8_t>(part >> (8 * i)));
  for (int i = 3; i >= 0; --i) mix(static_cast<uint8_t>(stripe >> (8 * i)));
  return h;
}

}  // namespace tessera::services
