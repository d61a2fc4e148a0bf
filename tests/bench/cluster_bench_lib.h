// Shared pieces of the cluster benchmarks (cluster_bench, s3_bench):
//
//   * RawLimits: this machine's raw speed of every stage an object crosses, measured in the same
//     run (ISA-L encode, XChaCha20-Poly1305, SHA-256, MD5, CRC32C, memcpy, write+fsync of 1 MiB
//     files, bare gRPC streaming and unary calls over loopback), and the ceiling of a PUT / GET
//     computed from them: cores / sum(crossings x seconds-per-byte of each stage).
//   * BenchCluster: an in-process cluster (6 NodeServers by default, in 3 sites on 127.0.0.1:0,
//     k=4 m=2, cluster secret, synced disks under a directory), a gateway backend opened with
//     OpenObjectBackend, the gRPC Gateway service on 127.0.0.1:0 and optionally the S3 server on
//     127.0.0.1:0. Clients reach both over real loopback sockets.
//   * Load helpers: run N workers, latency percentiles, RSS sampler.
//
// Benchmarks only: nothing here asserts a speed.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "api/sdk/client.h"

namespace tessera::services {
class ObjectBackend;
}  // namespace tessera::services

namespace tessera::bench {

// Seconds of process CPU time (user + system, every thread) so far.
double ProcessCpuSeconds();
// VmRSS of this process in bytes (0 if unreadable).
uint64_t CurrentRssBytes();
double WallSeconds();  // monotonic

// Raw stage speeds. `*_bps` are bytes per second of one core (wall) unless noted.
struct RawLimits {
  int cores = 1;
  double encode_bps = 0;  // ISA-L ec_encode_data, data bytes/s (k, m of the cluster)
  double aead_bps = 0;    // crypto_aead_xchacha20poly1305_ietf_encrypt
  double sha256_bps = 0;  // OpenSSL SHA-256
  double md5_bps = 0;     // OpenSSL MD5
  double crc32c_bps = 0;  // ISA-L crc32_iscsi
  double memcpy_bps = 0;  // memcpy, 64 MiB working set
  double disk_bps = 0;    // write+fsync of 1 MiB files, parallel writers (wall, device)
  int disk_writers = 0;
  double grpc_wall_bps = 0;   // one loopback stream of 1 MiB messages, wall
  double grpc_cpu_bps = 0;    // same stream: bytes per CPU-second (sender + receiver)
  double grpc_unary_ops = 0;  // 4 KiB unary echo calls/s at concurrency 16

  // Seconds (CPU, or device for disk) per byte of each stage.
  struct Crossings {
    double grpc = 0, md5 = 0, aead = 0, encode = 0, sha256 = 0, crc32c = 0, disk = 0, memcpy = 0;
  };
  // How many times each plaintext byte crosses each stage in a PUT / GET through the gateway.
  static Crossings PutCrossings(int k, int m);
  static Crossings GetCrossings(int k, int m);
  // How many times each rebuilt slice byte crosses each stage when repair rebuilds one lost slice
  // of a stripe from k healthy ones (tests/bench/repair_bench.cc).
  static Crossings RepairCrossings(int k, int m);
  // cores / sum(crossings_i / speed_i), in bytes/s.
  double Ceiling(const Crossings& c) const;
  // The sum broken down ("grpc 2.50 x 1.9 GB/s = 38% ..."), for the report.
  std::string Breakdown(const Crossings& c) const;
};

struct RawLimitsOptions {
  std::string dir;  // where the disk test writes (same disk as the nodes)
  int k = 4, m = 2;
  size_t working_set = size_t{64} << 20;
  int reps = 3;
  size_t disk_files = 32;  // 1 MiB each, per writer
  int disk_writers = 6;    // one per node
  double grpc_seconds = 2;
};
absl::StatusOr<RawLimits> MeasureRawLimits(const RawLimitsOptions& options);
void PrintRawLimits(const RawLimits& limits);

struct BenchClusterOptions {
  std::string dir;  // node data lives under dir/cluster
  int nodes = 6;
  int sites = 3;
  int k = 4, m = 2;
  uint64_t stripe_size = 8ull << 20;
  size_t data_path_threads = 16;
  size_t handler_threads = 64;
  bool s3 = false;
  // The one user (id "bench") of both front ends; SDK clients sign with these keys too.
  std::string s3_access_key = "BENCHACCESSKEY000001";
  std::string s3_secret_key = "bench-secret-key-not-a-real-secret-0001";
};

class BenchCluster {
 public:
  static absl::StatusOr<std::unique_ptr<BenchCluster>> Start(const BenchClusterOptions& options);
  ~BenchCluster();
  std::string grpc_endpoint() const;  // "127.0.0.1:port" of the Gateway service
  int s3_port() const;                // 0 without options.s3
  const BenchClusterOptions& options() const { return options_; }
  // The gateway backend the front ends use (its cluster view, manifest store, slice client).
  services::ObjectBackend& backend();
  // Node i (0 <= i < options().nodes): its id, and stopping it at once (its address then refuses
  // connections; membership declares it dead after the gossip failure detector's timeouts).
  const std::string& node_id(int i) const;
  void StopNode(int i);

