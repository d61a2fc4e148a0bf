// tessera-s3: the production S3 endpoint (docs/design/s3.md) over the cluster, on the same data
// path as tessera-gateway (services/object/object_backend.h: metadata replicated on the storage
// nodes, slices through the authenticated slice client). Any number of tessera-s3 and
// tessera-gateway processes over the same nodes are one consistent store.
//
//   tessera-s3 --seeds=10.0.0.5:7400 --cluster_secret_file=cluster.secret
//              --master_key_file=master.key --credentials_file=s3users.ini [--listen=HOST:PORT]
//              [--tls_cert_file=cert.pem --tls_key_file=key.pem]
//              [--worker_threads=64 --max_connections=1024 --max_handshakes=256]
//              [--reclaim=true --gc_interval=5m --gc_grace=15m --orphan_interval=1h
//               --orphan_grace=6h]
//
// Space reclamation (slice GC with the multipart purge, orphan reclaimer) runs in the backend's
// thread as in tessera-gateway; the flags are shared (services/object/reclaim_flags.h).
// On start one line goes to stdout:
//   tessera-s3 started s3_port=<port> admin_port=<port>
// and, with --port_file, `s3_port=.. admin_port=..` is written there atomically. A bad flag exits
// 2 with one line on stderr; a start failure exits 1. SIGTERM/SIGINT make /readyz fail, close the
// listener and idle connections, let requests in progress finish (up to --shutdown_grace, their
// answers saying "Connection: close"), then exit 0.
// SIGHUP re-reads --credentials_file and the TLS certificate and key (new connections use them);
// a file that fails to load is logged and the current one stays in use.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/env.h"
#include "base/logging.h"
#include "base/metrics.h"
#include "services/common/admin_server.h"
#include "services/common/config_sources.h"
#include "services/common/shutdown_signals.h"
#include "services/common/tls_flags.h"
#include "services/object/backend_metrics.h"
#include "services/object/multipart.h"
#include "services/object/object_backend.h"
#include "services/object/reclaim_flags.h"
#include "services/s3/auth/credential_store.h"
#include "services/s3/handlers/s3_front_end.h"
#include "services/s3/http_server/http_server.h"
#include "storage/pipeline/stripe_codec.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:9000", "host:port of the S3 endpoint (port 0 = any).");
ABSL_FLAG(std::string, admin_listen, "127.0.0.1:9001",
          "host:port for /metrics, /healthz and /readyz.");
ABSL_FLAG(std::vector<std::string>, seeds, {},
          "Comma-separated gRPC host:port of some storage nodes. Required.");
ABSL_FLAG(std::string, cluster_secret_file, "",
          "Cluster secret file (0600). Required unless --insecure_no_auth.");
ABSL_FLAG(bool, insecure_no_auth, false,
          "Development only: call nodes without cluster tokens (nodes run --insecure_no_auth).");
ABSL_FLAG(std::string, master_key_file, "", "Cluster master key file (mode 0600). Required.");
ABSL_FLAG(std::string, credentials_file, "",
          "S3 users: INI of [user] access_key/secret_key (mode 0600). Required.");
ABSL_FLAG(std::string, site, "",
          "Location label: the site this front end runs in (as tessera-node --site). Slice traffic "
          "is counted by the boundary it crosses: tessera_slice_traffic_bytes_total.");
ABSL_FLAG(std::string, zone, "", "Location label: failure zone within the site.");
ABSL_FLAG(std::string, isp, "", "Location label: network provider.");
ABSL_FLAG(std::string, region, "us-east-1", "Region name that SigV4 signatures must use.");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain: serve HTTPS (with --tls_key_file).");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key for --tls_cert_file.");
ABSL_FLAG(std::string, tls_cert, "", "Deprecated alias of --tls_cert_file (removed next release).");
ABSL_FLAG(std::string, tls_key, "", "Deprecated alias of --tls_key_file (removed next release).");
ABSL_FLAG(int32_t, k, 4, "Data slices per stripe.");
ABSL_FLAG(int32_t, m, 2, "Parity slices per stripe (losses tolerated).");
ABSL_FLAG(uint64_t, stripe_size, 8ull << 20, "Plaintext bytes per stripe.");
ABSL_FLAG(uint64_t, inline_threshold, 64 << 10,
          "Objects up to this many bytes are kept (encrypted) in the manifest.");
ABSL_FLAG(uint64_t, max_object_bytes, 5ull << 30, "Largest single PUT or part, in bytes.");
ABSL_FLAG(int32_t, io_threads, 4, "HTTP I/O threads (accept, TLS, waiting for requests).");
ABSL_FLAG(int32_t, worker_threads, 64,
          "Requests served at once (threads running the S3 handler); more wait in line.");
ABSL_FLAG(int32_t, max_connections, 1024,
          "Open client connections; when full, the oldest one that has not sent a request yet is "
          "dropped, else newcomers get 503 SlowDown.");
ABSL_FLAG(int32_t, max_handshakes, 256,
          "TLS handshakes in progress at once; a new one drops the oldest.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "How long requests in progress may run after SIGTERM before their connections are "
          "closed.");
