// cluster_bench: throughput and latency of a local 6-node cluster (3 sites, k=4 m=2, real
// loopback gRPC, synced disks) through the gRPC Gateway API (C++ SDK), each figure printed as a
// ratio to the ceiling computed from this machine's raw stage speeds measured in the same run.
//
//   bazel run -c opt //tests/bench:cluster_bench -- --dir=/tmp/tessera_cluster_bench
//       [--large_mib=64] [--large_objects=4] [--small_seconds=5] [--big_gib=2]
//
// Reports: PUT / GET MiB/s of --large_mib objects with 1 and 8 concurrent clients; ops/s and
// p50/p99 of 4 KiB PUT and GET at concurrency 16; process RSS (nodes + gateway + client: one
// process) sampled every 100 ms during a --big_gib streamed upload (start / peak / end).
// See docs/benchmarks.md for the ceiling computation.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "api/sdk/client.h"
#include "base/logging.h"
#include "tests/bench/cluster_bench_lib.h"

ABSL_FLAG(std::string, dir, "/tmp/tessera_cluster_bench", "Scratch directory (node data).");
ABSL_FLAG(int, large_mib, 64, "Size of the large objects, MiB.");
ABSL_FLAG(int, large_objects, 4, "Large objects per client (1 and 8 clients).");
ABSL_FLAG(double, small_seconds, 5, "Seconds of 4 KiB PUT, then of 4 KiB GET.");
ABSL_FLAG(int, small_concurrency, 16, "Concurrent 4 KiB clients.");
ABSL_FLAG(double, big_gib, 2, "Size of the big streamed upload for the RSS check, GiB (0: skip).");
ABSL_FLAG(int, reps, 3, "Passes per raw-limit measurement.");

namespace tessera::bench {
namespace {

using sdk::Client;

// The SDK as a benchmark protocol: worker w uses clients[w].
PutFn SdkPut(std::vector<std::unique_ptr<Client>>& clients) {
  return [&clients](int w, const std::string& key, absl::string_view data) {
    return clients[w]->PutObject("bench", key, data).status();
  };
}

GetFn SdkGet(std::vector<std::unique_ptr<Client>>& clients) {
  return [&clients](int w, const std::string& key) -> absl::StatusOr<uint64_t> {
    uint64_t got = 0;
    auto info = clients[w]->GetObjectToSink("bench", key, [&](absl::string_view d) {
      got += d.size();
      return absl::OkStatus();
    });
    if (!info.ok()) return info.status();
    return got;
  };
}

int Main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  SetLogLevel(LogLevel::kWarning);
  const std::string dir = absl::GetFlag(FLAGS_dir);
  const int large_mib = absl::GetFlag(FLAGS_large_mib);
  const int per_client = absl::GetFlag(FLAGS_large_objects);
  const int small_n = absl::GetFlag(FLAGS_small_concurrency);
  const double big_gib = absl::GetFlag(FLAGS_big_gib);
  if (dir.empty() || large_mib <= 0 || per_client <= 0 || small_n <= 0 || big_gib < 0) {
    std::fprintf(stderr, "cluster_bench: bad flags\n");
    return 2;
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir + "/cluster", ignored);  // a previous run's nodes

  BenchClusterOptions co;
  co.dir = dir;
  std::printf("starting 6 nodes in 3 sites, k=%d m=%d, stripes of %llu MiB, under %s\n", co.k, co.m,
              static_cast<unsigned long long>(co.stripe_size >> 20), dir.c_str());
  auto cluster = BenchCluster::Start(co);
  if (!cluster.ok()) {
    std::fprintf(stderr, "cluster_bench: %s\n", cluster.status().ToString().c_str());
    return 1;
  }
  RawLimitsOptions lo;
  lo.dir = dir;
  lo.k = co.k;
  lo.m = co.m;
  lo.reps = absl::GetFlag(FLAGS_reps);
  auto limits = MeasureRawLimits(lo);
  if (!limits.ok()) {
    std::fprintf(stderr, "cluster_bench: raw limits: %s\n", limits.status().ToString().c_str());
    return 1;
  }
  PrintRawLimits(*limits);
  const RawLimits::Crossings put_c = RawLimits::PutCrossings(co.k, co.m);
  const RawLimits::Crossings get_c = RawLimits::GetCrossings(co.k, co.m);
  const double put_ceiling = limits->Ceiling(put_c);
  const double get_ceiling = limits->Ceiling(get_c);
  std::printf("PUT ceiling %.1f MiB/s: %s\n", MiB(put_ceiling), limits->Breakdown(put_c).c_str());
  std::printf("GET ceiling %.1f MiB/s: %s\n", MiB(get_ceiling), limits->Breakdown(get_c).c_str());