  class Impl;

 private:
  BenchCluster(BenchClusterOptions options, std::unique_ptr<Impl> impl);
  BenchClusterOptions options_;
  std::unique_ptr<Impl> impl_;
};

// `n` SDK clients (a channel each) over the cluster's gRPC endpoint, signing as its user.
absl::StatusOr<std::vector<std::unique_ptr<sdk::Client>>> SdkClients(const BenchCluster& cluster,
                                                                     int n);

// Runs fn(worker) on `workers` threads; returns wall seconds. The first error is returned.
absl::StatusOr<double> RunWorkers(int workers, const std::function<absl::Status(int)>& fn);

// Latencies (seconds) -> percentile p in [0, 1].
double Percentile(std::vector<double> v, double p);

// Load shapes shared by the benchmarks: a protocol (SDK over gRPC, S3 over HTTP) plugs in as a
// put and a get of one object by one worker; keys are "<tag>/<worker>/<i>".
using PutFn = std::function<absl::Status(int worker, const std::string& key, absl::string_view)>;
// Returns the number of bytes read.
using GetFn = std::function<absl::StatusOr<uint64_t>(int worker, const std::string& key)>;

// n workers each put `per` copies of `payload`; returns bytes per second of wall time.
absl::StatusOr<double> LargePut(int n, int per, const std::string& payload, const std::string& tag,
                                const PutFn& put);
// n workers each get the `per` objects of `size` bytes LargePut wrote under `tag`; DATA_LOSS on a
// short read. Returns bytes per second of wall time.
absl::StatusOr<double> LargeGet(int n, int per, uint64_t size, const std::string& tag,
                                const GetFn& get);

struct SmallOps {
  double put_ops = 0, get_ops = 0, put_p50 = 0, put_p99 = 0, get_p50 = 0, get_p99 = 0;
};
// 4 KiB objects: n workers put for `seconds`, then get what they wrote for `seconds`; ops/s and
// latency percentiles (seconds).
absl::StatusOr<SmallOps> RunSmallObjects(int n, double seconds, const PutFn& put, const GetFn& get);

// Samples CurrentRssBytes() every `period_ms` on a thread until Stop().
class RssSampler {
 public:
  explicit RssSampler(int period_ms = 100);
  ~RssSampler();
  void Stop();
  uint64_t start() const { return start_; }
  uint64_t peak() const { return peak_.load(); }
  uint64_t end() const { return end_; }
  size_t samples() const { return samples_.load(); }

 private:
  uint64_t start_ = 0, end_ = 0;
  std::atomic<uint64_t> peak_{0};
  std::atomic<size_t> samples_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Deterministic pseudo-random bytes (incompressible enough; nothing compresses here anyway).
std::string RandomBytes(size_t n, uint64_t seed);

inline double MiB(double bytes) { return bytes / (1024.0 * 1024.0); }

}  // namespace tessera::bench
