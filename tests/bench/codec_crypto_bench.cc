// codec_crypto_bench: our erasure codec and stripe AEAD against the raw ISA-L / libsodium calls
// they wrap, on one working set in one run, with memcpy as the machine's reference speed.
//
//   bazel run //tests/bench:codec_crypto_bench -- [--reps=9] [--working_set_mib=64]
//       [--stripe_mib=4]
//
// Every figure is the median of --reps timed passes over the whole working set; raw and ours are
// timed alternately so drift (frequency scaling, noisy neighbours) hits both alike. Throughput is
// stripe (plaintext / data) bytes per second. Target: ours >= 90% of raw.
#include <isa-l/erasure_code.h>
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/types/span.h"
#include "base/sodium.h"
#include "storage/crypto/secret_key.h"
#include "storage/crypto/stripe_cipher.h"
#include "storage/erasure/reed_solomon.h"

namespace tessera::storage {
namespace {

struct Config {
  int reps = 9;
  size_t working_set = size_t{64} << 20;
  size_t stripe = size_t{4} << 20;
};

bool ParseFlag(absl::string_view arg, absl::string_view name, int* out) {
  if (!absl::ConsumePrefix(&arg, name)) return false;
  return absl::SimpleAtoi(arg, out) && *out > 0;
}

double Seconds(const std::function<void()>& fn) {
  const auto start = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Row {
  std::string name;
  double raw_gbps;
  double ours_gbps;
};

std::vector<Row> rows;
bool all_ok = true;

void Check(bool ok, absl::string_view what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", std::string(what).c_str());
    all_ok = false;
  }
}

// Times `raw` and `ours` alternately, each processing `bytes`, and records the medians.
void Compare(const Config& config, const std::string& name, size_t bytes,
             const std::function<void()>& raw, const std::function<void()>& ours) {
  raw();  // warm caches, page in buffers, fill decode caches
  ours();
  std::vector<double> raw_t, ours_t;
  for (int r = 0; r < config.reps; ++r) {
    raw_t.push_back(Seconds(raw));
    ours_t.push_back(Seconds(ours));
  }
  rows.push_back({name, bytes / Median(raw_t) / 1e9, bytes / Median(ours_t) / 1e9});
}

// Rows of the inverse decode matrix that rebuild data shards `lost` (< k) from the first k
// surviving shards, as ISA-L tables: what any raw ISA-L decoder precomputes.
std::vector<uint8_t> RawDecodeTables(int k, int m, const std::vector<int>& lost,
                                     std::vector<int>* sources) {
  std::vector<uint8_t> matrix((k + m) * k), b(k * k), inv(k * k), rows_out(lost.size() * k);
  gf_gen_cauchy1_matrix(matrix.data(), k + m, k);
  sources->clear();
  for (int i = 0; i < k + m && static_cast<int>(sources->size()) < k; ++i) {
    if (std::find(lost.begin(), lost.end(), i) == lost.end()) sources->push_back(i);
  }
  for (int r = 0; r < k; ++r) {
    std::memcpy(&b[r * k], &matrix[(*sources)[r] * k], k);
  }
  if (gf_invert_matrix(b.data(), inv.data(), k) != 0) std::abort();
  for (size_t t = 0; t < lost.size(); ++t) std::memcpy(&rows_out[t * k], &inv[lost[t] * k], k);
  std::vector<uint8_t> tables(32 * k * lost.size());
  ec_init_tables(k, static_cast<int>(lost.size()), rows_out.data(), tables.data());
  return tables;
}

void BenchErasure(const Config& config, const std::vector<uint8_t>& working_set, int k, int m) {
  const size_t shard_len = (config.stripe + k - 1) / k;
  const size_t stripes = config.working_set / config.stripe;
  const size_t stripe_bytes = shard_len * k;
  // Per stripe: k data shards copied from the working set, m parity shards.
  std::vector<std::vector<uint8_t>> data(stripes), parity(stripes);
  std::vector<std::vector<uint8_t*>> shard_ptrs(stripes);
  for (size_t s = 0; s < stripes; ++s) {
    data[s].assign(stripe_bytes, 0);
    std::memcpy(data[s].data(), working_set.data() + s * config.stripe, config.stripe);
    parity[s].assign(shard_len * m, 0);
    for (int i = 0; i < k; ++i) shard_ptrs[s].push_back(data[s].data() + i * shard_len);
    for (int i = 0; i < m; ++i) shard_ptrs[s].push_back(parity[s].data() + i * shard_len);
  }
  const std::vector<std::vector<uint8_t>> original = data;

  auto rs = ReedSolomon::Create(k, m);
  Check(rs.ok(), "ReedSolomon::Create");
  if (!rs.ok()) return;
  std::vector<uint8_t> matrix((k + m) * k), encode_tables(32 * k * m);
  gf_gen_cauchy1_matrix(matrix.data(), k + m, k);
  ec_init_tables(k, m, matrix.data() + k * k, encode_tables.data());

  const size_t total_bytes = stripes * stripe_bytes;
  Compare(
      config, absl::StrFormat("RS encode k=%d m=%d", k, m), total_bytes,
      [&] {
        for (size_t s = 0; s < stripes; ++s) {
          ec_encode_data(static_cast<int>(shard_len), k, m, encode_tables.data(),
                         shard_ptrs[s].data(), shard_ptrs[s].data() + k);
        }
      },
      [&] {
        for (size_t s = 0; s < stripes; ++s) {
          absl::Span<uint8_t* const> all(shard_ptrs[s]);
          std::vector<const uint8_t*> in(all.begin(), all.begin() + k);
          Check((*rs)->Encode(in, all.subspan(k), shard_len).ok(), "Encode");
        }
      });

  for (int lost_count : {1, m}) {
    std::vector<int> lost;
    uint64_t present = (uint64_t{1} << (k + m)) - 1;
    for (int i = 0; i < lost_count; ++i) {
      lost.push_back(i);  // data shards: the expensive case
      present &= ~(uint64_t{1} << i);
    }
    std::vector<int> sources;
    std::vector<uint8_t> tables = RawDecodeTables(k, m, lost, &sources);
    Compare(
        config, absl::StrFormat("RS decode k=%d m=%d lost=%d", k, m, lost_count), total_bytes,
        [&] {
          uint8_t* src[64];
          uint8_t* dst[64];
          for (size_t s = 0; s < stripes; ++s) {
            for (int i = 0; i < k; ++i) src[i] = shard_ptrs[s][sources[i]];
            for (int i = 0; i < lost_count; ++i) dst[i] = shard_ptrs[s][lost[i]];
            ec_encode_data(static_cast<int>(shard_len), k, lost_count, tables.data(), src, dst);
          }
        },
        [&] {
          for (size_t s = 0; s < stripes; ++s) {
            Check((*rs)->Reconstruct(shard_ptrs[s], present, shard_len).ok(), "Reconstruct");
          }
        });
  }
  Check(data == original, "decoded data equals the original");
}

void BenchAead(const Config& config, const std::vector<uint8_t>& working_set,
               AeadAlgorithm algorithm) {
  const size_t stripes = config.working_set / config.stripe;
  SecretKey key = SecretKey::Generate();
  auto cipher = StripeCipher::Create(algorithm, key.Clone());
  Check(cipher.ok(), "StripeCipher::Create");
  if (!cipher.ok()) return;
  const size_t sealed_len = cipher->SealedSize(config.stripe);
  std::vector<uint8_t> sealed(stripes * sealed_len);
  std::vector<uint8_t> opened(config.working_set);
  const std::string version(16, 'v');
  uint8_t ad[StripeCipher::kAssociatedDataSize] = {};
  uint8_t nonce[24];
  SecureRandomBytes(nonce, sizeof(nonce));
  crypto_aead_aes256gcm_state aes_state;
  const bool aes = algorithm == AeadAlgorithm::kAes256Gcm;
  if (aes) crypto_aead_aes256gcm_beforenm(&aes_state, key.data());
  const std::string name(AeadAlgorithmName(algorithm));
  const size_t header = cipher->header_size();

  auto raw_seal = [&] {
    for (size_t s = 0; s < stripes; ++s) {
      unsigned long long out_len;
      uint8_t* out = sealed.data() + s * sealed_len + header;
      const uint8_t* in = working_set.data() + s * config.stripe;
      if (aes) {
        crypto_aead_aes256gcm_encrypt(out, &out_len, in, config.stripe, ad, sizeof(ad), nullptr,
                                      nonce, key.data());
      } else {
        crypto_aead_xchacha20poly1305_ietf_encrypt(out, &out_len, in, config.stripe, ad, sizeof(ad),
                                                   nullptr, nonce, key.data());
      }
    }
  };
  auto ours_seal = [&] {
    for (size_t s = 0; s < stripes; ++s) {
      StripeContext ctx{version, 1, static_cast<uint32_t>(s)};
      Check(cipher
                ->Seal(ctx,
                       absl::MakeConstSpan(working_set.data() + s * config.stripe, config.stripe),
                       absl::MakeSpan(sealed.data() + s * sealed_len, sealed_len))
                .ok(),
            "Seal");
    }
  };
  Compare(config, "AEAD seal " + name, stripes * config.stripe, raw_seal, ours_seal);

  // Raw open decrypts what ours sealed, with our nonce and AD, so both really verify.
  auto raw_open = [&] {
    for (size_t s = 0; s < stripes; ++s) {
      StripeContext ctx{version, 1, static_cast<uint32_t>(s)};
      uint8_t stripe_ad[StripeCipher::kAssociatedDataSize];
      stripe_ad[0] = StripeCipher::kFormatVersion;
      stripe_ad[1] = static_cast<uint8_t>(algorithm);
      std::memcpy(stripe_ad + 2, ctx.version_id.data(), 16);
      for (int i = 0; i < 4; ++i) stripe_ad[18 + i] = static_cast<uint8_t>(1u >> (24 - 8 * i));
      for (int i = 0; i < 4; ++i) {
        stripe_ad[22 + i] = static_cast<uint8_t>(static_cast<uint32_t>(s) >> (24 - 8 * i));
      }
      const uint8_t* in = sealed.data() + s * sealed_len;
      unsigned long long out_len;
      int rc;
      if (aes) {
        rc = crypto_aead_aes256gcm_decrypt(opened.data() + s * config.stripe, &out_len, nullptr,
                                           in + header, sealed_len - header, stripe_ad,
                                           sizeof(stripe_ad), in + 2, key.data());
      } else {
        rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
            opened.data() + s * config.stripe, &out_len, nullptr, in + header, sealed_len - header,
            stripe_ad, sizeof(stripe_ad), in + 2, key.data());
      }
      Check(rc == 0, "raw decrypt of our sealed stripe");
    }
  };
  auto ours_open = [&] {
    for (size_t s = 0; s < stripes; ++s) {
      StripeContext ctx{version, 1, static_cast<uint32_t>(s)};
      auto n = cipher->Open(ctx, absl::MakeConstSpan(sealed.data() + s * sealed_len, sealed_len),
                            absl::MakeSpan(opened.data() + s * config.stripe, config.stripe));
      Check(n.ok(), "Open");
    }
  };
  Compare(config, "AEAD open " + name, stripes * config.stripe, raw_open, ours_open);
  Check(opened == working_set, "opened equals plaintext");
  sodium_memzero(&aes_state, sizeof(aes_state));
}

int Main(int argc, char** argv) {
  Config config;
  for (int i = 1; i < argc; ++i) {
    int value = 0;
    if (ParseFlag(argv[i], "--reps=", &config.reps)) continue;
    if (ParseFlag(argv[i], "--working_set_mib=", &value)) {
      config.working_set = size_t(value) << 20;
      continue;
    }
    if (ParseFlag(argv[i], "--stripe_mib=", &value)) {
      config.stripe = size_t(value) << 20;
      continue;
    }
    std::fprintf(stderr, "usage: %s [--reps=N] [--working_set_mib=N] [--stripe_mib=N]\n", argv[0]);
    return 2;
  }
  if (config.stripe > config.working_set) config.stripe = config.working_set;
  config.working_set -= config.working_set % config.stripe;

  EnsureSodiumInitialized();
  std::vector<uint8_t> working_set(config.working_set);
  SecureRandomBytes(working_set.data(), working_set.size());

  const auto start = std::chrono::steady_clock::now();
  std::vector<uint8_t> copy(config.working_set);
  std::vector<double> memcpy_t;
  for (int r = 0; r <= config.reps; ++r) {
    const double t =
        Seconds([&] { std::memcpy(copy.data(), working_set.data(), working_set.size()); });
    if (r > 0) memcpy_t.push_back(t);
  }
  const double memcpy_gbps = config.working_set / Median(memcpy_t) / 1e9;

  for (auto [k, m] : {std::pair{4, 2}, std::pair{6, 3}, std::pair{8, 4}}) {
    BenchErasure(config, working_set, k, m);
  }
  BenchAead(config, working_set, AeadAlgorithm::kXChaCha20Poly1305Ietf);
  if (AeadAlgorithmAvailable(AeadAlgorithm::kAes256Gcm)) {
    BenchAead(config, working_set, AeadAlgorithm::kAes256Gcm);
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("codec_crypto_bench: working set %zu MiB, stripe %zu MiB, median of %d reps\n",
              config.working_set >> 20, config.stripe >> 20, config.reps);
  std::printf("memcpy reference: %.2f GB/s\n\n", memcpy_gbps);
  std::printf("%-32s %10s %10s %8s %9s\n", "operation", "raw GB/s", "ours GB/s", "ours/raw",
              "raw/memcpy");
  int below = 0;
  for (const Row& row : rows) {
    const double ratio = row.ours_gbps / row.raw_gbps;
    if (ratio < 0.9) ++below;
    std::printf("%-32s %10.2f %10.2f %7.1f%% %8.1f%%%s\n", row.name.c_str(), row.raw_gbps,
                row.ours_gbps, 100 * ratio, 100 * row.raw_gbps / memcpy_gbps,
                ratio < 0.9 ? "  < 90% target" : "");
  }
  std::printf("\n%zu comparisons, %d below the 90%% target, verification %s, %.1f s\n", rows.size(),
              below, all_ok ? "ok" : "FAILED", elapsed);
  return all_ok ? 0 : 1;
}

}  // namespace
}  // namespace tessera::storage

int main(int argc, char** argv) { return tessera::storage::Main(argc, argv); }
