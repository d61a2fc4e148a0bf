#include "storage/pipeline/stripe_codec.h"

#include <openssl/sha.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "openssl/crypto.h"

namespace tessera::storage {
namespace {

bool HashMatches(absl::string_view data, const SliceHash& expected) {
  SliceHash actual = HashSlice(data);
  // Constant time: the comparison should not tell an attacker how much of a forged slice matched.
  return CRYPTO_memcmp(actual.data(), expected.data(), actual.size()) == 0;
}

}  // namespace

SliceHash HashSlice(absl::string_view data) {
  SliceHash hash;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), hash.data());
  return hash;
}

absl::Status StripeCodecOptions::Validate() const {
  if (data_shards < 1) return absl::InvalidArgumentError("data_shards (k) must be >= 1");
  if (parity_shards < 0) return absl::InvalidArgumentError("parity_shards (m) must be >= 0");
  if (data_shards + parity_shards > ReedSolomonOptions::kMaxTotalShards) {
    return absl::InvalidArgumentError(absl::StrCat("data_shards + parity_shards must be <= ",
                                                   ReedSolomonOptions::kMaxTotalShards));
  }
  if (slice_alignment == 0 || (slice_alignment & (slice_alignment - 1)) != 0) {
    return absl::InvalidArgumentError("slice_alignment must be a power of two");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<StripeCodec>> StripeCodec::Create(
    const StripeCodecOptions& options) {
  TESSERA_RETURN_IF_ERROR(options.Validate());
  TESSERA_ASSIGN_OR_RETURN(auto rs,
                           ReedSolomon::Create(options.data_shards, options.parity_shards));
  return std::unique_ptr<StripeCodec>(new StripeCodec(options, std::move(rs)));
}

StripeCodec::StripeCodec(const StripeCodecOptions& options, std::unique_ptr<ReedSolomon> rs)
    : options_(options), rs_(std::move(rs)) {}

size_t StripeCodec::SliceSize(uint64_t sealed_size) const {
  const size_t k = static_cast<size_t>(data_shards());
  size_t per_slice = (sealed_size + k - 1) / k;
  const size_t align = options_.slice_alignment;
  return (per_slice + align - 1) & ~(align - 1);
}

absl::StatusOr<EncodedStripe> StripeCodec::Encode(const StripeCipher& cipher,
                                                  const StripeContext& context,
                                                  absl::string_view plaintext) const {
  const int n = total_shards();
  EncodedStripe out;
  out.sealed_size = cipher.SealedSize(plaintext.size());
  out.slice_size = SliceSize(out.sealed_size);
  // One buffer for every slice: the sealed stripe and its zero padding fill the k data slices,
  // parity follows. Sealing happens in place, so the plaintext is copied exactly once.
  out.buffer.resize(static_cast<size_t>(n) * out.slice_size);
  auto* base = reinterpret_cast<uint8_t*>(out.buffer.data());
  std::memcpy(base + cipher.header_size(), plaintext.data(), plaintext.size());
  TESSERA_RETURN_IF_ERROR(
      cipher.SealInPlace(context, absl::MakeSpan(base, static_cast<size_t>(out.sealed_size))));
  TESSERA_RETURN_IF_ERROR(CodeSealed(out));
  return out;
}

absl::StatusOr<EncodedStripe> StripeCodec::EncodeSealed(absl::string_view sealed) const {
  EncodedStripe out;
  out.sealed_size = sealed.size();
  out.slice_size = SliceSize(out.sealed_size);
  out.buffer.resize(static_cast<size_t>(total_shards()) * out.slice_size);
  std::memcpy(out.buffer.data(), sealed.data(), sealed.size());
  TESSERA_RETURN_IF_ERROR(CodeSealed(out));
  return out;
}

absl::Status StripeCodec::CodeSealed(EncodedStripe& out) const {
  const int k = data_shards();
  const int n = total_shards();
  auto* base = reinterpret_cast<uint8_t*>(out.buffer.data());
  std::memset(base + out.sealed_size, 0, static_cast<size_t>(k) * out.slice_size - out.sealed_size);

  std::vector<const uint8_t*> data(k);
  std::vector<uint8_t*> parity(n - k);
  for (int i = 0; i < k; ++i) data[i] = base + static_cast<size_t>(i) * out.slice_size;
  for (int i = k; i < n; ++i) parity[i - k] = base + static_cast<size_t>(i) * out.slice_size;
  TESSERA_RETURN_IF_ERROR(rs_->Encode(data, parity, out.slice_size));

  out.hashes.reserve(n);
  for (int i = 0; i < n; ++i) out.hashes.push_back(HashSlice(out.slice(i)));
  return absl::OkStatus();
}

absl::Status StripeCodec::Assemble(uint64_t sealed_size,
                                   absl::Span<const std::optional<absl::string_view>> slices,
                                   absl::Span<const SliceHash> hashes, bool need_parity,
                                   std::string& buffer, DecodeReport& report) const {
  const int k = data_shards();
  const int n = total_shards();
  if (slices.size() != static_cast<size_t>(n) || hashes.size() != static_cast<size_t>(n)) {
    return absl::InvalidArgumentError(absl::StrCat("expected ", n, " slices and hashes, got ",
                                                   slices.size(), " and ", hashes.size()));
  }
  const size_t slice_size = SliceSize(sealed_size);
  buffer.resize(static_cast<size_t>(n) * slice_size);
  uint64_t present_mask = 0;
  int good = 0;
  for (int i = 0; i < n; ++i) {
    if (!slices[i].has_value()) {
      report.missing.push_back(i);
      continue;
    }
    if (slices[i]->size() != slice_size || !HashMatches(*slices[i], hashes[i])) {
      report.corrupt.push_back(i);
      continue;
    }
    std::memcpy(buffer.data() + static_cast<size_t>(i) * slice_size, slices[i]->data(), slice_size);
    present_mask |= uint64_t{1} << i;
    ++good;
  }
  if (good < k) {
    return absl::DataLossError(absl::StrCat("stripe unrecoverable: ", good, " of ", n,
                                            " slices good, need ", k, " (", report.missing.size(),
                                            " missing, ", report.corrupt.size(), " corrupt)"));
  }
  const uint64_t data_mask = (k == 64) ? ~uint64_t{0} : ((uint64_t{1} << k) - 1);
  const uint64_t all_mask = (n == 64) ? ~uint64_t{0} : ((uint64_t{1} << n) - 1);
  const uint64_t needed = need_parity ? all_mask : data_mask;
  if ((present_mask & needed) == needed) return absl::OkStatus();

  std::vector<uint8_t*> shards(n);
  for (int i = 0; i < n; ++i) {
    shards[i] = reinterpret_cast<uint8_t*>(buffer.data()) + static_cast<size_t>(i) * slice_size;
  }
  report.reconstructed = true;
  return rs_->Reconstruct(absl::MakeSpan(shards), present_mask, slice_size);
}

absl::StatusOr<std::string> StripeCodec::Decode(
    const StripeCipher& cipher, const StripeContext& context, uint64_t sealed_size,
    absl::Span<const std::optional<absl::string_view>> slices, absl::Span<const SliceHash> hashes,
    DecodeReport* report) const {
  DecodeReport local;
  DecodeReport& r = report ? *report : local;
  std::string buffer;
  TESSERA_RETURN_IF_ERROR(Assemble(sealed_size, slices, hashes, /*need_parity=*/false, buffer, r));
  std::string plaintext(cipher.PlaintextSize(sealed_size), '\0');
  auto sealed = absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(buffer.data()),
                                    static_cast<size_t>(sealed_size));
  TESSERA_ASSIGN_OR_RETURN(
      size_t n,
      cipher.Open(context, sealed,
                  absl::MakeSpan(reinterpret_cast<uint8_t*>(plaintext.data()), plaintext.size())));
  plaintext.resize(n);
  return plaintext;
}

absl::StatusOr<std::string> StripeCodec::DecodeSealed(
    uint64_t sealed_size, absl::Span<const std::optional<absl::string_view>> slices,
    absl::Span<const SliceHash> hashes, DecodeReport* report) const {
  DecodeReport local;
  DecodeReport& r = report ? *report : local;
  std::string buffer;
  TESSERA_RETURN_IF_ERROR(Assemble(sealed_size, slices, hashes, /*need_parity=*/false, buffer, r));
  buffer.resize(static_cast<size_t>(sealed_size));
  return buffer;
}

absl::StatusOr<std::vector<std::string>> StripeCodec::Rebuild(
    uint64_t sealed_size, absl::Span<const std::optional<absl::string_view>> slices,
    absl::Span<const SliceHash> hashes, absl::Span<const int> wanted, DecodeReport* report) const {
  DecodeReport local;
  DecodeReport& r = report ? *report : local;
  for (int index : wanted) {
    if (index < 0 || index >= total_shards()) {
      return absl::InvalidArgumentError(
          absl::StrCat("no slice ", index, " in a stripe of ", total_shards()));
    }
  }
  std::string buffer;
  TESSERA_RETURN_IF_ERROR(Assemble(sealed_size, slices, hashes, /*need_parity=*/true, buffer, r));
  const size_t slice_size = SliceSize(sealed_size);
  std::vector<std::string> out;
  out.reserve(wanted.size());
  for (int index : wanted) {
    std::string slice = buffer.substr(static_cast<size_t>(index) * slice_size, slice_size);
    // A rebuilt slice that misses its hash means the good-looking inputs were not consistent
    // (a wrong hash list in the manifest): refuse rather than store bad data.
    if (!HashMatches(slice, hashes[index])) {
      return absl::DataLossError(absl::StrCat("rebuilt slice ", index, " does not match its hash"));
    }
    out.push_back(std::move(slice));
  }
  return out;
}

}  // namespace tessera::storage
