// ReedSolomon: a systematic Reed-Solomon erasure code over GF(2^8), computed with Intel ISA-L.
//
// A stripe is split by the caller into k data shards of equal length; Encode computes m parity
// shards of the same length. Any k of the k+m shards recover all of them: Reconstruct rebuilds
// exactly the missing shards (data and parity) and leaves present shards untouched.
//
// The generator is ISA-L's Cauchy matrix (gf_gen_cauchy1_matrix): an identity block over a
// Cauchy block, so every k x k submatrix of the (k+m) x k generator is invertible and every
// erasure pattern of up to m shards is decodable. The byte layout of parity is fixed by
// kCodeIdRsCauchyIsal; manifests record that id so objects written today stay decodable after the
// code changes (a new code gets a new id, the old one stays implemented).
//
// Decode tables are cached per erasure pattern (bitmask of present shards) in a small LRU, so
// repeated repairs of the same pattern skip the matrix inversion.
//
// Thread-safety: a ReedSolomon is immutable apart from its internally locked cache; all methods
// may be called concurrently on one instance. Shard buffers are the caller's; concurrent calls
// must not share output buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"

namespace tessera::storage {

// Identifies the erasure code and its exact byte layout in manifests. Never reuse or renumber.
enum class ErasureCodeId : uint8_t {
  kRsCauchyIsal = 1,  // ReedSolomon below: ISA-L gf_gen_cauchy1_matrix, systematic, GF(2^8)
};
inline constexpr uint8_t kCodeIdRsCauchyIsal = static_cast<uint8_t>(ErasureCodeId::kRsCauchyIsal);

struct ReedSolomonOptions {
  // Number of data shards k. 1 <= k.
  int data_shards = 4;
  // Number of parity shards m. 0 <= m. k + m <= kMaxTotalShards.
  int parity_shards = 2;
  // Maximum number of erasure patterns whose decode tables are cached (LRU). 0 disables caching.
  // Each entry costs about 32 * k * (missing shards) bytes. Default 64.
  size_t decode_cache_entries = 64;

  static constexpr int kMaxTotalShards = 64;

  // OK, or INVALID_ARGUMENT naming the offending field.
  [[nodiscard]] absl::Status Validate() const;
};

struct ReedSolomonCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  size_t entries = 0;
};

class ReedSolomon {
 public:
  // A codec for k data and m parity shards, or INVALID_ARGUMENT unless 1 <= k, 0 <= m and
  // k + m <= 64.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ReedSolomon>> Create(int k, int m);
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ReedSolomon>> Create(
      const ReedSolomonOptions& options);

  ReedSolomon(const ReedSolomon&) = delete;
  ReedSolomon& operator=(const ReedSolomon&) = delete;
  ~ReedSolomon();

  int data_shards() const { return k_; }
  int parity_shards() const { return m_; }
  int total_shards() const { return k_ + m_; }
  ErasureCodeId code_id() const { return ErasureCodeId::kRsCauchyIsal; }

  // Computes the m parity shards from the k data shards, each `shard_len` bytes.
  // `data` has k readable buffers, `parity` has m writable buffers; none may overlap.
  // INVALID_ARGUMENT if the span sizes are wrong, a pointer is null or shard_len > INT_MAX.
  [[nodiscard]] absl::Status Encode(absl::Span<const uint8_t* const> data,
                                    absl::Span<uint8_t* const> parity, size_t shard_len) const;

  // Rebuilds the shards whose `present` flag is false, in place, from the present ones.
  // `shards` has k+m buffers of `shard_len` bytes each (indices 0..k-1 data, k..k+m-1 parity);
  // the buffers of missing shards are overwritten, present ones are only read. OK with nothing
  // to do if all are present. DATA_LOSS if more than m shards are missing (nothing is written);
  // INVALID_ARGUMENT on wrong span sizes, null pointers or shard_len > INT_MAX.
  [[nodiscard]] absl::Status Reconstruct(absl::Span<uint8_t* const> shards,
                                         absl::Span<const bool> present, size_t shard_len) const;

  // Same, with presence given as a bitmask: bit i set means shard i is present.
  [[nodiscard]] absl::Status Reconstruct(absl::Span<uint8_t* const> shards, uint64_t present_mask,
                                         size_t shard_len) const;

  ReedSolomonCacheStats cache_stats() const;

 private:
  // Everything needed to rebuild the missing shards of one erasure pattern with one
  // ec_encode_data call: which k present shards are read, which shards are written, and the
  // ISA-L tables for the composed (missing x k) decode matrix.
  struct DecodePlan {
    std::vector<int> sources;  // k present shard indices
    std::vector<int> targets;  // missing shard indices
    std::vector<uint8_t> tables;
  };

  explicit ReedSolomon(const ReedSolomonOptions& options);

  absl::StatusOr<std::shared_ptr<const DecodePlan>> GetPlan(uint64_t present_mask) const;
  absl::StatusOr<std::shared_ptr<const DecodePlan>> BuildPlan(uint64_t present_mask) const;

  const int k_;
  const int m_;
  const size_t cache_capacity_;
  std::vector<uint8_t> matrix_;         // (k+m) x k generator, row-major
  std::vector<uint8_t> encode_tables_;  // ISA-L tables for the m parity rows

  mutable absl::Mutex mu_;
  // LRU: most recently used at the front.
  using LruList = std::list<std::pair<uint64_t, std::shared_ptr<const DecodePlan>>>;
  mutable LruList lru_ ABSL_GUARDED_BY(mu_);
  mutable absl::flat_hash_map<uint64_t, LruList::iterator> index_ ABSL_GUARDED_BY(mu_);
  mutable uint64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  mutable uint64_t misses_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tessera::storage
