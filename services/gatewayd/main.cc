// tessera-gateway: the gRPC Gateway daemon (api/gateway.proto); see docs/design/sdk_cli.md.
//
//   tessera-gateway --seeds=10.0.0.5:7400,10.0.0.6:7400 --cluster_secret_file=cluster.secret
//                   --master_key_file=master.key --credentials_file=users.ini
//                   [--listen=HOST:PORT] [--tls_cert_file=cert.pem --tls_key_file=key.pem]
//
// Every call must be signed by a user of --credentials_file (the same users as tessera-s3; see
// call_signature.h and docs/design/security.md). It listens on loopback unless told otherwise:
// serve other hosts with --listen=0.0.0.0:7500, and then with TLS.
//
// The gateway learns the cluster from the seeds' membership and keeps no durable state: object
// and bucket metadata are replicated on the storage nodes. On start one line goes to stdout:
//   tessera-gateway started grpc_port=<port> admin_port=<port> nodes=<alive>/<known>
// and, with --port_file, `grpc_port=.. admin_port=..` is written there atomically. A bad flag or
// option exits 2 with one line on stderr; a start failure exits 1. SIGTERM/SIGINT stop accepting
// calls, let in-flight ones run up to --shutdown_grace, and exit 0. SIGHUP re-reads
// --credentials_file (a file that fails to load is logged and the current users stay); the TLS
// certificate and key are re-read every --tls_refresh_interval without a signal.
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "base/env.h"
#include "base/logging.h"
#include "services/common/config_sources.h"
#include "services/common/shutdown_signals.h"
#include "services/gatewayd/gateway_server.h"
#include "services/object/reclaim_flags.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7500",
          "host:port for the gRPC Gateway service (loopback by default).");
ABSL_FLAG(std::string, admin_listen, "127.0.0.1:7501",
          "host:port for /metrics, /healthz and /readyz.");
ABSL_FLAG(std::string, credentials_file, "",
          "Users who may call the gateway: access key, secret and user id, as tessera-s3's "
          "--credentials_file (mode 0600). Required.");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain: serve gRPC over TLS (with --tls_key_file).");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key for --tls_cert_file.");
ABSL_FLAG(absl::Duration, tls_refresh_interval, absl::Minutes(1),
          "How often the TLS certificate and key files are re-read (a renewed pair is served "
          "without a restart).");
ABSL_FLAG(std::string, master_key_file, "", "Cluster master key file (mode 0600). Required.");
ABSL_FLAG(int32_t, k, 4, "Data slices per stripe.");
ABSL_FLAG(int32_t, m, 2, "Parity slices per stripe (losses tolerated).");
ABSL_FLAG(uint64_t, stripe_size, 8ull << 20, "Plaintext bytes per stripe.");
ABSL_FLAG(uint64_t, inline_threshold, 64 << 10,
          "Objects up to this many bytes are kept (encrypted) in the manifest.");
ABSL_FLAG(std::string, site, "",
          "Location label: the site this front end runs in (as tessera-node --site). Slice traffic "
          "is counted by the boundary it crosses: tessera_slice_traffic_bytes_total.");
ABSL_FLAG(std::string, zone, "", "Location label: failure zone within the site.");
ABSL_FLAG(std::string, isp, "", "Location label: network provider.");
ABSL_FLAG(std::vector<std::string>, seeds, {},
          "Comma-separated gRPC host:port of some storage nodes; the rest of the cluster is "
          "learned from their membership. Required.");
ABSL_FLAG(std::string, cluster_secret_file, "",
          "Cluster secret file (0600): authenticates this gateway's calls to storage nodes. "
          "Required unless --insecure_no_auth.");
ABSL_FLAG(bool, insecure_no_auth, false,
          "Development only: call nodes without cluster tokens (nodes run --insecure_no_auth).");
