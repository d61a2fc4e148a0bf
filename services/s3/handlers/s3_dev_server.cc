// s3_dev_server: an in-process test cluster (real NodeServers on 127.0.0.1:0, 6 nodes in 3
// sites, k=4, m=2, in-memory manifest store) behind the S3 gateway on 127.0.0.1:0. For the
// end-to-end tests with unmodified clients (tests/e2e). Prints "port=<port>" on stdout once
// serving; exits when stdin closes or on SIGTERM/SIGINT.
//
//   s3_dev_server --credentials_file=creds.ini [--data_dir=DIR] [--port_file=FILE]
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "services/gateway/multipart.h"
#include "services/gateway/test_cluster.h"
#include "services/s3/auth/credential_store.h"
#include "services/s3/handlers/s3_gateway.h"
#include "services/s3/http_server/http_server.h"
#include "storage/pipeline/stripe_codec.h"

ABSL_FLAG(std::string, credentials_file, "", "S3 users (INI, mode 0600). Required.");
ABSL_FLAG(std::string, listen, "127.0.0.1:0", "host:port of the S3 endpoint.");
ABSL_FLAG(std::string, port_file, "", "If set, the S3 port is written here.");
ABSL_FLAG(uint64_t, stripe_size, 8ull << 20, "Plaintext bytes per stripe.");

namespace tessera::services {
namespace {

int Main(int argc, char** argv) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  absl::ParseCommandLine(argc, argv);
  auto creds = s3::CredentialStore::LoadFromFile(absl::GetFlag(FLAGS_credentials_file));
  if (!creds.ok()) {
    std::fprintf(stderr, "s3_dev_server: %s\n", creds.status().ToString().c_str());
    return 2;
  }
  testing::TestClusterOptions co;
  co.data.stripe_size = absl::GetFlag(FLAGS_stripe_size);
  testing::TestCluster cluster(co);
  if (!cluster.status().ok()) {
    std::fprintf(stderr, "s3_dev_server: cluster: %s\n", cluster.status().ToString().c_str());
    return 1;
  }
  storage::StripeCodecOptions codec_options;
  codec_options.data_shards = co.data.data_shards;
  codec_options.parity_shards = co.data.parity_shards;
  codec_options.slice_alignment = co.data.slice_alignment;
  auto codec = storage::StripeCodec::Create(codec_options);
  if (!codec.ok()) return 1;
  MultipartUploads uploads(co.data, cluster.deps(), &cluster.store(), codec->get());
  if (absl::Status s = uploads.Init(); !s.ok()) return 1;
  s3::S3Gateway gateway({}, &cluster.service(), &uploads, &cluster.store(), cluster.deps(),
                        creds->get(), Clock::Real());
  s3::HttpServerOptions ho;
  ho.listen = absl::GetFlag(FLAGS_listen);
  ho.max_body_bytes = 1ull << 40;
  ho.streaming_handler = gateway.AsHandler();
  auto server = s3::S3HttpServer::Start(ho);
  if (!server.ok()) {
    std::fprintf(stderr, "s3_dev_server: %s\n", server.status().ToString().c_str());
    return 1;
  }
  if (std::string f = absl::GetFlag(FLAGS_port_file); !f.empty()) {
    std::string tmp = f + ".tmp";
    FILE* out = std::fopen(tmp.c_str(), "w");
    if (out == nullptr) return 1;
    std::fprintf(out, "%d\n", (*server)->port());
    std::fclose(out);
    std::rename(tmp.c_str(), f.c_str());
  }
  std::printf("port=%d\n", (*server)->port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  (*server)->Stop();
  return 0;
}

}  // namespace
}  // namespace tessera::services

int main(int argc, char** argv) { return tessera::services::Main(argc, argv); }
