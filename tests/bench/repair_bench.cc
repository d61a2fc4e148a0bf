// repair_bench: how fast a lost node is rebuilt, and what repair costs clients (issue 10,
// "Benchmark"), on an in-process cluster (8 nodes in 3 sites, k=4 m=2, real loopback gRPC,
// synced disks), every figure next to this machine's raw limits measured in the same run.
//
//   bazel build -c opt //tests/bench:repair_bench
//   nice bazel-out/k8-opt/bin/tests/bench/repair_bench --dir=/tmp/tessera_repair_bench
//       [--lost_gib=4] [--object_mib=64] [--load_concurrency=8] [--load_seconds=10]
//
// Steps:
//   1. raw limits and the repair ceiling (RawLimits::RepairCrossings);
//   2. 64 MiB objects are written until each of the two nodes to be lost (node 3 in site0 and
//      node 4 in site1) holds at least --lost_gib of slices (summed from the manifests);
//   3. baseline: 4 KiB PUT+GET client load (--load_concurrency workers, --load_seconds) on the
//      healthy cluster;
//   4. (a) largest budget: node 3 is stopped; once membership reports it dead the repairer
//      (dead_grace 0, no cluster-wide cap, node_share 1, 16 transfers per node, 8 stripes at
//      once) runs passes until nothing is queued, on an otherwise idle cluster: repair
//      throughput (rebuilt bytes written / wall time) and time to full redundancy;
//   5. (b) default budget: node 4 is stopped (8 nodes, so 6 = k+m remain, two per site: every
//      stripe still has a place for each slice); the same client load runs for --load_seconds
//      with the node dead and no repair (the "without repair" reference), then during a repair
//      at RepairerOptions' defaults (dead_grace 0): client p99 during / without repair.
// A second loss instead of a second cluster keeps the run short (the fill is the slow part);
// the cluster in (b) has 6 live nodes instead of 8, which is why (b) compares with a reference
// measured on that same degraded cluster (the healthy baseline is printed too).
// Benchmarks only: nothing here asserts a speed.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/sdk/client.h"
#include "base/logging.h"
#include "base/metrics.h"
#include "services/object/object_backend.h"
#include "services/object/orphan_reclaimer.h"
#include "services/object/work_pool.h"
#include "services/repair/repair_metrics.h"
#include "services/repair/repairer.h"
#include "tests/bench/cluster_bench_lib.h"

ABSL_FLAG(std::string, dir, "/tmp/tessera_repair_bench", "Scratch directory (node data).");
ABSL_FLAG(double, lost_gib, 4, "Slice bytes each lost node holds at least, GiB (fractions ok).");
ABSL_FLAG(int, object_mib, 64, "Size of the objects written to fill the nodes, MiB.");
ABSL_FLAG(int, writers, 4, "Concurrent writers while filling.");
ABSL_FLAG(int, load_concurrency, 8, "Concurrent 4 KiB PUT+GET clients.");
ABSL_FLAG(double, load_seconds, 10, "Seconds of client load for each reference measurement.");
ABSL_FLAG(int, parallel_stripes, 8, "Stripes repaired at once at the largest budget.");
ABSL_FLAG(int, max_transfers_per_node, 16, "Transfers per node at the largest budget.");
ABSL_FLAG(int, rpc_threads, 32, "Threads of the repairer's slice RPC pool.");
ABSL_FLAG(int, reps, 3, "Passes per raw-limit measurement.");
ABSL_FLAG(bool, keep, false, "Keep DIR/cluster after the run.");