ABSL_FLAG(std::string, port_file, "", "If set, s3_port/admin_port are written here.");

namespace tessera::services {
namespace {

[[noreturn]] void BadConfig(const std::string& message) {
  std::fprintf(stderr, "tessera-s3: %s\n", message.c_str());
  std::exit(2);
}

// Every client connection is a descriptor, on top of the cluster's: raise the soft limit to the
// hard one (the default soft 1024 would run out before --max_connections does) and warn if even
// that leaves too little headroom.
void RaiseDescriptorLimit(size_t max_connections) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  constexpr size_t kHeadroom = 256;  // cluster channels, files, the admin server
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < max_connections + kHeadroom) {
    TESSERA_LOG(WARNING, "s3_descriptor_limit_low")
        .Field("nofile", static_cast<uint64_t>(rl.rlim_cur))
        .Field("max_connections", static_cast<uint64_t>(max_connections));
  }
}

// SIGHUP: re-read --credentials_file and the TLS certificate and key. Each reload either fully
// succeeds or leaves what is in use (and logs why); open connections are not disturbed.
void Reload(s3::CredentialStore* credentials, s3::S3HttpServer* server) {
  if (absl::Status s = credentials->ReloadFromFile(absl::GetFlag(FLAGS_credentials_file)); s.ok()) {
    TESSERA_LOG(INFO, "s3_credentials_reloaded").Field("keys", credentials->size());
  } else {
    TESSERA_LOG(ERROR, "s3_credentials_reload_failed").Field("status", s);
  }
  if (absl::Status s = server->ReloadTls(); !s.ok()) {
    TESSERA_LOG(ERROR, "s3_tls_reload_failed").Field("status", s);
  } else if (!absl::GetFlag(FLAGS_tls_cert_file).empty() ||
             !absl::GetFlag(FLAGS_tls_cert).empty()) {
    TESSERA_LOG(INFO, "s3_tls_reloaded");
  }
}

int Fail(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "tessera-s3: %s: %s\n", what.c_str(), status.ToString().c_str());
  return 1;
}

