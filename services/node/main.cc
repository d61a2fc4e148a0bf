// tessera-node: the storage node daemon. Serves the SliceService over gRPC and /metrics and
// /healthz over HTTP; see docs/design/node.md.
//
// Configuration: flags, a --config file and TESSERA_<NAME> environment variables
// (services/common/config_sources.h, docs/configuration.md). Any bad flag, value or file exits
// with code 2 and a one-line message on stderr. On start one line goes to stdout:
//   tessera-node started node_id=<id> grpc_port=<port> admin_port=<port> data_dir=<dir>
// and, with --port_file, the same key=value pairs are written atomically to that file.
// SIGTERM/SIGINT drain in-flight RPCs (up to --shutdown_grace) and exit 0.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/env.h"
#include "base/logging.h"
#include "p2p/auth/cluster_auth.h"
#include "p2p/auth/cluster_secret.h"
#include "services/common/config_sources.h"
#include "services/common/shutdown_signals.h"
#include "services/node/node_server.h"
#include "services/repair/repair_worker.h"

ABSL_FLAG(std::string, data_dir, "", "Directory for the node key, slice index and slices.");
ABSL_FLAG(std::string, listen, "0.0.0.0:7400", "host:port for gRPC (port 0 = pick one).");
ABSL_FLAG(std::string, admin_listen, "0.0.0.0:7401",
          "host:port for /metrics and /healthz (port 0 = pick one).");
ABSL_FLAG(std::string, site, "", "Location label: site (data centre / building).");
ABSL_FLAG(std::string, isp, "", "Location label: network provider.");
ABSL_FLAG(std::string, zone, "", "Location label: failure zone within the site.");
ABSL_FLAG(std::string, host, "", "Location label: physical host (default: the hostname).");
ABSL_FLAG(uint64_t, capacity_bytes, 0, "Store capacity cap in bytes; 0 = the whole disk.");
ABSL_FLAG(uint64_t, max_slice_bytes, 16ull << 20, "Largest slice accepted, in bytes.");
ABSL_FLAG(uint64_t, reserved_bytes, 64ull << 20, "Free space kept in reserve, in bytes.");
ABSL_FLAG(uint64_t, max_buffered_put_bytes, 256ull << 20,
          "Cap on bytes buffered by all open PutSlice streams.");
ABSL_FLAG(uint32_t, disk_threads, 4, "Threads doing store (disk) work.");
ABSL_FLAG(std::string, port_file, "",
          "If set, node_id/grpc_port/admin_port are written here (atomically) once serving.");
ABSL_FLAG(std::string, cluster_secret_file, "",
          "Cluster secret (64 hex chars, mode 0600); every RPC then needs a token. Required "
          "unless --insecure_no_auth.");
ABSL_FLAG(bool, insecure_no_auth, false,
          "Development only: serve without authentication (anyone may read/write/delete).");
ABSL_FLAG(std::string, generate_cluster_secret, "",
          "Write a new random cluster secret to this path (mode 0600, never overwrites) and exit.");
ABSL_FLAG(absl::Duration, auth_max_skew, absl::Minutes(5),
          "Largest accepted clock difference for RPC tokens.");
ABSL_FLAG(absl::Duration, test_meta_clock_offset, absl::ZeroDuration(),
          "TEST ONLY: shift the metadata acceptor's wall clock by this much (clock-skew tests).");
ABSL_FLAG(bool, membership, true, "Join the cluster's gossip membership.");
ABSL_FLAG(bool, meta_service, true,
          "Serve the replicated-metadata MetaService (over <data_dir>/meta) on the gRPC port.");
ABSL_FLAG(absl::Duration, meta_compaction_interval, absl::Minutes(1),
          "Pause between metadata compaction passes (purge of old tombstones); 0 = off.");
ABSL_FLAG(absl::Duration, meta_tombstone_grace, absl::Minutes(10),
          "Age before a metadata tombstone may be purged (after every replica confirmed it).");
ABSL_FLAG(std::string, gossip_listen, "0.0.0.0:7946",
          "Numeric IPv4 ip:port for UDP gossip (port 0 = pick one).");
ABSL_FLAG(std::string, gossip_advertise, "",
          "Gossip ip:port peers should use (required with a 0.0.0.0 --gossip_listen).");
