// StripeCodec: turns one plaintext stripe into k+m slices and back.
//
//   plaintext --seal (StripeCipher)--> sealed stripe --pad to k*L--> k data slices of L bytes
//             --Reed-Solomon (ISA-L)--> m parity slices of L bytes
//
// Every slice also gets a SHA-256 hash (OpenSSL; SHA-NI makes it the fastest hash here), recorded
// in the manifest, so a reader or a repairer (which holds no keys) can reject a slice that a
// faulty or hostile node altered before it is decoded into anything.
//
// Decode verifies each supplied slice against its hash, treats a mismatch as a missing slice,
// reads the data slices directly when all k are good (no decode), otherwise reconstructs from any
// k good slices, strips the padding and opens the sealed stripe. Wrong bytes are never returned:
// too few good slices is DATA_LOSS, and so is a stripe that fails authentication.
//
// Thread-safety: immutable after Create; all methods may run concurrently.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "storage/crypto/stripe_cipher.h"
#include "storage/erasure/reed_solomon.h"

namespace tessera::storage {

// Recorded in manifests. Never reuse or renumber.
enum class SliceHashId : uint8_t {
  kSha256 = 1,
};

using SliceHash = std::array<uint8_t, 32>;

// SHA-256 of `data`.
SliceHash HashSlice(absl::string_view data);

struct StripeCodecOptions {
  int data_shards = 4;    // k, 1 <= k
  int parity_shards = 2;  // m, 0 <= m, k + m <= 64
  // Slice lengths are rounded up to a multiple of this (bytes, a power of two), which keeps
  // ISA-L on its vectorised path. Default 64.
  size_t slice_alignment = 64;

  [[nodiscard]] absl::Status Validate() const;
};

// The k+m slices of one stripe, in one buffer: slice i is bytes [i*slice_size, (i+1)*slice_size).
struct EncodedStripe {
  uint64_t sealed_size = 0;  // the sealed stripe's length before padding (kept in the manifest)
  size_t slice_size = 0;
  std::string buffer;
  std::vector<SliceHash> hashes;  // one per slice

  absl::string_view slice(int i) const {
    return absl::string_view(buffer).substr(static_cast<size_t>(i) * slice_size, slice_size);
  }
};

// What Decode found, for metrics and for scheduling repair.
struct DecodeReport {
  std::vector<int> missing;    // slices not supplied
  std::vector<int> corrupt;    // slices supplied whose hash did not match
  bool reconstructed = false;  // true if erasure decoding ran
};

class StripeCodec {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<StripeCodec>> Create(
      const StripeCodecOptions& options);

  int data_shards() const { return rs_->data_shards(); }
  int parity_shards() const { return rs_->parity_shards(); }
  int total_shards() const { return rs_->total_shards(); }

  // Slice length for a sealed stripe of `sealed_size` bytes.
  size_t SliceSize(uint64_t sealed_size) const;

  // Seals `plaintext` with `cipher` for `context` and erasure-codes it.
  [[nodiscard]] absl::StatusOr<EncodedStripe> Encode(const StripeCipher& cipher,
                                                     const StripeContext& context,
                                                     absl::string_view plaintext) const;

  // Erasure-codes a stripe sealed elsewhere (client-sealed objects: the gateway holds no key and
  // codes the client's sealed bytes as they are). Same layout and hashes as Encode.
  [[nodiscard]] absl::StatusOr<EncodedStripe> EncodeSealed(absl::string_view sealed) const;

  // Recovers the plaintext. `slices` has k+m entries (nullopt = unavailable), `hashes` the
  // manifest's k+m hashes, `sealed_size` the manifest's sealed length. DATA_LOSS when fewer than k
  // slices are good or the stripe fails authentication; INVALID_ARGUMENT on wrong sizes.
  [[nodiscard]] absl::StatusOr<std::string> Decode(
      const StripeCipher& cipher, const StripeContext& context, uint64_t sealed_size,
      absl::Span<const std::optional<absl::string_view>> slices, absl::Span<const SliceHash> hashes,
      DecodeReport* report = nullptr) const;

  // Recovers the sealed stripe (`sealed_size` bytes) without opening it, for client-sealed
  // objects. DATA_LOSS when fewer than k slices are good; INVALID_ARGUMENT on wrong sizes.
  [[nodiscard]] absl::StatusOr<std::string> DecodeSealed(
      uint64_t sealed_size, absl::Span<const std::optional<absl::string_view>> slices,
      absl::Span<const SliceHash> hashes, DecodeReport* report = nullptr) const;

  // Repair without keys: rebuilds the slices listed in `wanted` from any k good ones and returns
  // them in the order of `wanted`, each verified against its hash. DATA_LOSS when fewer than k
  // supplied slices are good (or a rebuilt slice does not match its hash).
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> Rebuild(
      uint64_t sealed_size, absl::Span<const std::optional<absl::string_view>> slices,
      absl::Span<const SliceHash> hashes, absl::Span<const int> wanted,
      DecodeReport* report = nullptr) const;

 private:
  StripeCodec(const StripeCodecOptions& options, std::unique_ptr<ReedSolomon> rs);

  // Pads the sealed stripe at the start of `out.buffer` (out.sealed_size bytes, buffer sized
  // (k+m) * slice_size), computes parity and hashes.
  absl::Status CodeSealed(EncodedStripe& out) const;

  // Fills `buffer` ((k+m) * slice_size bytes) with every slice, verifying the supplied ones and
  // reconstructing the rest. DATA_LOSS with fewer than k good slices.
  absl::Status Assemble(uint64_t sealed_size,
                        absl::Span<const std::optional<absl::string_view>> slices,
                        absl::Span<const SliceHash> hashes, bool need_parity, std::string& buffer,
                        DecodeReport& report) const;

  const StripeCodecOptions options_;
  std::unique_ptr<ReedSolomon> rs_;
};

}  // namespace tessera::storage
