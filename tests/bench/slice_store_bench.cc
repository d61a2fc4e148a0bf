// Slice store throughput vs the raw speed of the same disk, measured in the same run.
//
//   bazel run -c opt //tests/bench:slice_store_bench -- --dir=/tmp/tessera_bench --seconds=2.5
//
// Cases (each at queue depth 1 and 8 = threads):
//   1 MiB Put:  SliceStore::Put  vs raw: write file + fdatasync + fsync dir + synced RocksDB put
//   1 MiB Get:  SliceStore::Get  vs raw: open + pread + close of the same-size file
//   4 KiB Put:  SliceStore::Put (inline in the index) vs raw synced RocksDB puts of 4 KiB
// Prints MiB/s or ops/s and the ratio store/raw (targets: >= 0.8 for 1 MiB at depth 8, >= 0.5
// for 4 KiB). Everything is written under --dir, which is removed at the end.
#include <fcntl.h>
#include <unistd.h>

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

void Report(const char* what, int depth, Result store, Result raw, double unit_bytes,
            double target) {
  const bool mib = unit_bytes > 0;
  auto rate = [&](const Result& r) {
    return mib ? r.OpsPerSec() * unit_bytes / (1 << 20) : r.OpsPerSec();
  };
  const double ratio = rate(raw) > 0 ? rate(store) / rate(raw) : 0;
  std::printf("%-12s depth %d  store %9.1f %s  raw %9.1f %s  ratio %.2f%s\n", what, depth,
              rate(store), mib ? "MiB/s" : "ops/s", rate(raw), mib ? "MiB/s" : "ops/s", ratio,
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
  std::printf("slice_store_bench: dir=%s seconds/case=%.1f\n", root.c_str(),
              absl::GetFlag(FLAGS_seconds));

  for (int depth : {1, 8}) {
    const uint32_t tag = static_cast<uint32_t>(depth);
    Result raw_put =
        RunCase(depth, [&](int, uint64_t n) { return raw.PutFile(n + 1000000 * tag, big); });
    Result store_put = RunCase(
        depth, [&](int, uint64_t n) { return store->Put(Id(n, tag), big, std::nullopt).ok(); });
    Report("1MiB put", depth, store_put, raw_put, kBig, depth == 8 ? 0.8 : 0);
    const uint64_t have_raw = raw_put.ops, have_store = store_put.ops;
    Result raw_get = RunCase(
        depth, [&](int, uint64_t n) { return raw.GetFile(n % have_raw + 1000000 * tag, kBig); });
    Result store_get = RunCase(depth, [&](int, uint64_t n) {
      auto got = store->Get(Id(n % have_store, tag), {});
      return got.ok() && got->size() == kBig;
    });
    Report("1MiB get", depth, store_get, raw_get, kBig, 0);
    // Free the space before the next depth.
    for (uint64_t n = 0; n < have_store; ++n) (void)store->Delete(Id(n, tag));
    for (uint64_t n = 0; n < have_raw; ++n) std::filesystem::remove(raw.Path(n + 1000000 * tag));
  }
  for (int depth : {1, 8}) {
    const uint32_t tag = 100 + static_cast<uint32_t>(depth);
    Result raw_put = RunCase(
        depth, [&](int, uint64_t n) { return raw.PutDb(absl::StrCat("s", tag, "/", n), small); });
    Result store_put = RunCase(
        depth, [&](int, uint64_t n) { return store->Put(Id(n, tag), small, std::nullopt).ok(); });
    Report("4KiB put", depth, store_put, raw_put, 0, depth == 8 ? 0.5 : 0);
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
