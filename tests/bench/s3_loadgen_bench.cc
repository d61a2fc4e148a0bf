// s3_bench: the S3 front end against the gRPC Gateway API on the same in-process cluster (6 nodes
// in 3 sites, k=4 m=2, synced disks), both driven over loopback sockets at the same concurrency:
// PUT / GET MiB/s of --large_mib objects and 4 KiB ops/s, with S3/gRPC ratios and each figure's
// ratio to the ceiling from this machine's raw stage limits measured in the same run.
//
//   bazel run -c opt //tests/bench:s3_bench -- --dir=/tmp/tessera_s3_bench
//       [--concurrency=16] [--large_mib=64] [--large_objects=1] [--small_seconds=5]
//
// The S3 load generator (s3_loadgen.h) speaks real S3: Beast HTTP/1.1 keep-alive connections,
// SigV4-signed with our signer; PUT bodies UNSIGNED-PAYLOAD, plus one extra PUT round with the
// signed body SHA-256 (client hashes, server re-hashes) to show what signed bodies cost.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "api/sdk/client.h"
#include "base/logging.h"
#include "tests/bench/cluster_bench_lib.h"
#include "tests/bench/s3_loadgen.h"

ABSL_FLAG(std::string, dir, "/tmp/tessera_s3_bench", "Scratch directory (node data).");
ABSL_FLAG(int, concurrency, 16, "Concurrent clients (each protocol).");
ABSL_FLAG(int, large_mib, 64, "Size of the large objects, MiB.");
ABSL_FLAG(int, large_objects, 1, "Large objects per client.");
ABSL_FLAG(double, small_seconds, 5, "Seconds of 4 KiB PUT, then of 4 KiB GET, per protocol.");
ABSL_FLAG(bool, signed_round, true, "Also run one S3 PUT round with signed payloads.");
ABSL_FLAG(int, reps, 3, "Passes per raw-limit measurement.");

namespace tessera::bench {
namespace {

int Fail(const char* what, const absl::Status& s) {
  std::fprintf(stderr, "s3_bench: %s: %s\n", what, s.ToString().c_str());
  return 1;
}

int Main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  SetLogLevel(LogLevel::kWarning);
  const std::string dir = absl::GetFlag(FLAGS_dir);
  const int n = absl::GetFlag(FLAGS_concurrency);
  const int large_mib = absl::GetFlag(FLAGS_large_mib);
  const int per = absl::GetFlag(FLAGS_large_objects);
  const double small_seconds = absl::GetFlag(FLAGS_small_seconds);
  if (dir.empty() || n <= 0 || large_mib <= 0 || per <= 0 || small_seconds <= 0) {
    std::fprintf(stderr, "s3_bench: bad flags\n");
    return 2;
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir + "/cluster", ignored);  // a previous run's nodes

  BenchClusterOptions co;
  co.dir = dir;
  co.s3 = true;
  std::printf("starting 6 nodes in 3 sites, k=%d m=%d, gRPC gateway + S3 server, under %s\n", co.k,
              co.m, dir.c_str());
  auto cluster = BenchCluster::Start(co);
  if (!cluster.ok()) return Fail("cluster", cluster.status());
  RawLimitsOptions lo;
  lo.dir = dir;
  lo.k = co.k;
  lo.m = co.m;
  lo.reps = absl::GetFlag(FLAGS_reps);
  auto limits = MeasureRawLimits(lo);
  if (!limits.ok()) return Fail("raw limits", limits.status());
  PrintRawLimits(*limits);
  const double put_ceiling = limits->Ceiling(RawLimits::PutCrossings(co.k, co.m));
  const double get_ceiling = limits->Ceiling(RawLimits::GetCrossings(co.k, co.m));
  std::printf("PUT ceiling %.1f MiB/s, GET ceiling %.1f MiB/s (docs/benchmarks.md)\n",
              MiB(put_ceiling), MiB(get_ceiling));

  std::vector<std::unique_ptr<sdk::Client>> grpc_clients;
  std::vector<std::unique_ptr<S3LoadClient>> s3_clients, s3_signed;
  sdk::ClientOptions grpc_options;
  grpc_options.access_key_id = co.s3_access_key;
  grpc_options.secret_access_key = co.s3_secret_key;
  for (int i = 0; i < n; ++i) {
    auto c = sdk::Client::Connect((*cluster)->grpc_endpoint(), grpc_options);
    if (!c.ok()) return Fail("sdk connect", c.status());
    grpc_clients.push_back(*std::move(c));
    S3LoadClientOptions so;
    so.port = (*cluster)->s3_port();
    so.access_key = co.s3_access_key;
    so.secret_key = co.s3_secret_key;
    auto s = S3LoadClient::Connect(so);
    if (!s.ok()) return Fail("s3 connect", s.status());
    s3_clients.push_back(*std::move(s));
    so.signed_payload = true;
    auto ss = S3LoadClient::Connect(so);
    if (!ss.ok()) return Fail("s3 connect", ss.status());
    s3_signed.push_back(*std::move(ss));
  }
  if (auto b = grpc_clients[0]->CreateBucket("grpcbench"); !b.ok()) {
    return Fail("bucket", b.status());
  }
  if (absl::Status s = s3_clients[0]->CreateBucket("s3bench"); !s.ok()) return Fail("bucket", s);

