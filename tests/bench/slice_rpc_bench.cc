// PutSlice / GetSlice throughput to one in-process tessera node over loopback, with the
// cluster's mutual TLS (the default) and with tokens over plaintext (what node traffic was
// before p2p/auth/cluster_tls.h), alternating the two per rep so both see the same machine load.
// Prints MiB/s per mode and the TLS / plaintext ratio (medians over reps).
//
//   bazel run -c opt //tests/bench:slice_rpc_bench -- --dir=/tmp/tessera_slice_rpc_bench
//
// Benchmark only: asserts nothing.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/node.pb.h"
#include "p2p/auth/cluster_auth.h"
#include "p2p/auth/cluster_secret.h"
#include "services/node/node_server.h"
#include "services/object/slice_client.h"

ABSL_FLAG(std::string, dir, "/tmp/tessera_slice_rpc_bench", "Scratch directory (node data).");
ABSL_FLAG(int, slice_kib, 1024, "Slice size, KiB.");
ABSL_FLAG(int, slices, 64, "Slices per worker per pass.");
ABSL_FLAG(int, concurrency, 4, "Concurrent workers.");
ABSL_FLAG(int, reps, 3, "Passes per mode.");

namespace tessera {
namespace {

struct Result {
  double put_mibps = 0;
  double get_mibps = 0;
  // Process CPU seconds (client and node share the process) per GiB moved: steadier than
  // MiB/s on a loaded machine.
  double put_cpu_s_per_gib = 0;
  double get_cpu_s_per_gib = 0;
};

double CpuSeconds() {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

v1::SliceId IdFor(int rep, int worker, int i) {
  v1::SliceId id;
  std::string version(16, '\0');
  version[0] = 'B';
  version[1] = static_cast<char>(rep);
  version[2] = static_cast<char>(worker);
  version[3] = static_cast<char>(i >> 8);
  version[4] = static_cast<char>(i);
  id.set_version_id(version);
  id.set_part(0);
  id.set_stripe(static_cast<uint32_t>(i));
  id.set_index(static_cast<uint32_t>(worker));
  return id;
}

// Runs `fn(worker)` on every worker; returns wall seconds.
template <typename Fn>
double RunWorkers(int workers, Fn fn) {
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) threads.emplace_back([&fn, w] { fn(w); });
  for (std::thread& t : threads) t.join();
  return absl::ToDoubleSeconds(absl::Now() - start);
}

absl::StatusOr<Result> OnePass(const std::string& root, const std::string& secret_file, bool tls,
                               int rep) {
  const std::string data_dir = absl::StrCat(root, "/node-", tls ? "tls" : "plain", "-", rep);
  std::filesystem::remove_all(data_dir);
  services::NodeOptions o;
  o.data_dir = data_dir;
  o.listen = "127.0.0.1:0";
  o.admin_listen = "127.0.0.1:0";
  o.reserved_bytes = 0;
  o.enable_membership = false;
  o.enable_meta_service = false;
  o.cluster_secret_file = secret_file;
  o.transport_tls = tls;
  auto node = services::NodeServer::Start(o);
  if (!node.ok()) return node.status();

  auto secret = p2p::ClusterSecret::Load(secret_file);
  if (!secret.ok()) return secret.status();
  p2p::ClusterAuthOptions auth_options;
  auth_options.caller_id = "bench";
  auth_options.transport_tls = tls;
  auto auth = p2p::ClusterAuth::Create(*secret, auth_options);
  if (!auth.ok()) return auth.status();
  services::GrpcSliceClientOptions client_options;
  client_options.auth = *std::move(auth);
  services::GrpcSliceClient client(client_options);
  const std::string address = absl::StrCat("127.0.0.1:", (*node)->port());

  const std::string payload(static_cast<size_t>(absl::GetFlag(FLAGS_slice_kib)) << 10, 'x');
  const int workers = absl::GetFlag(FLAGS_concurrency);
  const int per_worker = absl::GetFlag(FLAGS_slices);
  const double total_mib = static_cast<double>(payload.size()) * workers * per_worker / (1 << 20);
  std::atomic<int> failures{0};
  const double cpu0 = CpuSeconds();
  const double put_s = RunWorkers(workers, [&](int w) {
    for (int i = 0; i < per_worker; ++i) {
      if (!client.Put(address, IdFor(rep, w, i), payload).ok()) failures++;
    }
  });
  const double cpu1 = CpuSeconds();
  const double get_s = RunWorkers(workers, [&](int w) {
    for (int i = 0; i < per_worker; ++i) {
      auto got = client.Get(address, IdFor(rep, w, i), 0, 0);
      if (!got.ok() || got->size() != payload.size()) failures++;
    }
  });
  const double cpu2 = CpuSeconds();
  (*node)->Shutdown(absl::Seconds(5));
  node->reset();
  std::filesystem::remove_all(data_dir);
  if (failures.load() != 0) {
    return absl::InternalError(absl::StrCat(failures.load(), " calls failed"));
  }
  const double gib = total_mib / 1024;
  return Result{total_mib / put_s, total_mib / get_s, (cpu1 - cpu0) / gib, (cpu2 - cpu1) / gib};
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int Main() {
  const std::string root = absl::GetFlag(FLAGS_dir);
  std::filesystem::create_directories(root);
  const std::string secret_file = root + "/cluster.secret";
  std::filesystem::remove(secret_file);
  if (absl::Status s = p2p::ClusterSecret::Generate(secret_file); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  // [0] plaintext + tokens, [1] mutual TLS + tokens
  std::vector<double> put[2], get[2], put_cpu[2], get_cpu[2];
  for (int rep = 0; rep < absl::GetFlag(FLAGS_reps); ++rep) {
    for (int tls = 0; tls < 2; ++tls) {
      absl::StatusOr<Result> r = OnePass(root, secret_file, tls == 1, rep);
      if (!r.ok()) {
        std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
        return 1;
      }
      std::printf(
          "rep %d %-9s PutSlice %8.1f MiB/s %6.2f cpu-s/GiB  GetSlice %8.1f MiB/s %6.2f "
          "cpu-s/GiB\n",
          rep, tls ? "tls" : "plaintext", r->put_mibps, r->put_cpu_s_per_gib, r->get_mibps,
          r->get_cpu_s_per_gib);
      put[tls].push_back(r->put_mibps);
      get[tls].push_back(r->get_mibps);
      put_cpu[tls].push_back(r->put_cpu_s_per_gib);
      get_cpu[tls].push_back(r->get_cpu_s_per_gib);
    }
  }
  std::printf(
      "median: plaintext Put %.1f Get %.1f MiB/s; tls Put %.1f Get %.1f MiB/s; "
      "ratio tls/plaintext Put %.2f Get %.2f\n",
      Median(put[0]), Median(get[0]), Median(put[1]), Median(get[1]),
      Median(put[1]) / Median(put[0]), Median(get[1]) / Median(get[0]));
  std::printf(
      "median cpu-s/GiB: plaintext Put %.2f Get %.2f; tls Put %.2f Get %.2f; "
      "ratio tls/plaintext Put %.2f Get %.2f\n",
      Median(put_cpu[0]), Median(get_cpu[0]), Median(put_cpu[1]), Median(get_cpu[1]),
      Median(put_cpu[1]) / Median(put_cpu[0]), Median(get_cpu[1]) / Median(get_cpu[0]));
  std::filesystem::remove(secret_file);
  return 0;
}

}  // namespace
}  // namespace tessera

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return tessera::Main();
}