namespace tessera::bench {
namespace {

using sdk::Client;

constexpr char kBucket[] = "bench";
constexpr int kNodes = 8;
constexpr int kLostA = 3;  // site0
constexpr int kLostB = 4;  // site1

// Slice bytes per node id, from every version's manifest; also how many stripe slices name a
// node that is not alive in `snapshot` or no node at all (0 = full redundancy).
struct Holdings {
  std::map<std::string, uint64_t> bytes;
  uint64_t stripes = 0;
  uint64_t missing_slices = 0;
};

absl::StatusOr<Holdings> Scan(services::ObjectBackend& backend) {
  Holdings h;
  const auto snapshot = backend.cluster().Snapshot();
  std::string after;
  while (true) {
    auto page = backend.store().ScanVersions(kBucket, after, 1000);
    if (!page.ok()) return page.status();
    if (page->empty()) break;
    for (const services::KeyVersions& kv : *page) {
      after = kv.key;
      for (v1::ObjectManifest m : kv.versions) {
        if (m.stripe_chunks() > 0) {  // stripes out of line: read the whole manifest
          auto whole = backend.store().Get(kBucket, kv.key, m.version_id());
          if (!whole.ok()) return whole.status();
          m = *std::move(whole);
        }
        for (const v1::PartRecord& part : m.parts()) {
          for (const v1::StripeRecord& s : part.stripes()) {
            ++h.stripes;
            for (const v1::SliceRef& slice : s.slices()) {
              const services::StorageNode* node = snapshot->Find(slice.node_id());
              if (node == nullptr || !node->alive) ++h.missing_slices;
              if (!slice.node_id().empty()) h.bytes[slice.node_id()] += s.slice_size();
            }
          }
        }
      }
    }
  }
  return h;
}

// Client latencies of one load run (seconds).
struct Load {
  std::vector<double> put, get;
  double wall = 0;
  uint64_t errors = 0;
};

// `n` workers each PUT a 4 KiB object then GET it back, until `stop` is set; `tag` keeps runs'
// keys apart. Errors are counted, not fatal (a request can race a node's death).
Load RunLoad(std::vector<std::unique_ptr<Client>>& clients, int n, const std::string& tag,
             const std::atomic<bool>& stop) {
  const std::string payload = RandomBytes(4096, 5);
  std::vector<Load> per(n);
  auto wall = RunWorkers(n, [&](int w) -> absl::Status {
    for (int i = 0; !stop.load(); ++i) {
      const std::string key = absl::StrCat("load/", tag, "/", w, "/", i);
      double t0 = WallSeconds();
      if (!clients[w]->PutObject(kBucket, key, payload).ok()) {
        ++per[w].errors;
        continue;
      }
      per[w].put.push_back(WallSeconds() - t0);
      t0 = WallSeconds();
      uint64_t got = 0;
      auto info = clients[w]->GetObjectToSink(kBucket, key, [&](absl::string_view d) {
        got += d.size();
        return absl::OkStatus();
      });
      if (!info.ok() || got != payload.size()) {
        ++per[w].errors;
        continue;
      }
      per[w].get.push_back(WallSeconds() - t0);
    }
    return absl::OkStatus();
  });
  Load out;
  out.wall = wall.ok() ? *wall : 0;
  for (Load& l : per) {
    out.put.insert(out.put.end(), l.put.begin(), l.put.end());
    out.get.insert(out.get.end(), l.get.begin(), l.get.end());
    out.errors += l.errors;
  }
  return out;
}

Load TimedLoad(std::vector<std::unique_ptr<Client>>& clients, int n, const std::string& tag,
               double seconds) {
  std::atomic<bool> stop{false};
  std::thread timer([&] {
    absl::SleepFor(absl::Seconds(seconds));
    stop = true;
  });
  Load l = RunLoad(clients, n, tag, stop);
  timer.join();
  return l;
}

void PrintLoad(const char* what, const Load& l) {
  std::printf(
      "%-34s PUT %6.0f ops/s p50 %7.2f ms p99 %7.2f ms | GET %6.0f ops/s p50 %6.2f ms p99 %6.2f "
      "ms | errors %llu\n",
      what, l.put.size() / l.wall, 1e3 * Percentile(l.put, 0.5), 1e3 * Percentile(l.put, 0.99),
      l.get.size() / l.wall, 1e3 * Percentile(l.get, 0.5), 1e3 * Percentile(l.get, 0.99),
      static_cast<unsigned long long>(l.errors));
}

// Stops node `i` and waits until the gateway's cluster view reports it not alive; returns the
// seconds that took (the membership failure detector's delay).
absl::StatusOr<double> Lose(BenchCluster& cluster, int i) {
  const std::string id = cluster.node_id(i);
  const double t0 = WallSeconds();
  cluster.StopNode(i);
  while (WallSeconds() - t0 < 300) {
    const services::StorageNode* n = cluster.backend().cluster().Snapshot()->Find(id);
    if (n == nullptr || !n->alive) return WallSeconds() - t0;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat("node ", id, " still alive after 300 s"));
}

// Waits until every metadata partition is back at its full replica count (the layout maintainer
// re-replicates the partitions a lost node held), so the next loss cannot take a quorum.
absl::StatusOr<double> WaitMetadataHealthy(services::ObjectBackend& backend) {
  const double t0 = WallSeconds();
  while (WallSeconds() - t0 < 300) {
    const services::BackendHealth h = backend.Health();
    if (!h.layout_in_transition && h.partitions_at_risk == 0 && h.partitions_unavailable == 0) {
      return WallSeconds() - t0;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError("metadata partitions not healthy after 300 s");
}

struct RepairRun {
  services::RepairPassStats total;
  int passes = 0;
  double wall = 0;  // first pass start -> end of the last pass that queued a stripe
  double last_pass = 0;
};

// Passes until one queues nothing (or 3 passes in a row repair nothing).
absl::StatusOr<RepairRun> Repair(services::ObjectBackend& backend,
                                 const services::RepairerOptions& options, int rpc_threads) {
  Registry registry;
  auto metrics = services::RepairMetrics::Create(&registry);
  if (!metrics.ok()) return metrics.status();
  std::unique_ptr<services::SliceLister> lister = services::NewGrpcSliceLister(backend.auth());
  services::WorkPool pool(rpc_threads);
  services::Repairer repairer(options, &backend.cluster(), &backend.store(), &backend.grpc_slices(),
                              lister.get(), &pool, backend.bandwidth(), metrics->get());
  RepairRun run;
  const double start = WallSeconds();
  int idle = 0;
  while (run.passes < 100) {
    const double p0 = WallSeconds();
    auto pass = repairer.RunOnce();
    if (!pass.ok()) return pass.status();
    ++run.passes;
    run.last_pass = WallSeconds() - p0;
    std::printf(
        "  pass %d: %.1f s, %d node listings failed (%d ok), %llu stripes scanned, %llu queued, "
        "%llu "
        "repaired, %llu failed, %llu "
        "unreadable, %llu slices rebuilt, %.1f MiB read, %.1f MiB written\n",
        run.passes, run.last_pass, pass->node_list_failures, pass->nodes_listed,
        static_cast<unsigned long long>(pass->stripes_scanned),
        static_cast<unsigned long long>(pass->stripes_queued),
        static_cast<unsigned long long>(pass->stripes_repaired),
        static_cast<unsigned long long>(pass->stripes_failed),
        static_cast<unsigned long long>(pass->stripes_unreadable),
        static_cast<unsigned long long>(pass->slices_rebuilt), MiB(pass->bytes_read),
        MiB(pass->bytes_written));
    std::fflush(stdout);
    if (pass->stripes_queued == 0) break;
    run.wall = WallSeconds() - start;
    run.total.stripes_queued += pass->stripes_queued;
    run.total.stripes_repaired += pass->stripes_repaired;
    run.total.stripes_failed += pass->stripes_failed;
    run.total.slices_rebuilt += pass->slices_rebuilt;
    run.total.bytes_read += pass->bytes_read;
    run.total.bytes_written += pass->bytes_written;
    idle = pass->stripes_repaired == 0 ? idle + 1 : 0;
    if (idle == 3) return absl::AbortedError("three passes in a row repaired nothing");
  }
  return run;
}

int Fail(const char* what, const absl::Status& s) {
  std::fprintf(stderr, "repair_bench: %s: %s\n", what, s.ToString().c_str());
  return 1;
}

int Main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  SetLogLevel(LogLevel::kWarning);
  const std::string dir = absl::GetFlag(FLAGS_dir);
  const double lost_gib = absl::GetFlag(FLAGS_lost_gib);
  const int object_mib = absl::GetFlag(FLAGS_object_mib);
  const int writers = absl::GetFlag(FLAGS_writers);
  const int load_n = absl::GetFlag(FLAGS_load_concurrency);
  const double load_seconds = absl::GetFlag(FLAGS_load_seconds);
  if (dir.empty() || lost_gib <= 0 || object_mib <= 0 || writers <= 0 || load_n <= 0 ||
      load_seconds <= 0) {
    std::fprintf(stderr, "repair_bench: bad flags\n");
    return 2;
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir + "/cluster", ignored);  // a previous run's nodes

  BenchClusterOptions co;
  co.dir = dir;
  co.nodes = kNodes;
  std::printf("starting %d nodes in %d sites, k=%d m=%d, stripes of %llu MiB, under %s\n", co.nodes,
              co.sites, co.k, co.m, static_cast<unsigned long long>(co.stripe_size >> 20),
              dir.c_str());
  auto cluster = BenchCluster::Start(co);
  if (!cluster.ok()) return Fail("start", cluster.status());
  services::ObjectBackend& backend = (*cluster)->backend();

  RawLimitsOptions lo;
  lo.dir = dir;
  lo.k = co.k;
  lo.m = co.m;
  lo.reps = absl::GetFlag(FLAGS_reps);
  lo.disk_writers = co.nodes;
  auto limits = MeasureRawLimits(lo);
  if (!limits.ok()) return Fail("raw limits", limits.status());
  PrintRawLimits(*limits);
  const RawLimits::Crossings rc = RawLimits::RepairCrossings(co.k, co.m);
  const double ceiling = limits->Ceiling(rc);
  std::printf("repair ceiling %.1f MiB/s of rebuilt slices: %s\n", MiB(ceiling),
              limits->Breakdown(rc).c_str());
  // The single slowest stage alone: CPU stages get every core, the disk its measured rate.
  struct Stage {
    const char* name;
    double bps;
  };
  const Stage stages[] = {
      {"gRPC", limits->cores * limits->grpc_cpu_bps / rc.grpc},
      {"ISA-L decode", limits->cores * limits->encode_bps / rc.encode},
      {"SHA-256", limits->cores * limits->sha256_bps / rc.sha256},
      {"CRC32C", limits->cores * limits->crc32c_bps / rc.crc32c},
      {"disk write+fsync", limits->disk_bps / rc.disk},
      {"memcpy", limits->cores * limits->memcpy_bps / rc.memcpy},
  };
  const Stage slowest =
      *std::min_element(std::begin(stages), std::end(stages),
                        [](const Stage& a, const Stage& b) { return a.bps < b.bps; });
  std::printf("slowest single stage: %s, %.1f MiB/s of rebuilt slices\n", slowest.name,
              MiB(slowest.bps));

  auto clients = SdkClients(**cluster, std::max(writers, load_n));
  if (!clients.ok()) return Fail("clients", clients.status());
  if (auto b = (*clients)[0]->CreateBucket(kBucket); !b.ok()) return Fail("bucket", b.status());

  // --- Fill ---
  const uint64_t object_bytes = uint64_t(object_mib) << 20;
  const uint64_t want = static_cast<uint64_t>(lost_gib * (1ull << 30));
  const std::string payload = RandomBytes(object_bytes, 3);
  const std::string id_a = (*cluster)->node_id(kLostA), id_b = (*cluster)->node_id(kLostB);
  std::atomic<int> next{0};
  // Each node holds about (k+m)/k / nodes of what is written; aim 5% over.
  int target = static_cast<int>(
      std::ceil(1.05 * want * co.nodes * co.k / (double(co.k + co.m) * object_bytes)));
  double fill_wall = 0;
  absl::StatusOr<Holdings> held;
  while (true) {
    std::printf("writing objects %d..%d of %d MiB\n", next.load(), target - 1, object_mib);
    std::fflush(stdout);
    auto wall = RunWorkers(writers, [&](int w) -> absl::Status {
      for (int i = next++; i < target; i = next++) {
        auto put = (*clients)[w]->PutObject(kBucket, absl::StrCat("fill/", i), payload);
        if (!put.ok()) return put.status();
      }
      return absl::OkStatus();
    });
    if (!wall.ok()) return Fail("fill", wall.status());
    fill_wall += *wall;
    next = target;
    held = Scan(backend);
    if (!held.ok()) return Fail("scan", held.status());
    const uint64_t least = std::min(held->bytes[id_a], held->bytes[id_b]);
    if (least >= want) break;
    target += std::max(1, static_cast<int>(std::ceil(1.05 * (want - least) * co.nodes * co.k /
                                                     (double(co.k + co.m) * object_bytes))));
  }
  std::printf("filled: %d objects (%.2f GiB) in %.1f s = %.1f MiB/s; slices per node (GiB):",
              target, target * object_bytes / double(1ull << 30), fill_wall,
              MiB(target * object_bytes / fill_wall));
  for (int i = 0; i < co.nodes; ++i) {
    std::printf(" %.2f", held->bytes[(*cluster)->node_id(i)] / double(1ull << 30));
  }
  std::printf("\n");

  // --- Baseline ---
  const Load base = TimedLoad(*clients, load_n, "base", load_seconds);
  PrintLoad("baseline (8 nodes, no repair)", base);

  // --- (a) largest budget, idle cluster ---
  const uint64_t lost_a = held->bytes[id_a];
  std::printf("\n(a) largest budget: losing node %d (%s, %.3f GiB of slices)\n", kLostA,
              id_a.c_str(), lost_a / double(1ull << 30));
  auto detect_a = Lose(**cluster, kLostA);
  if (!detect_a.ok()) return Fail("lose a", detect_a.status());
  std::printf("  declared dead by membership after %.1f s\n", *detect_a);
  services::RepairerOptions big;
  big.dead_grace = absl::ZeroDuration();
  big.parallel_stripes = absl::GetFlag(FLAGS_parallel_stripes);
  big.budget.max_bytes_per_second = 0;
  big.budget.node_share = 1.0;
  big.budget.default_node_bytes_per_second = 1e12;
  big.budget.max_transfers_per_node = absl::GetFlag(FLAGS_max_transfers_per_node);
  const double cpu_a0 = ProcessCpuSeconds();
  auto run_a = Repair(backend, big, absl::GetFlag(FLAGS_rpc_threads));
  if (!run_a.ok()) return Fail("repair a", run_a.status());
  const double cpu_a = ProcessCpuSeconds() - cpu_a0;
  auto after_a = Scan(backend);
  if (!after_a.ok()) return Fail("scan a", after_a.status());
  const double tput_a = run_a->total.bytes_written / run_a->wall;

  auto meta_a = WaitMetadataHealthy(backend);
  if (!meta_a.ok()) return Fail("metadata after a", meta_a.status());
  std::printf("  metadata partitions re-replicated %.1f s after the repair\n", *meta_a);

  // --- (b) default budget under client load ---
  const uint64_t lost_b = after_a->bytes[id_b];
  std::printf("\n(b) default budget: losing node %d (%s, %.3f GiB of slices)\n", kLostB,
              id_b.c_str(), lost_b / double(1ull << 30));
  auto detect_b = Lose(**cluster, kLostB);
  if (!detect_b.ok()) return Fail("lose b", detect_b.status());
  std::printf("  declared dead by membership after %.1f s\n", *detect_b);
  const Load ref = TimedLoad(*clients, load_n, "ref", load_seconds);
  PrintLoad("node dead, no repair (reference)", ref);
  services::RepairerOptions dflt;
  dflt.dead_grace = absl::ZeroDuration();
  std::atomic<bool> stop{false};
  Load during;
  std::thread load([&] { during = RunLoad(*clients, load_n, "during", stop); });
  auto run_b = Repair(backend, dflt, absl::GetFlag(FLAGS_rpc_threads));
  stop = true;
  load.join();
  if (!run_b.ok()) return Fail("repair b", run_b.status());
  PrintLoad("during repair (default budget)", during);
  auto after_b = Scan(backend);
  if (!after_b.ok()) return Fail("scan b", after_b.status());
  const double tput_b = run_b->total.bytes_written / run_b->wall;

  // --- Report ---
  auto gib = [](double b) { return b / double(1ull << 30); };
  std::printf("\n=== repair (k=%d m=%d, %d nodes, 3 sites) ===\n", co.k, co.m, co.nodes);
  std::printf("repair ceiling %.1f MiB/s; slowest stage %s %.1f MiB/s\n", MiB(ceiling),
              slowest.name, MiB(slowest.bps));
  std::printf(
      "(a) largest budget, idle: node held %.3f GiB; rebuilt %.3f GiB (%llu slices, %llu stripes, "
      "%llu failed) read %.3f GiB in %.1f s in %d repairing pass(es) (+ %.1f s final empty pass)\n"
      "    throughput %.1f MiB/s = %.0f%% of ceiling, %.0f%% of slowest stage; CPU %.0f%% of %d "
      "cores\n"
      "    time to full redundancy %.1f s (detection %.1f s + repair %.1f s); slices left on "
      "dead/no node: %llu\n",
      gib(lost_a), gib(run_a->total.bytes_written),
      static_cast<unsigned long long>(run_a->total.slices_rebuilt),
      static_cast<unsigned long long>(run_a->total.stripes_repaired),
      static_cast<unsigned long long>(run_a->total.stripes_failed), gib(run_a->total.bytes_read),
      run_a->wall, run_a->passes - 1, run_a->last_pass, MiB(tput_a), 100 * tput_a / ceiling,
      100 * tput_a / slowest.bps, 100 * cpu_a / (run_a->wall + run_a->last_pass) / limits->cores,
      limits->cores, *detect_a + run_a->wall, *detect_a, run_a->wall,
      static_cast<unsigned long long>(after_a->missing_slices));
  std::printf(
      "(b) default budget, under load: node held %.3f GiB; rebuilt %.3f GiB in %.1f s = %.1f "
      "MiB/s (%.0f%% of ceiling); time to full redundancy %.1f s (detection %.1f s, then %.1f s "
      "reference load, repair %.1f s); slices left on dead/no node: %llu\n",
      gib(lost_b), gib(run_b->total.bytes_written), run_b->wall, MiB(tput_b),
      100 * tput_b / ceiling, *detect_b + load_seconds + run_b->wall, *detect_b, load_seconds,
      run_b->wall, static_cast<unsigned long long>(after_b->missing_slices));
  auto ratio = [](const std::vector<double>& a, const std::vector<double>& b) {
    return Percentile(a, 0.99) / Percentile(b, 0.99);
  };
  std::printf(
      "    client p99 during repair / without (same degraded cluster): PUT %.2fx, GET %.2fx\n"
      "    client p99 during repair / healthy baseline:                PUT %.2fx, GET %.2fx\n",
      ratio(during.put, ref.put), ratio(during.get, ref.get), ratio(during.put, base.put),
      ratio(during.get, base.get));
  std::fflush(stdout);
  if (!absl::GetFlag(FLAGS_keep)) {
    cluster->reset();
    std::filesystem::remove_all(dir + "/cluster", ignored);
  }
  return 0;
}

}  // namespace
}  // namespace tessera::bench

int main(int argc, char** argv) { return tessera::bench::Main(argc, argv); }