  const PutFn grpc_put = [&](int w, const std::string& key, absl::string_view d) {
    return grpc_clients[w]->PutObject("grpcbench", key, d).status();
  };
  const GetFn grpc_get = [&](int w, const std::string& key) -> absl::StatusOr<uint64_t> {
    uint64_t got = 0;
    auto info = grpc_clients[w]->GetObjectToSink("grpcbench", key, [&](absl::string_view d) {
      got += d.size();
      return absl::OkStatus();
    });
    if (!info.ok()) return info.status();
    return got;
  };
  const PutFn s3_put = [&](int w, const std::string& key, absl::string_view d) {
    return s3_clients[w]->Put("s3bench", key, d);
  };
  const PutFn s3_put_signed = [&](int w, const std::string& key, absl::string_view d) {
    return s3_signed[w]->Put("s3bench", key, d);
  };
  const GetFn s3_get = [&](int w, const std::string& key) {
    return s3_clients[w]->Get("s3bench", key);
  };

  const std::string payload = RandomBytes(size_t(large_mib) << 20, 3);
  auto g_put = LargePut(n, per, payload, "large", grpc_put);
  if (!g_put.ok()) return Fail("gRPC PUT", g_put.status());
  auto s_put = LargePut(n, per, payload, "large", s3_put);
  if (!s_put.ok()) return Fail("S3 PUT", s_put.status());
  auto g_get = LargeGet(n, per, payload.size(), "large", grpc_get);
  if (!g_get.ok()) return Fail("gRPC GET", g_get.status());
  auto s_get = LargeGet(n, per, payload.size(), "large", s3_get);
  if (!s_get.ok()) return Fail("S3 GET", s_get.status());
  absl::StatusOr<double> s_put_signed = 0.0;
  if (absl::GetFlag(FLAGS_signed_round)) {
    s_put_signed = LargePut(n, per, payload, "signed", s3_put_signed);
    if (!s_put_signed.ok()) return Fail("S3 signed PUT", s_put_signed.status());
  }
  auto g_ops = RunSmallObjects(n, small_seconds, grpc_put, grpc_get);
  if (!g_ops.ok()) return Fail("gRPC 4 KiB", g_ops.status());
  auto s_ops = RunSmallObjects(n, small_seconds, s3_put, s3_get);
  if (!s_ops.ok()) return Fail("S3 4 KiB", s_ops.status());

  std::printf("\nconcurrency %d, %d x %d MiB objects per client\n", n, per, large_mib);
  std::printf("%-28s %10s %9s %10s %9s %9s %7s\n", "", "gRPC", "/ceiling", "S3", "/ceiling",
              "S3/gRPC", "target");
  auto row = [](const char* name, double g, double s, double ceiling, double target,
                const char* unit) {
    if (ceiling > 0) {
      std::printf("%-28s %10.1f %8.0f%% %10.1f %8.0f%% %8.0f%% %6.0f%%  %s\n", name, MiB(g),
                  100 * g / ceiling, MiB(s), 100 * s / ceiling, 100 * s / g, target, unit);
    } else {
      std::printf("%-28s %10.0f %9s %10.0f %9s %8.0f%% %6.0f%%  %s\n", name, g, "", s, "",
                  100 * s / g, target, unit);
    }
  };
  row("PUT large (UNSIGNED-PAYLOAD)", *g_put, *s_put, put_ceiling, 60, "MiB/s");
  if (absl::GetFlag(FLAGS_signed_round)) {
    row("PUT large (signed SHA-256)", *g_put, *s_put_signed, put_ceiling, 60, "MiB/s");
  }
  row("GET large", *g_get, *s_get, get_ceiling, 85, "MiB/s");
  row("PUT 4 KiB", g_ops->put_ops, s_ops->put_ops, 0, 70, "ops/s");
  row("GET 4 KiB", g_ops->get_ops, s_ops->get_ops, 0, 70, "ops/s");
  std::printf(
      "4 KiB latency p50/p99 ms: gRPC PUT %.2f/%.2f GET %.2f/%.2f; "
      "S3 PUT %.2f/%.2f GET %.2f/%.2f\n",
      g_ops->put_p50 * 1e3, g_ops->put_p99 * 1e3, g_ops->get_p50 * 1e3, g_ops->get_p99 * 1e3,
      s_ops->put_p50 * 1e3, s_ops->put_p99 * 1e3, s_ops->get_p50 * 1e3, s_ops->get_p99 * 1e3);
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace tessera::bench

int main(int argc, char** argv) { return tessera::bench::Main(argc, argv); }