ABSL_FLAG(std::string, seeds, "", "Comma-separated gossip host:port of existing members.");
ABSL_FLAG(std::string, grpc_advertise, "",
          "gRPC host:port published to the cluster (default: listen or gossip host + port).");
ABSL_FLAG(absl::Duration, gossip_probe_interval, absl::Seconds(1), "SWIM probe interval.");
ABSL_FLAG(absl::Duration, gossip_probe_timeout, absl::Milliseconds(300),
          "Direct-probe timeout (< probe interval).");
ABSL_FLAG(absl::Duration, gossip_suspicion_timeout, absl::Seconds(5),
          "Time a suspect member has to refute before it is declared dead.");
ABSL_FLAG(absl::Duration, gossip_sync_interval, absl::Seconds(10),
          "Push-pull anti-entropy period.");
ABSL_FLAG(absl::Duration, gossip_join_retry_interval, absl::Seconds(1),
          "Seed retry period while no other member is known.");
ABSL_FLAG(absl::Duration, capacity_refresh_interval, absl::Seconds(30),
          "How often free bytes are re-read and re-published to the cluster.");
ABSL_FLAG(absl::Duration, bandwidth_interval, absl::Seconds(10),
          "Period of cold-peer RTT probes (at most 2 per period) and of bandwidth-summary "
          "publication (docs/design/bandwidth.md).");
ABSL_FLAG(absl::Duration, leave_wait, absl::Seconds(2),
          "On SIGTERM, how long the leave announcement may spread (capped by --shutdown_grace).");
ABSL_FLAG(uint64_t, scrub_bytes_per_second, 32ull << 20,
          "Scrubber read budget in bytes/s (re-verifies every slice's checksums); 0 = off.");
ABSL_FLAG(absl::Duration, scrub_interval, absl::Hours(24), "Pause between full scrub passes.");
ABSL_FLAG(bool, repair, true,
          "Run the repair scheduler: rebuild lost and damaged slices of the buckets this node "
          "is the preferred repairer of (docs/design/repair.md).");
ABSL_FLAG(absl::Duration, repair_interval, absl::Minutes(1), "Time between two repair passes.");
ABSL_FLAG(absl::Duration, repair_dead_grace, absl::Minutes(10),
          "How long a node must be down before its slices are rebuilt elsewhere (stripes with no "
          "spare slice left do not wait).");
ABSL_FLAG(double, repair_max_bytes_per_second, 256.0 * (1 << 20),
          "Cap on this node's repair traffic in bytes/s (0 = none).");
ABSL_FLAG(double, repair_rebalance_threshold, 0.10,
          "Spread of the nodes' used fractions (0..1) above which repair moves slices from fuller "
          "to emptier nodes (after joins); 0 turns rebalancing off.");
ABSL_FLAG(uint64_t, repair_rebalance_bytes_per_pass, 4ull << 30,
          "Bytes of slices one repair pass of this node may move for rebalancing.");
ABSL_FLAG(double, repair_node_share, 0.5,
          "Share of each node's measured bandwidth repair may use, in (0, 1].");
ABSL_FLAG(int32_t, repair_parallel_stripes, 4, "Stripes this node repairs at once.");
ABSL_FLAG(absl::Duration, repair_lease, absl::Seconds(60),
          "Duration of a bucket's repair lease (renewed while held).");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "How long in-flight RPCs may run after SIGTERM before they are cancelled.");