int Main(int argc, char** argv) {
  // Before any thread starts: see services/common/shutdown_signals.h. SIGHUP reloads.
  ShutdownSignals signals(ShutdownSignals::kReloadOnSighup);

  absl::SetProgramUsageMessage(
      "tessera-s3: the S3-compatible HTTP(S) endpoint of a Tessera cluster. Serves the S3 API on "
      "--listen (HTTPS with --tls_cert_file/--tls_key_file) for the users of --credentials_file, "
      "stores objects on the storage nodes reached through --seeds, and serves /metrics, /healthz "
      "and /readyz on --admin_listen.\n"
      "usage: tessera-s3 --seeds=HOST:PORT,... --cluster_secret_file=FILE --master_key_file=FILE "
      "--credentials_file=FILE [--listen=HOST:PORT] [--tls_cert_file=FILE --tls_key_file=FILE] "
      "[--flags]");
  ParseFlagsOrExit(argc, argv, "tessera-s3");

  if (absl::GetFlag(FLAGS_credentials_file).empty()) {
    BadConfig("--credentials_file is required (S3 users; see services/s3/auth/credential_store.h)");
  }
  bool deprecated_tls = false;
  absl::StatusOr<TlsFiles> tls =
      ResolveTlsFlags(absl::GetFlag(FLAGS_tls_cert_file), absl::GetFlag(FLAGS_tls_key_file),
                      absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key), &deprecated_tls);
  if (!tls.ok()) BadConfig(std::string(tls.status().message()));
  if (deprecated_tls) {
    TESSERA_LOG(WARNING, "s3_deprecated_flag")
        .Field("hint", "--tls_cert/--tls_key are now --tls_cert_file/--tls_key_file");
  }
  if (absl::GetFlag(FLAGS_io_threads) < 1) BadConfig("--io_threads must be positive");
  if (absl::GetFlag(FLAGS_worker_threads) < 1) BadConfig("--worker_threads must be positive");
  if (absl::GetFlag(FLAGS_max_connections) < 1) BadConfig("--max_connections must be positive");
  if (absl::GetFlag(FLAGS_max_handshakes) < 1) BadConfig("--max_handshakes must be positive");
  const absl::Duration grace = absl::GetFlag(FLAGS_shutdown_grace);
  if (grace < absl::ZeroDuration()) BadConfig("--shutdown_grace must not be negative");
  RaiseDescriptorLimit(static_cast<size_t>(absl::GetFlag(FLAGS_max_connections)));

  ObjectBackendOptions bo;
  bo.seeds = absl::GetFlag(FLAGS_seeds);
  bo.location.set_site(absl::GetFlag(FLAGS_site));
  bo.location.set_zone(absl::GetFlag(FLAGS_zone));
  bo.location.set_isp(absl::GetFlag(FLAGS_isp));
  bo.cluster_secret_file = absl::GetFlag(FLAGS_cluster_secret_file);
  bo.insecure_no_auth = absl::GetFlag(FLAGS_insecure_no_auth);
  bo.caller_id = "s3";
  bo.master_key_file = absl::GetFlag(FLAGS_master_key_file);
  bo.data.data_shards = absl::GetFlag(FLAGS_k);
  bo.data.parity_shards = absl::GetFlag(FLAGS_m);
  bo.data.stripe_size = absl::GetFlag(FLAGS_stripe_size);
  bo.data.inline_threshold = absl::GetFlag(FLAGS_inline_threshold);
  // Space reclamation, as tessera-gateway runs it (services/object/reclaim_flags.h): an S3-only
  // deployment must reclaim overwritten, deleted and orphaned data too.
  absl::StatusOr<ReclaimSettings> reclaim = ReclaimSettingsFromFlags();
  if (!reclaim.ok()) BadConfig(std::string(reclaim.status().message()));
  ApplyReclaimSettings(*reclaim, &bo);
  if (absl::Status s = bo.Validate(); !s.ok()) BadConfig(std::string(s.message()));

  auto credentials = s3::CredentialStore::LoadFromFile(absl::GetFlag(FLAGS_credentials_file));
  if (!credentials.ok()) return Fail("--credentials_file", credentials.status());

  auto backend = OpenObjectBackend(bo);
  if (!backend.ok()) return Fail("cannot reach the cluster", backend.status());

  auto s3_metrics = s3::S3Metrics::Create(&Registry::Default());
  if (!s3_metrics.ok()) return Fail("metrics", s3_metrics.status());
  s3::S3FrontEndOptions fo;
  fo.gateway.metrics = s3_metrics->get();
  fo.gateway.region = absl::GetFlag(FLAGS_region);
  fo.gateway.max_object_bytes = absl::GetFlag(FLAGS_max_object_bytes);
  fo.data = bo.data;
  auto front = s3::S3FrontEnd::Create(std::move(fo), &(*backend)->objects(), &(*backend)->store(),
                                      (*backend)->deps(), credentials->get(), Clock::Real());
  if (!front.ok()) return Fail("S3 front end (erasure code, multipart uploads)", front.status());

  AdminServerOptions ao;
  ao.listen = absl::GetFlag(FLAGS_admin_listen);
  auto backend_metrics = BackendMetrics::Create(&Registry::Default());
  if (!backend_metrics.ok()) return Fail("metrics", backend_metrics.status());
  ao.metrics_text = [m = backend_metrics->get(), b = backend->get()] {
    m->Update(b->Health());
    return Registry::Default().Serialize();
  };
  ao.readiness = [b = backend->get()] { return b->Readiness(); };
  auto admin = AdminServer::Start(std::move(ao));
  if (!admin.ok()) return Fail("admin server", admin.status());

  s3::HttpServerOptions ho;
  ho.listen = absl::GetFlag(FLAGS_listen);
  ho.io_threads = absl::GetFlag(FLAGS_io_threads);
  ho.worker_threads = absl::GetFlag(FLAGS_worker_threads);
  ho.max_connections = static_cast<size_t>(absl::GetFlag(FLAGS_max_connections));
  ho.max_handshakes = static_cast<size_t>(absl::GetFlag(FLAGS_max_handshakes));
  ho.max_body_bytes = 1ull << 40;  // objects stream; the gateway enforces max_object_bytes
  ho.tls_cert_file = tls->cert_file;
  ho.tls_key_file = tls->key_file;
  if (absl::Status s = (*front)->StartHttp(std::move(ho)); !s.ok()) {
    return Fail("cannot serve S3", s);
  }
  s3::S3HttpServer* server = (*front)->http();
  (*admin)->SetHealth(Health::kServing);

  const std::string ports =
      absl::StrCat("s3_port=", server->port(), " admin_port=", (*admin)->port());
  if (const std::string port_file = absl::GetFlag(FLAGS_port_file); !port_file.empty()) {
    absl::Status s = WriteFileAtomically(Env::Default(), port_file, absl::StrCat(ports, "\n"));
    if (!s.ok()) return Fail("cannot write --port_file", s);
  }
  std::printf("tessera-s3 started %s\n", ports.c_str());
  std::fflush(stdout);
  TESSERA_LOG(INFO, "s3_started")
      .Field("s3_port", server->port())
      .Field("admin_port", (*admin)->port());

  int sig = signals.Wait();
  for (; sig == SIGHUP; sig = signals.Wait()) Reload(credentials->get(), server);
  TESSERA_LOG(INFO, "s3_stopping").Field("signal", sig);
  (*admin)->SetHealth(Health::kStopping);
  server->Stop(grace);
  TESSERA_LOG(INFO, "s3_drained");
  front->reset();  // stops the HTTP server first (joins its I/O threads), then the handlers
  backend->reset();
  (*admin)->Stop();
  TESSERA_LOG(INFO, "s3_stopped");
  return 0;
}

}  // namespace
}  // namespace tessera::services

int main(int argc, char** argv) { return tessera::services::Main(argc, argv); }
