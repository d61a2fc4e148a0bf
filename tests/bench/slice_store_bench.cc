// Slice store throughput vs the raw speed of the same disk, measured in the same run.
//
//   bazel run -c opt //tests/bench:slice_store_bench --
//       --dir=/tmp/tessera_bench --seconds=1 --reps=5   (one command line)
//
// Cases (each at queue depth 1 and 8 = threads):
//   1 MiB Put:  SliceStore::Put  vs raw: write file + fdatasync + fsync dir + synced RocksDB put
//   1 MiB Get:  SliceStore::Get  vs raw: open + pread + close of the same-size file
//   4 KiB Put:  SliceStore::Put (inline in the index) vs raw synced RocksDB puts of 4 KiB
// Prints MiB/s or ops/s and the ratio store/raw (targets: >= 0.8 for 1 MiB at depth 8, >= 0.5
// for 4 KiB). Each case runs --reps times, raw and store alternating (which goes first alternates
// too), and prints the median rate of each side and the median of the per-repetition ratios: a
// shared, noisy disk drifts, and pairing neighbouring runs cancels most of the drift. Everything
// is written under --dir, which is removed at the end.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "storage/store/slice_store.h"

ABSL_FLAG(std::string, dir, "/tmp/tessera_slice_store_bench", "scratch directory (same disk)");
ABSL_FLAG(double, seconds, 2.5, "seconds per case");
ABSL_FLAG(int, max_ops, 600, "cap on operations per case (bounds disk use for 1 MiB cases)");
ABSL_FLAG(int, reps, 5, "repetitions per case; the medians are printed");

namespace tessera::storage {
namespace {

struct Result {
  uint64_t ops = 0;
  double seconds = 0;
  double OpsPerSec() const { return seconds > 0 ? ops / seconds : 0; }
};

// Runs `op(thread, seq)` on `threads` threads until the time or op budget is spent.
Result RunCase(int threads, const std::function<bool(int, uint64_t)>& op) {
  const absl::Duration budget = absl::Seconds(absl::GetFlag(FLAGS_seconds));
  const uint64_t max_ops = absl::GetFlag(FLAGS_max_ops);
  std::atomic<uint64_t> next{0}, done{0};
  const absl::Time start = absl::Now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      while (absl::Now() - start < budget) {
        const uint64_t seq = next.fetch_add(1);
        if (seq >= max_ops) return;
        if (!op(t, seq)) {
          std::fprintf(stderr, "operation failed\n");
          std::exit(1);
        }
        done.fetch_add(1);
      }
    });
  }
  for (auto& th : pool) th.join();
  return {done.load(), absl::ToDoubleSeconds(absl::Now() - start)};
}

SliceId Id(uint64_t n, uint32_t tag) {
  SliceId id;
  id.version_id = std::string(SliceId::kVersionIdSize, 'b');
  for (int i = 0; i < 8; ++i) id.version_id[i] = static_cast<char>(n >> (8 * i));
  id.part = tag;
  return id;
}

std::string Bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  return s;
}

// The raw baseline: plain POSIX files in one directory plus a RocksDB with synced puts.
class Raw {
 public:
  explicit Raw(const std::string& dir) : dir_(dir) {
    std::filesystem::create_directories(dir + "/files");
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    if (!rocksdb::DB::Open(o, dir + "/db", &db).ok()) std::exit(1);
    db_.reset(db);
    dir_fd_ = ::open((dir + "/files").c_str(), O_RDONLY | O_DIRECTORY);
  }
  ~Raw() {
    ::close(dir_fd_);
    (void)db_->Close();
  }
  std::string Path(uint64_t n) { return absl::StrCat(dir_, "/files/", n); }
  bool PutFile(uint64_t n, const std::string& data) {
    int fd = ::open(Path(n).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) &&
              ::fdatasync(fd) == 0;
    ::close(fd);
    ok = ok && ::fsync(dir_fd_) == 0;
    return ok && PutDb(absl::StrCat("f", n), std::string(64, 'e'));
  }
  bool GetFile(uint64_t n, size_t size) {
    std::string buf(size, '\0');
    int fd = ::open(Path(n).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::pread(fd, buf.data(), size, 0) == static_cast<ssize_t>(size);
    ::close(fd);
    return ok;
  }
  bool PutDb(const std::string& key, const std::string& value) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    return db_->Put(wo, key, value).ok();
  }