ABSL_FLAG(std::string, port_file, "", "If set, grpc_port/admin_port are written here.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "How long in-flight calls may run after SIGTERM.");

namespace tessera::services {
namespace {

[[noreturn]] void BadConfig(const std::string& message) {
  std::fprintf(stderr, "tessera-gateway: %s\n", message.c_str());
  std::exit(2);
}

int Main(int argc, char** argv) {
  // Before any thread starts: see services/common/shutdown_signals.h.
  ShutdownSignals signals(ShutdownSignals::kReloadOnSighup);

  absl::SetProgramUsageMessage(
      "tessera-gateway: the gRPC Gateway of a Tessera cluster (api/gateway.proto), used by the "
      "`tessera` CLI and the SDK. Serves signed calls from the users of --credentials_file on "
      "--listen (TLS with --tls_cert_file/--tls_key_file), stores objects on the storage nodes "
      "reached through --seeds, and serves /metrics, /healthz and /readyz on --admin_listen.\n"
      "usage: tessera-gateway --seeds=HOST:PORT,... --cluster_secret_file=FILE "
      "--master_key_file=FILE --credentials_file=FILE [--listen=HOST:PORT] "
      "[--tls_cert_file=FILE --tls_key_file=FILE] [--flags]");
  ParseFlagsOrExit(argc, argv, "tessera-gateway");

  GatewayServerOptions o;
  o.listen = absl::GetFlag(FLAGS_listen);
  o.admin_listen = absl::GetFlag(FLAGS_admin_listen);
  o.master_key_file = absl::GetFlag(FLAGS_master_key_file);
  o.credentials_file = absl::GetFlag(FLAGS_credentials_file);
  o.tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  o.tls_key_file = absl::GetFlag(FLAGS_tls_key_file);
  o.tls_refresh_interval = absl::GetFlag(FLAGS_tls_refresh_interval);
  o.seeds = absl::GetFlag(FLAGS_seeds);
  o.location.set_site(absl::GetFlag(FLAGS_site));
  o.location.set_zone(absl::GetFlag(FLAGS_zone));
  o.location.set_isp(absl::GetFlag(FLAGS_isp));
  o.cluster_secret_file = absl::GetFlag(FLAGS_cluster_secret_file);
  o.insecure_no_auth = absl::GetFlag(FLAGS_insecure_no_auth);
  o.data.data_shards = absl::GetFlag(FLAGS_k);
  o.data.parity_shards = absl::GetFlag(FLAGS_m);
  o.data.stripe_size = absl::GetFlag(FLAGS_stripe_size);
  o.data.inline_threshold = absl::GetFlag(FLAGS_inline_threshold);
  // --reclaim, --gc_interval, --gc_grace, --orphan_interval, --orphan_grace: shared with
  // tessera-s3 (services/object/reclaim_flags.h).
  absl::StatusOr<ReclaimSettings> reclaim = ReclaimSettingsFromFlags();
  if (!reclaim.ok()) BadConfig(std::string(reclaim.status().message()));
  o.gc_interval = reclaim->gc_interval;
  o.gc_grace = reclaim->gc_grace;
  o.orphan_interval = reclaim->orphan_interval;
  o.orphan_grace = reclaim->orphan_grace;
  if (absl::Status s = o.Validate(); !s.ok()) BadConfig(std::string(s.message()));
  const absl::Duration grace = absl::GetFlag(FLAGS_shutdown_grace);
  if (grace < absl::ZeroDuration()) BadConfig("--shutdown_grace must not be negative");

  absl::StatusOr<std::unique_ptr<GatewayServer>> server = GatewayServer::Start(o);
  if (!server.ok()) {
    std::fprintf(stderr, "tessera-gateway: cannot start: %s\n", server.status().ToString().c_str());
    return 1;
  }
  const std::string ports =
      absl::StrCat("grpc_port=", (*server)->port(), " admin_port=", (*server)->admin_port());
  if (const std::string port_file = absl::GetFlag(FLAGS_port_file); !port_file.empty()) {
    absl::Status s = WriteFileAtomically(Env::Default(), port_file, absl::StrCat(ports, "\n"));
    if (!s.ok()) {
      std::fprintf(stderr, "tessera-gateway: cannot write --port_file: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  if (o.tls_cert_file.empty() && !absl::StartsWith(o.listen, "127.") &&
      !absl::StartsWith(o.listen, "localhost:") && !absl::StartsWith(o.listen, "[::1]:")) {
    // Signatures protect who calls, not what the messages say or who reads them.
    TESSERA_LOG(WARNING, "gateway_plaintext_listen")
        .Field("listen", o.listen)
        .Field("hint", "object data crosses the network unencrypted; use --tls_cert_file");
  }
  std::printf("tessera-gateway started %s nodes=%d/%d\n", ports.c_str(), (*server)->alive_nodes(),
              (*server)->known_nodes());
  std::fflush(stdout);
  TESSERA_LOG(INFO, "gateway_started")
      .Field("grpc_port", (*server)->port())
      .Field("admin_port", (*server)->admin_port());

  int sig = signals.Wait();
  for (; sig == SIGHUP; sig = signals.Wait()) {
    if (absl::Status s = (*server)->ReloadCredentials(); s.ok()) {
      TESSERA_LOG(INFO, "gateway_credentials_reloaded");
    } else {
      TESSERA_LOG(ERROR, "gateway_credentials_reload_failed").Field("status", s);
    }
  }
  TESSERA_LOG(INFO, "gateway_stopping").Field("signal", sig);
  (*server)->Shutdown(grace);
  server->reset();
  TESSERA_LOG(INFO, "gateway_stopped");
  return 0;
}

}  // namespace
}  // namespace tessera::services

int main(int argc, char** argv) { return tessera::services::Main(argc, argv); }