namespace tessera::services {
namespace {

constexpr int kExitBadConfig = 2;

[[noreturn]] void BadConfig(absl::string_view message) {
  std::fprintf(stderr, "tessera-node: %s\n", std::string(message).c_str());
  std::exit(kExitBadConfig);
}

NodeOptions OptionsFromFlags() {
  NodeOptions o;
  o.data_dir = absl::GetFlag(FLAGS_data_dir);
  o.listen = absl::GetFlag(FLAGS_listen);
  o.admin_listen = absl::GetFlag(FLAGS_admin_listen);
  o.location.set_site(absl::GetFlag(FLAGS_site));
  o.location.set_isp(absl::GetFlag(FLAGS_isp));
  o.location.set_zone(absl::GetFlag(FLAGS_zone));
  std::string host = absl::GetFlag(FLAGS_host);
  if (host.empty()) {
    char name[256] = {0};
    if (::gethostname(name, sizeof(name) - 1) == 0) host = name;
  }
  o.location.set_host(host);
  o.capacity_bytes = absl::GetFlag(FLAGS_capacity_bytes);
  o.max_slice_bytes = absl::GetFlag(FLAGS_max_slice_bytes);
  o.reserved_bytes = absl::GetFlag(FLAGS_reserved_bytes);
  o.max_buffered_put_bytes = absl::GetFlag(FLAGS_max_buffered_put_bytes);
  o.disk_threads = absl::GetFlag(FLAGS_disk_threads);
  o.cluster_secret_file = absl::GetFlag(FLAGS_cluster_secret_file);
  o.insecure_no_auth = absl::GetFlag(FLAGS_insecure_no_auth);
  o.auth_max_skew = absl::GetFlag(FLAGS_auth_max_skew);
  o.test_meta_clock_offset = absl::GetFlag(FLAGS_test_meta_clock_offset);
  o.enable_membership = absl::GetFlag(FLAGS_membership);
  o.enable_meta_service = absl::GetFlag(FLAGS_meta_service);
  o.meta_compaction_interval = absl::GetFlag(FLAGS_meta_compaction_interval);
  o.meta_tombstone_grace = absl::GetFlag(FLAGS_meta_tombstone_grace);
  o.gossip_listen = absl::GetFlag(FLAGS_gossip_listen);
  o.gossip_advertise = absl::GetFlag(FLAGS_gossip_advertise);
  o.seeds = absl::StrSplit(absl::GetFlag(FLAGS_seeds), ',', absl::SkipWhitespace());
  o.grpc_advertise = absl::GetFlag(FLAGS_grpc_advertise);
  o.gossip.probe_interval = absl::GetFlag(FLAGS_gossip_probe_interval);
  o.gossip.probe_timeout = absl::GetFlag(FLAGS_gossip_probe_timeout);
  o.gossip.suspicion_timeout = absl::GetFlag(FLAGS_gossip_suspicion_timeout);
  o.gossip.sync_interval = absl::GetFlag(FLAGS_gossip_sync_interval);
  o.gossip.join_retry_interval = absl::GetFlag(FLAGS_gossip_join_retry_interval);
  o.gossip.random_seed = static_cast<uint64_t>(::getpid()) ^ absl::ToUnixNanos(absl::Now());
  o.capacity_refresh_interval = absl::GetFlag(FLAGS_capacity_refresh_interval);
  o.bandwidth.interval = absl::GetFlag(FLAGS_bandwidth_interval);
  o.leave_wait = absl::GetFlag(FLAGS_leave_wait);
  o.scrub_bytes_per_second = absl::GetFlag(FLAGS_scrub_bytes_per_second);
  o.scrub_interval = absl::GetFlag(FLAGS_scrub_interval);
  return o;
}

// The repair worker of this node (services/repair/repair_worker.h): it reaches the cluster through
// this node's own gRPC port, authenticated with the cluster secret, and never loads a key.
absl::StatusOr<std::unique_ptr<RepairWorker>> StartRepair(const NodeOptions& node,
                                                          const NodeServer& server,
                                                          const std::string& listen) {
  RepairWorkerOptions o;
  o.node_id = server.node_id();
  std::string host = "127.0.0.1";
  if (size_t colon = listen.rfind(':'); colon != std::string::npos) {
    const std::string h = listen.substr(0, colon);
    if (!h.empty() && h != "0.0.0.0" && h != "[::]" && h != "::") host = h;
  }
  o.self_address = absl::StrCat(host, ":", server.port());
  if (!node.cluster_secret_file.empty()) {
    auto auth = p2p::ClusterAuth::FromSecretFile(node.cluster_secret_file, "repair");
    if (!auth.ok()) return auth.status();
    o.auth = *std::move(auth);
  }
  o.interval = absl::GetFlag(FLAGS_repair_interval);
  o.lease_duration = absl::GetFlag(FLAGS_repair_lease);
  o.repair.dead_grace = absl::GetFlag(FLAGS_repair_dead_grace);
  o.repair.parallel_stripes = absl::GetFlag(FLAGS_repair_parallel_stripes);
  o.repair.budget.max_bytes_per_second = absl::GetFlag(FLAGS_repair_max_bytes_per_second);
  o.repair.budget.node_share = absl::GetFlag(FLAGS_repair_node_share);
  o.repair.rebalance.threshold = absl::GetFlag(FLAGS_repair_rebalance_threshold);
  o.repair.rebalance.max_bytes_per_pass = absl::GetFlag(FLAGS_repair_rebalance_bytes_per_pass);
  o.bandwidth = server.bandwidth();
  o.location = node.location;
  return RepairWorker::Start(std::move(o));
}

int Main(int argc, char** argv) {
  // Before any thread starts: see services/common/shutdown_signals.h.
  ShutdownSignals signals;

  absl::SetProgramUsageMessage(
      "tessera-node: a Tessera storage node. Stores slices under --data_dir and serves them over "
      "gRPC (--listen), joins the cluster's gossip membership, and serves /metrics and /healthz "
      "(--admin_listen).\n"
      "usage: tessera-node --data_dir=DIR (--cluster_secret_file=FILE | --insecure_no_auth) "
      "[--flags]\n   or: tessera-node --generate_cluster_secret=PATH");
  ParseFlagsOrExit(argc, argv, "tessera-node");
  if (const std::string path = absl::GetFlag(FLAGS_generate_cluster_secret); !path.empty()) {
    if (absl::Status s = p2p::ClusterSecret::Generate(path); !s.ok()) {
      std::fprintf(stderr, "tessera-node: %s\n", std::string(s.message()).c_str());
      return 1;
    }
    std::printf("tessera-node: wrote a new cluster secret to %s (mode 0600)\n", path.c_str());
    return 0;
  }
  NodeOptions options = OptionsFromFlags();
  if (absl::Status s = options.Validate(); !s.ok()) BadConfig(s.message());
  if (options.cluster_secret_file.empty() && !options.insecure_no_auth) {
    BadConfig(
        "--cluster_secret_file is required (create one with --generate_cluster_secret=PATH;"
        " --insecure_no_auth for development only)");
  }
  if (options.insecure_no_auth) {
    std::fprintf(stderr,
                 "tessera-node: WARNING: --insecure_no_auth: RPCs are NOT authenticated; anyone "
                 "who can reach the gRPC port can read, write and delete slices. Development "
                 "only.\n");
  }
  const absl::Duration grace = absl::GetFlag(FLAGS_shutdown_grace);
  if (grace < absl::ZeroDuration()) BadConfig("--shutdown_grace must not be negative");

  absl::StatusOr<std::unique_ptr<NodeServer>> server = NodeServer::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "tessera-node: cannot start: %s\n", server.status().ToString().c_str());
    return 1;
  }
  std::string ports =
      absl::StrCat("node_id=", (*server)->node_id(), " grpc_port=", (*server)->port(),
                   " admin_port=", (*server)->admin_port());
  if (const std::string gossip = (*server)->gossip_address(); !gossip.empty()) {
    absl::StrAppend(&ports, " gossip_address=", gossip);
  }
  if (const std::string port_file = absl::GetFlag(FLAGS_port_file); !port_file.empty()) {
    absl::Status s = WriteFileAtomically(Env::Default(), port_file, absl::StrCat(ports, "\n"));
    if (!s.ok()) {
      std::fprintf(stderr, "tessera-node: cannot write --port_file: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  std::printf("tessera-node started %s data_dir=%s\n", ports.c_str(), options.data_dir.c_str());
  std::fflush(stdout);
  TESSERA_LOG(INFO, "node_started")
      .Field("node_id", (*server)->node_id())
      .Field("grpc_port", (*server)->port())
      .Field("admin_port", (*server)->admin_port());

  std::unique_ptr<RepairWorker> repair;
  if (absl::GetFlag(FLAGS_repair)) {
    absl::StatusOr<std::unique_ptr<RepairWorker>> started =
        StartRepair(options, **server, absl::GetFlag(FLAGS_listen));
    if (!started.ok()) BadConfig(absl::StrCat("repair: ", started.status().message()));
    repair = *std::move(started);
    (*server)->SetRepairStatus([worker = repair.get()] { return worker->Status(); });
  }

  const int sig = signals.Wait();
  TESSERA_LOG(INFO, "node_stopping").Field("signal", sig).Field("grace", grace);
  (*server)->SetRepairStatus(nullptr);
  if (repair != nullptr) repair->Stop();
  (*server)->Shutdown(grace);
  server->reset();
  TESSERA_LOG(INFO, "node_stopped");
  return 0;
}

}  // namespace
}  // namespace tessera::services

int main(int argc, char** argv) { return tessera::services::Main(argc, argv); }