  auto clients = SdkClients(**cluster, std::max(8, small_n));
  if (!clients.ok()) {
    std::fprintf(stderr, "cluster_bench: %s\n", clients.status().ToString().c_str());
    return 1;
  }
  if (auto b = (*clients)[0]->CreateBucket("bench"); !b.ok()) {
    std::fprintf(stderr, "cluster_bench: %s\n", b.status().ToString().c_str());
    return 1;
  }
  const std::string payload = RandomBytes(size_t(large_mib) << 20, 3);
  std::printf("\n%-34s %10s %10s\n", "gRPC API (SDK)", "MiB/s", "/ceiling");
  for (int n : {1, 8}) {
    const std::string tag = absl::StrCat("large", n);
    absl::StatusOr<double> put_bps = LargePut(n, per_client, payload, tag, SdkPut(*clients));
    absl::StatusOr<double> get_bps =
        put_bps.ok() ? LargeGet(n, per_client, payload.size(), tag, SdkGet(*clients))
                     : put_bps.status();
    if (!get_bps.ok()) {
      std::fprintf(stderr, "cluster_bench: large x%d: %s\n", n,
                   get_bps.status().ToString().c_str());
      return 1;
    }
    std::printf("PUT %d MiB x %d clients x %d%*s %10.1f %9.0f%%\n", large_mib, n, per_client,
                n < 10 ? 8 : 7, "", MiB(*put_bps), 100 * *put_bps / put_ceiling);
    std::printf("GET %d MiB x %d clients x %d%*s %10.1f %9.0f%%\n", large_mib, n, per_client,
                n < 10 ? 8 : 7, "", MiB(*get_bps), 100 * *get_bps / get_ceiling);
  }
  auto ops = RunSmallObjects(small_n, absl::GetFlag(FLAGS_small_seconds), SdkPut(*clients),
                             SdkGet(*clients));
  if (!ops.ok()) {
    std::fprintf(stderr, "cluster_bench: small: %s\n", ops.status().ToString().c_str());
    return 1;
  }
  std::printf("\n4 KiB objects, concurrency %d (reference: bare gRPC unary 4 KiB echo %.0f/s)\n",
              small_n, limits->grpc_unary_ops);
  std::printf("PUT %8.0f ops/s (%4.1f%% of echo)  p50 %6.2f ms  p99 %6.2f ms\n", ops->put_ops,
              100 * ops->put_ops / limits->grpc_unary_ops, ops->put_p50 * 1e3, ops->put_p99 * 1e3);
  std::printf("GET %8.0f ops/s (%4.1f%% of echo)  p50 %6.2f ms  p99 %6.2f ms\n", ops->get_ops,
              100 * ops->get_ops / limits->grpc_unary_ops, ops->get_p50 * 1e3, ops->get_p99 * 1e3);

  if (big_gib > 0) {
    const uint64_t total = static_cast<uint64_t>(big_gib * (1ull << 30));
    const std::string block = RandomBytes(1 << 20, 13);
    uint64_t produced = 0;
    RssSampler rss(100);
    const double t0 = WallSeconds();
    auto info = (*clients)[0]->PutObjectFromReader(
        "bench", "big",
        [&](char* buf, size_t cap) -> absl::StatusOr<size_t> {
          const size_t n = std::min<uint64_t>({cap, total - produced, block.size()});
          std::memcpy(buf, block.data(), n);
          produced += n;
          return n;
        },
        static_cast<int64_t>(total));
    const double wall = WallSeconds() - t0;
    rss.Stop();
    if (!info.ok()) {
      std::fprintf(stderr, "cluster_bench: big upload: %s\n", info.status().ToString().c_str());
      return 1;
    }
    std::printf(
        "\nbig upload %.2f GiB streamed (1 MiB messages): %.1f MiB/s (%.0f%% of ceiling)\n"
        "RSS of the whole process (6 nodes + gateway + client), %zu samples every 100 ms:\n"
        "  start %.0f MiB, peak %.0f MiB (+%.0f MiB), end %.0f MiB\n",
        big_gib, MiB(total / wall), 100 * (total / wall) / put_ceiling, rss.samples(),
        MiB(rss.start()), MiB(rss.peak()), MiB(double(rss.peak()) - rss.start()), MiB(rss.end()));
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace tessera::bench

int main(int argc, char** argv) { return tessera::bench::Main(argc, argv); }