 private:
  std::string dir_;
  int dir_fd_ = -1;
  std::unique_ptr<rocksdb::DB> db_;
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// One repetition: runs `raw` and `store` (order alternating with `rep`) and returns the rates
// (MiB/s when unit_bytes > 0, else ops/s). `cleanup` runs after each repetition.
struct Rates {
  double store = 0, raw = 0;
};
Rates RunPair(int rep, double unit_bytes, const std::function<Result()>& raw,
              const std::function<Result()>& store) {
  auto rate = [&](const Result& r) {
    return unit_bytes > 0 ? r.OpsPerSec() * unit_bytes / (1 << 20) : r.OpsPerSec();
  };
  Rates out;
  if (rep % 2 == 0) {
    out.raw = rate(raw());
    out.store = rate(store());
  } else {
    out.store = rate(store());
    out.raw = rate(raw());
  }
  return out;
}

void Report(const char* what, int depth, const std::vector<Rates>& reps, bool mib, double target) {
  std::vector<double> store, raw, ratio;
  for (const Rates& r : reps) {
    store.push_back(r.store);
    raw.push_back(r.raw);
    ratio.push_back(r.raw > 0 ? r.store / r.raw : 0);
  }
  const auto [lo, hi] = std::minmax_element(ratio.begin(), ratio.end());
  std::printf(
      "%-10s depth %d  store %9.1f %s  raw %9.1f %s  ratio %.2f (min %.2f max %.2f, %zu reps)%s\n",
      what, depth, Median(store), mib ? "MiB/s" : "ops/s", Median(raw), mib ? "MiB/s" : "ops/s",
      Median(ratio), *lo, *hi, reps.size(),
      target > 0 ? absl::StrCat("  (target >= ", target, ")").c_str() : "");
  std::fflush(stdout);
}

int Main() {
  const std::string root = absl::GetFlag(FLAGS_dir);
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root);
  SliceStoreOptions options;
  options.index_dir = root + "/store/meta";
  options.data_dirs = {root + "/store/data"};
  auto opened = OpenSliceStore(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<SliceStore> store = std::move(opened).value();
  Raw raw(root + "/raw");

  constexpr size_t kBig = 1 << 20, kSmall = 4 << 10;
  const std::string big = Bytes(kBig, 1), small = Bytes(kSmall, 2);
  const int reps = std::max(1, absl::GetFlag(FLAGS_reps));
  std::printf("slice_store_bench: dir=%s seconds/case=%.1f reps=%d\n", root.c_str(),
              absl::GetFlag(FLAGS_seconds), reps);

  for (int depth : {1, 8}) {
    std::vector<Rates> puts, gets;
    for (int r = 0; r < reps; ++r) {
      const uint32_t tag = static_cast<uint32_t>(depth * 1000 + r);
      const uint64_t base = 1000000ull * tag;
      Result raw_put, store_put;
      puts.push_back(RunPair(
          r, kBig,
          [&] {
            return raw_put =
                       RunCase(depth, [&](int, uint64_t n) { return raw.PutFile(n + base, big); });
          },
          [&] {
            return store_put = RunCase(depth, [&](int, uint64_t n) {
                     return store->Put(Id(n, tag), big, std::nullopt).ok();
                   });
          }));
      const uint64_t have_raw = std::max<uint64_t>(1, raw_put.ops);
      const uint64_t have_store = std::max<uint64_t>(1, store_put.ops);
      gets.push_back(RunPair(
          r, kBig,
          [&] {
            return RunCase(depth,
                           [&](int, uint64_t n) { return raw.GetFile(n % have_raw + base, kBig); });
          },
          [&] {
            return RunCase(depth, [&](int, uint64_t n) {
              auto got = store->Get(Id(n % have_store, tag), {});
              return got.ok() && got->size() == kBig;
            });
          }));
      // Free the space before the next repetition.
      for (uint64_t n = 0; n < store_put.ops; ++n) (void)store->Delete(Id(n, tag));
      for (uint64_t n = 0; n < raw_put.ops; ++n) std::filesystem::remove(raw.Path(n + base));
    }
    Report("1MiB put", depth, puts, true, depth == 8 ? 0.8 : 0);
    Report("1MiB get", depth, gets, true, 0);
  }
  for (int depth : {1, 8}) {
    std::vector<Rates> puts;
    for (int r = 0; r < reps; ++r) {
      const uint32_t tag = static_cast<uint32_t>(100000 + depth * 1000 + r);
      puts.push_back(RunPair(
          r, 0,
          [&] {
            return RunCase(depth, [&](int, uint64_t n) {
              return raw.PutDb(absl::StrCat("s", tag, "/", n), small);
            });
          },
          [&] {
            return RunCase(depth, [&](int, uint64_t n) {
              return store->Put(Id(n, tag), small, std::nullopt).ok();
            });
          }));
    }
    Report("4KiB put", depth, puts, false, depth == 8 ? 0.5 : 0);
  }
  store.reset();
  std::filesystem::remove_all(root);
  return 0;
}

}  // namespace
}  // namespace tessera::storage

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return tessera::storage::Main();
}
