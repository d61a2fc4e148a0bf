#include "storage/erasure/reed_solomon.h"

#include <isa-l/erasure_code.h>

#include <bit>
#include <climits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace tessera::storage {
namespace {

uint64_t AllShardsMask(int total) {
  return total >= 64 ? ~uint64_t{0} : ((uint64_t{1} << total) - 1);
}

absl::Status CheckShardLen(size_t shard_len) {
  if (shard_len > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(
        absl::StrCat("shard_len ", shard_len, " exceeds the ISA-L limit of ", INT_MAX, " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ReedSolomonOptions::Validate() const {
  if (data_shards < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("ReedSolomonOptions.data_shards must be >= 1, got ", data_shards));
  }
  if (parity_shards < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("ReedSolomonOptions.parity_shards must be >= 0, got ", parity_shards));
  }
  if (data_shards + parity_shards > kMaxTotalShards) {
    return absl::InvalidArgumentError(
        absl::StrCat("ReedSolomonOptions.data_shards + parity_shards must be <= ", kMaxTotalShards,
                     ", got ", data_shards, " + ", parity_shards));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ReedSolomon>> ReedSolomon::Create(int k, int m) {
  ReedSolomonOptions options;
  options.data_shards = k;
  options.parity_shards = m;
  return Create(options);
}

absl::StatusOr<std::unique_ptr<ReedSolomon>> ReedSolomon::Create(
    const ReedSolomonOptions& options) {
  TESSERA_RETURN_IF_ERROR(options.Validate());
  return std::unique_ptr<ReedSolomon>(new ReedSolomon(options));
}

ReedSolomon::ReedSolomon(const ReedSolomonOptions& options)
    : k_(options.data_shards),
      m_(options.parity_shards),
      cache_capacity_(options.decode_cache_entries),
      matrix_(static_cast<size_t>(k_ + m_) * k_),
      encode_tables_(static_cast<size_t>(32) * k_ * m_) {
  gf_gen_cauchy1_matrix(matrix_.data(), k_ + m_, k_);
  if (m_ > 0)
    ec_init_tables(k_, m_, matrix_.data() + static_cast<size_t>(k_) * k_, encode_tables_.data());
}

ReedSolomon::~ReedSolomon() = default;

absl::Status ReedSolomon::Encode(absl::Span<const uint8_t* const> data,
                                 absl::Span<uint8_t* const> parity, size_t shard_len) const {
  if (data.size() != static_cast<size_t>(k_) || parity.size() != static_cast<size_t>(m_)) {
    return absl::InvalidArgumentError(absl::StrCat("Encode wants ", k_, " data and ", m_,
                                                   " parity shards, got ", data.size(), " and ",
                                                   parity.size()));
  }
  TESSERA_RETURN_IF_ERROR(CheckShardLen(shard_len));
  for (const uint8_t* p : data) {
    if (p == nullptr) return absl::InvalidArgumentError("Encode: null data shard");
  }
  for (uint8_t* p : parity) {
    if (p == nullptr) return absl::InvalidArgumentError("Encode: null parity shard");
  }
  if (m_ == 0 || shard_len == 0) return absl::OkStatus();
  // ISA-L's signature is not const-correct; it only reads the sources and the tables.
  ec_encode_data(
      static_cast<int>(shard_len), k_, m_, const_cast<unsigned char*>(encode_tables_.data()),
      const_cast<unsigned char**>(data.data()), const_cast<unsigned char**>(parity.data()));
  return absl::OkStatus();
}

absl::Status ReedSolomon::Reconstruct(absl::Span<uint8_t* const> shards,
                                      absl::Span<const bool> present, size_t shard_len) const {
  if (present.size() != static_cast<size_t>(total_shards())) {
    return absl::InvalidArgumentError(absl::StrCat("Reconstruct wants ", total_shards(),
                                                   " presence flags, got ", present.size()));
  }
  uint64_t mask = 0;
  for (size_t i = 0; i < present.size(); ++i) {
    if (present[i]) mask |= uint64_t{1} << i;
  }
  return Reconstruct(shards, mask, shard_len);
}

absl::Status ReedSolomon::Reconstruct(absl::Span<uint8_t* const> shards, uint64_t present_mask,
                                      size_t shard_len) const {
  const int total = total_shards();
  if (shards.size() != static_cast<size_t>(total)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Reconstruct wants ", total, " shards, got ", shards.size()));
  }
  if ((present_mask & ~AllShardsMask(total)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("Reconstruct: presence mask has bits beyond shard ", total - 1));
  }
  TESSERA_RETURN_IF_ERROR(CheckShardLen(shard_len));
  for (uint8_t* p : shards) {
    if (p == nullptr) return absl::InvalidArgumentError("Reconstruct: null shard buffer");
  }
  const int missing = total - std::popcount(present_mask);
  if (missing > m_) {
    return absl::DataLossError(absl::StrCat("Reconstruct: ", missing,
                                            " shards missing but the code tolerates at most ", m_,
                                            " (k=", k_, ", m=", m_, ")"));
  }
  if (missing == 0 || shard_len == 0) return absl::OkStatus();

  TESSERA_ASSIGN_OR_RETURN(std::shared_ptr<const DecodePlan> plan, GetPlan(present_mask));
  // At most 64 shards: fixed arrays keep the hot path free of allocations.
  uint8_t* sources[ReedSolomonOptions::kMaxTotalShards];
  uint8_t* targets[ReedSolomonOptions::kMaxTotalShards];
  for (int i = 0; i < k_; ++i) sources[i] = shards[plan->sources[i]];
  const int num_targets = static_cast<int>(plan->targets.size());
  for (int i = 0; i < num_targets; ++i) targets[i] = shards[plan->targets[i]];
  ec_encode_data(static_cast<int>(shard_len), k_, num_targets,
                 const_cast<unsigned char*>(plan->tables.data()), sources, targets);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const ReedSolomon::DecodePlan>> ReedSolomon::GetPlan(
    uint64_t present_mask) const {
  if (cache_capacity_ > 0) {
    absl::MutexLock lock(&mu_);
    auto it = index_.find(present_mask);
    if (it != index_.end()) {
      ++hits_;
      lru_.splice(lru_.begin(), lru_, it->second);
      return it->second->second;
    }
    ++misses_;
  }
  // Build outside the lock: inversion is the expensive part and other patterns may proceed.
  TESSERA_ASSIGN_OR_RETURN(std::shared_ptr<const DecodePlan> plan, BuildPlan(present_mask));
  if (cache_capacity_ > 0) {
    absl::MutexLock lock(&mu_);
    if (!index_.contains(present_mask)) {
      lru_.emplace_front(present_mask, plan);
      index_[present_mask] = lru_.begin();
      while (lru_.size() > cache_capacity_) {
        index_.erase(lru_.back().first);
        lru_.pop_back();
      }
    }
  }
  return plan;
}

absl::StatusOr<std::shared_ptr<const ReedSolomon::DecodePlan>> ReedSolomon::BuildPlan(
    uint64_t present_mask) const {
  auto plan = std::make_shared<DecodePlan>();
  const int total = total_shards();
  for (int i = 0; i < total; ++i) {
    if ((present_mask >> i) & 1) {
      if (static_cast<int>(plan->sources.size()) < k_) plan->sources.push_back(i);
    } else {
      plan->targets.push_back(i);
    }
  }
  if (static_cast<int>(plan->sources.size()) < k_) {
    return absl::DataLossError(absl::StrCat("Reconstruct: only ", plan->sources.size(),
                                            " shards present, ", k_, " needed"));
  }

  // B = generator rows of the chosen sources; D = B^-1 maps source shards to data shards.
  const size_t kk = static_cast<size_t>(k_) * k_;
  std::vector<uint8_t> b(kk);
  std::vector<uint8_t> d(kk);
  for (int r = 0; r < k_; ++r) {
    const uint8_t* row = &matrix_[static_cast<size_t>(plan->sources[r]) * k_];
    std::copy(row, row + k_, &b[static_cast<size_t>(r) * k_]);
  }
  if (gf_invert_matrix(b.data(), d.data(), k_) != 0) {
    // Impossible for a Cauchy generator; reported rather than producing wrong bytes.
    return absl::InternalError(
        absl::StrCat("Reconstruct: singular decode matrix for presence mask ", present_mask));
  }

  // One row per missing shard, expressed over the k sources. A missing data shard i is row i of
  // D; a missing parity shard p is (generator row p) x D, so data and parity are rebuilt in the
  // same pass without first materializing the missing data.
  const size_t num_targets = plan->targets.size();
  std::vector<uint8_t> rows(num_targets * k_, 0);
  for (size_t t = 0; t < num_targets; ++t) {
    const int target = plan->targets[t];
    uint8_t* out = &rows[t * k_];
    if (target < k_) {
      const uint8_t* src = &d[static_cast<size_t>(target) * k_];
      std::copy(src, src + k_, out);
    } else {
      const uint8_t* gen = &matrix_[static_cast<size_t>(target) * k_];
      for (int j = 0; j < k_; ++j) {
        if (gen[j] == 0) continue;
        const uint8_t* drow = &d[static_cast<size_t>(j) * k_];
        for (int c = 0; c < k_; ++c) out[c] ^= gf_mul(gen[j], drow[c]);
      }
    }
  }
  plan->tables.resize(32 * static_cast<size_t>(k_) * num_targets);
  ec_init_tables(k_, static_cast<int>(num_targets), rows.data(), plan->tables.data());
  return std::shared_ptr<const DecodePlan>(std::move(plan));
}

ReedSolomonCacheStats ReedSolomon::cache_stats() const {
  absl::MutexLock lock(&mu_);
  ReedSolomonCacheStats stats;
  stats.hits = hits_;
  stats.misses = misses_;
  stats.entries = lru_.size();
  return stats;
}

}  // namespace tessera::storage
