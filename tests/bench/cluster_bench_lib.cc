#include "tests/bench/cluster_bench_lib.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <isa-l/crc.h>
#include <isa-l/erasure_code.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/gateway.pb.h"
#include "base/metrics.h"
#include "base/sodium.h"
#include "services/gatewayd/call_verifier.h"
#include "services/gatewayd/gateway_service.h"
#include "services/object/multipart.h"
#include "services/object/replicated_test_cluster.h"
#include "services/object/work_pool.h"
#include "services/s3/auth/credential_store.h"
#include "services/s3/handlers/s3_front_end.h"
#include "services/s3/http_server/http_server.h"
#include "storage/pipeline/stripe_codec.h"
#include "tests/bench/cluster_bench_sink.grpc.pb.h"

namespace tessera::bench {

double ProcessCpuSeconds() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

uint64_t CurrentRssBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
    }
  }
  return 0;
}

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  std::mt19937_64 rng(seed);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  for (; i < n; ++i) s[i] = static_cast<char>(rng());
  return s;
}

namespace {

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Bytes/s of `fn` processing `bytes`: median of `reps` passes after one warm-up.
double Rate(int reps, size_t bytes, const std::function<void()>& fn) {
  fn();
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const double start = WallSeconds();
    fn();
    t.push_back(WallSeconds() - start);
  }
  return bytes / Median(t);
}

class SinkService final : public Sink::Service {
 public:
  grpc::Status Push(grpc::ServerContext*, grpc::ServerReader<Chunk>* reader, Ack* ack) override {
    Chunk c;
    uint64_t n = 0;
    while (reader->Read(&c)) n += c.data().size();
    ack->set_bytes(n);
    return grpc::Status::OK;
  }
  grpc::Status Pull(grpc::ServerContext*, const Ack* req,
                    grpc::ServerWriter<Chunk>* writer) override {
    Chunk c;
    c.mutable_data()->assign(1 << 20, 'x');
    for (uint64_t sent = 0; sent < req->bytes(); sent += c.data().size()) {
      if (!writer->Write(c)) break;
    }
    return grpc::Status::OK;
  }
  grpc::Status Echo(grpc::ServerContext*, const Chunk* req, Chunk* resp) override {
    *resp->mutable_data() = req->data();
    return grpc::Status::OK;
  }
};

absl::Status MeasureGrpc(const RawLimitsOptions& o, RawLimits* out) {
  SinkService service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(4 << 20);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) return absl::UnavailableError("sink server did not start");
  const std::string target = absl::StrCat("127.0.0.1:", port);

  // Streaming: two concurrent client streams of 1 MiB messages (the data path runs many).
  {
    constexpr int kStreams = 2;
    std::vector<std::shared_ptr<grpc::Channel>> channels;
    for (int i = 0; i < kStreams; ++i) {
      grpc::ChannelArguments args;
      args.SetInt("grpc.channel_id", i);  // distinct connections
      channels.push_back(
          grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
    }
    Chunk chunk;
    chunk.set_data(RandomBytes(1 << 20, 7));
    std::atomic<uint64_t> total{0};
    auto run = [&](double seconds) -> absl::StatusOr<double> {
      total = 0;
      return RunWorkers(kStreams, [&](int w) -> absl::Status {
        auto stub = Sink::NewStub(channels[w]);
        grpc::ClientContext ctx;
        Ack ack;
        auto writer = stub->Push(&ctx, &ack);
        const double end = WallSeconds() + seconds;
        while (WallSeconds() < end) {
          if (!writer->Write(chunk)) return absl::UnavailableError("sink write failed");
        }
        writer->WritesDone();
        grpc::Status s = writer->Finish();
        if (!s.ok()) return absl::UnavailableError(s.error_message());
        total += ack.bytes();
        return absl::OkStatus();
      });
    };
    if (auto warm = run(0.3); !warm.ok()) return warm.status();
    const double cpu0 = ProcessCpuSeconds();
    auto wall = run(o.grpc_seconds);
    if (!wall.ok()) return wall.status();
    const double cpu = ProcessCpuSeconds() - cpu0;
    out->grpc_wall_bps = total.load() / *wall;
    out->grpc_cpu_bps = total.load() / cpu;
  }
  // Unary 4 KiB echo at concurrency 16 over one channel.
  {
    auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
    Chunk req;
    req.set_data(RandomBytes(4096, 9));
    std::atomic<uint64_t> calls{0};
    auto wall = RunWorkers(16, [&](int) -> absl::Status {
      auto stub = Sink::NewStub(channel);
      const double end = WallSeconds() + o.grpc_seconds / 2;
      while (WallSeconds() < end) {
        grpc::ClientContext ctx;
        Chunk resp;
        grpc::Status s = stub->Echo(&ctx, req, &resp);
        if (!s.ok()) return absl::UnavailableError(s.error_message());
        ++calls;
      }
      return absl::OkStatus();
    });
    if (!wall.ok()) return wall.status();
    out->grpc_unary_ops = calls.load() / *wall;
  }
  server->Shutdown();
  return absl::OkStatus();
}

absl::Status MeasureDisk(const RawLimitsOptions& o, RawLimits* out) {
  // One writer per node, each in its own directory, as the nodes write their slices: the
  // aggregate rate of the device (fsyncs of parallel writers overlap).
  const int writers = o.disk_writers;
  const std::string block = RandomBytes(1 << 20, 11);
  const std::string root = o.dir + "/disk_probe";
  mkdir(root.c_str(), 0700);
  for (int w = 0; w < writers; ++w) mkdir(absl::StrCat(root, "/w", w).c_str(), 0700);
  auto pass = [&](int w) -> absl::Status {
    for (size_t i = 0; i < o.disk_files; ++i) {
      const std::string path = absl::StrCat(root, "/w", w, "/f", i);
      int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd < 0) return absl::InternalError(absl::StrCat("open ", path));
      bool ok = write(fd, block.data(), block.size()) == static_cast<ssize_t>(block.size());
      ok = ok && fsync(fd) == 0;
      close(fd);
      if (!ok) return absl::InternalError(absl::StrCat("write+fsync ", path));
    }
    return absl::OkStatus();
  };
  std::vector<double> t;
  for (int r = 0; r < o.reps; ++r) {
    auto wall = RunWorkers(writers, pass);
    if (!wall.ok()) return wall.status();
    t.push_back(*wall);
  }
  for (int w = 0; w < writers; ++w) {
    for (size_t i = 0; i < o.disk_files; ++i) {
      unlink(absl::StrCat(root, "/w", w, "/f", i).c_str());
    }
    rmdir(absl::StrCat(root, "/w", w).c_str());
  }
  rmdir(root.c_str());
  out->disk_writers = writers;
  out->disk_bps = static_cast<double>(writers) * o.disk_files * block.size() / Median(t);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RawLimits> MeasureRawLimits(const RawLimitsOptions& o) {
  EnsureSodiumInitialized();
  RawLimits r;
  r.cores = std::max(1u, std::thread::hardware_concurrency());
  const size_t ws = o.working_set;
  const std::string src = RandomBytes(ws, 1);
  std::string dst(ws + 64, '\0');

  r.memcpy_bps = Rate(o.reps, ws, [&] { std::memcpy(&dst[0], src.data(), ws); });

  // ISA-L encode over 8 MiB stripes (2 MiB shards with k = 4), as the data path cuts them.
  {
    const int k = o.k, m = o.m;
    const size_t stripe = 8 << 20, shard = stripe / k, stripes = ws / stripe;
    std::vector<uint8_t> matrix((k + m) * k), tables(32 * k * m);
    gf_gen_cauchy1_matrix(matrix.data(), k + m, k);
    ec_init_tables(k, m, matrix.data() + k * k, tables.data());
    std::vector<uint8_t> parity(shard * m);
    r.encode_bps = Rate(o.reps, stripes * stripe, [&] {
      for (size_t s = 0; s < stripes; ++s) {
        std::vector<uint8_t*> in, outp;
        for (int i = 0; i < k; ++i) {
          in.push_back(reinterpret_cast<uint8_t*>(const_cast<char*>(src.data())) + s * stripe +
                       i * shard);
        }
        for (int i = 0; i < m; ++i) outp.push_back(parity.data() + i * shard);
        ec_encode_data(static_cast<int>(shard), k, m, tables.data(), in.data(), outp.data());
      }
    });
  }
  // XChaCha20-Poly1305 over 8 MiB stripes.
  {
    unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    SecureRandomBytes(key, sizeof key);
    SecureRandomBytes(nonce, sizeof nonce);
    const size_t stripe = 8 << 20;
    std::vector<unsigned char> sealed(stripe + crypto_aead_xchacha20poly1305_ietf_ABYTES);
    r.aead_bps = Rate(o.reps, ws, [&] {
      for (size_t off = 0; off < ws; off += stripe) {
        unsigned long long len = 0;
        crypto_aead_xchacha20poly1305_ietf_encrypt(
            sealed.data(), &len, reinterpret_cast<const unsigned char*>(src.data()) + off, stripe,
            nullptr, 0, nullptr, nonce, key);
      }
    });
  }
  auto digest_rate = [&](const EVP_MD* md) {
    const size_t piece = 2 << 20;  // one slice
    return Rate(o.reps, ws, [&] {
      unsigned char out[EVP_MAX_MD_SIZE];
      unsigned int len = 0;
      for (size_t off = 0; off < ws; off += piece) {
        EVP_Digest(src.data() + off, piece, out, &len, md, nullptr);
      }
    });
  };
  r.sha256_bps = digest_rate(EVP_sha256());
  r.md5_bps = digest_rate(EVP_md5());
  {
    volatile unsigned int sink = 0;
    r.crc32c_bps = Rate(o.reps, ws, [&] {
      sink = crc32_iscsi(reinterpret_cast<unsigned char*>(const_cast<char*>(src.data())),
                         static_cast<int>(ws), 0);
    });
    (void)sink;
  }
  if (absl::Status s = MeasureDisk(o, &r); !s.ok()) return s;
  if (absl::Status s = MeasureGrpc(o, &r); !s.ok()) return s;
  return r;
}

void PrintRawLimits(const RawLimits& r) {
  auto g = [](double bps) { return bps / 1e9; };
  std::printf("raw limits of this machine (%d cores), measured in this run:\n", r.cores);
  std::printf("  ISA-L encode       %7.2f GB/s (data bytes, one core)\n", g(r.encode_bps));
  std::printf("  XChaCha20-Poly1305 %7.2f GB/s\n", g(r.aead_bps));
  std::printf("  SHA-256            %7.2f GB/s\n", g(r.sha256_bps));
  std::printf("  MD5                %7.2f GB/s\n", g(r.md5_bps));
  std::printf("  CRC32C (ISA-L)     %7.2f GB/s\n", g(r.crc32c_bps));
  std::printf("  memcpy             %7.2f GB/s\n", g(r.memcpy_bps));
  std::printf("  write+fsync 1 MiB  %7.3f GB/s (%d parallel writers, aggregate)\n", g(r.disk_bps),
              r.disk_writers);
  std::printf("  gRPC stream 1 MiB  %7.2f GB/s wall (2 streams), %.2f GB per CPU-second\n",
              g(r.grpc_wall_bps), g(r.grpc_cpu_bps));
  std::printf("  gRPC unary 4 KiB   %7.0f calls/s at concurrency 16\n", r.grpc_unary_ops);
}

RawLimits::Crossings RawLimits::PutCrossings(int k, int m) {
  const double r = static_cast<double>(k + m) / k;
  Crossings c;
  c.grpc = 1 + r;    // client -> gateway once, gateway -> nodes (k+m)/k
  c.md5 = 1;         // ETag over the plaintext
  c.aead = 1;        // seal each stripe once
  c.encode = 1;      // RS over the sealed data bytes
  c.sha256 = r;      // every slice hashed for the manifest
  c.crc32c = 2 * r;  // slice client computes, node verifies
  c.disk = r;        // every slice written + fsynced once
  c.memcpy = 2;      // stripe buffering, shard padding
  return c;
}

RawLimits::Crossings RawLimits::GetCrossings(int k, int m) {
  (void)k;
  (void)m;
  Crossings c;
  c.grpc = 2;    // nodes -> gateway (k data slices = 1x), gateway -> client
  c.sha256 = 1;  // data slices verified against the manifest
  c.crc32c = 2;  // node reads checked, client side check
  c.aead = 1;    // open each stripe
  c.memcpy = 3;  // page-cache read, reassembly, response chunking
  return c;
}

RawLimits::Crossings RawLimits::RepairCrossings(int k, int m) {
  (void)m;
  Crossings c;
  c.grpc = k + 1;          // k source slices node -> repairer, the rebuilt one repairer -> node
  c.encode = k;            // ISA-L decode reads k source bytes per rebuilt byte (~ encode speed)
  c.sha256 = k + 1;        // sources checked against the manifest, the rebuilt slice hashed
  c.crc32c = 2 * (k + 1);  // every transfer checked at both ends
  c.disk = 1;              // the rebuilt slice written + fsynced once
  c.memcpy = k + 1;        // source reads (page cache), the rebuilt slice's buffer
  return c;
}

double RawLimits::Ceiling(const Crossings& c) const {
  const double seconds_per_byte = c.grpc / grpc_cpu_bps + c.md5 / md5_bps + c.aead / aead_bps +
                                  c.encode / encode_bps + c.sha256 / sha256_bps +
                                  c.crc32c / crc32c_bps + c.disk / disk_bps + c.memcpy / memcpy_bps;
  return cores / seconds_per_byte;
}

std::string RawLimits::Breakdown(const Crossings& c) const {
  struct Item {
    const char* name;
    double crossings, bps;
  };
  const Item items[] = {{"grpc", c.grpc, grpc_cpu_bps},   {"md5", c.md5, md5_bps},
                        {"aead", c.aead, aead_bps},       {"encode", c.encode, encode_bps},
                        {"sha256", c.sha256, sha256_bps}, {"crc32c", c.crc32c, crc32c_bps},
                        {"disk", c.disk, disk_bps},       {"memcpy", c.memcpy, memcpy_bps}};
  double total = 0;
  for (const Item& i : items) total += i.crossings / i.bps;
  std::string out;
  for (const Item& i : items) {
    if (i.crossings == 0) continue;
    absl::StrAppendFormat(&out, "%s %.2fx %.2f GB/s = %.0f%%; ", i.name, i.crossings, i.bps / 1e9,
                          100 * (i.crossings / i.bps) / total);
  }
  return out;
}

// --- BenchCluster -------------------------------------------------------------------------------

class BenchCluster::Impl {
 public:
  ~Impl() {
    s3.reset();  // stops the S3 HTTP server first: no S3 handler runs after this
    if (grpc_server) grpc_server->Shutdown(std::chrono::system_clock::now());
    grpc_server.reset();
    verifier.reset();
    service.reset();
    handler_pool.reset();
    backend.reset();
    cluster.reset();
  }
  std::unique_ptr<services::testing::ReplicatedTestCluster> cluster;
  std::unique_ptr<services::ObjectBackend> backend;
  std::unique_ptr<services::WorkPool> handler_pool;
  Registry registry;
  std::unique_ptr<services::GatewayService> service;
  std::unique_ptr<services::CallVerifier> verifier;  // over `credentials`
  std::unique_ptr<grpc::Server> grpc_server;
  int grpc_port = 0;
  std::unique_ptr<services::s3::CredentialStore> credentials;
  std::unique_ptr<services::s3::S3FrontEnd> s3;
};

absl::StatusOr<std::unique_ptr<BenchCluster>> BenchCluster::Start(const BenchClusterOptions& o) {
  const std::string root = o.dir + "/cluster";
  mkdir(o.dir.c_str(), 0700);
  mkdir(root.c_str(), 0700);
  // ReplicatedTestCluster puts its nodes under $TEST_TMPDIR.
  setenv("TEST_TMPDIR", root.c_str(), 1);
  auto impl = std::make_unique<Impl>();
  services::testing::ReplicatedClusterOptions co;
  co.nodes = o.nodes;
  co.sites = o.sites;
  co.data.data_shards = o.k;
  co.data.parity_shards = o.m;
  co.data.stripe_size = o.stripe_size;
  co.pool_threads = o.data_path_threads;
  impl->cluster = std::make_unique<services::testing::ReplicatedTestCluster>(co);
  if (!impl->cluster->status().ok()) return impl->cluster->status();
  auto backend = impl->cluster->OpenGateway();
  if (!backend.ok()) return backend.status();
  impl->backend = *std::move(backend);

  // One user for both front ends (as tessera dev): the SDK clients sign as it, as S3 clients do.
  impl->credentials = std::make_unique<services::s3::CredentialStore>();
  if (absl::Status s = impl->credentials->Add({o.s3_access_key, o.s3_secret_key, "bench"});
      !s.ok()) {
    return s;
  }
  impl->verifier = std::make_unique<services::CallVerifier>(impl->credentials.get(), Clock::Real());
  impl->handler_pool = std::make_unique<services::WorkPool>(o.handler_threads);
  services::GatewayServiceDeps deps;
  deps.objects = &impl->backend->objects();
  deps.store = &impl->backend->store();
  deps.data_path = impl->backend->deps();
  deps.handler_pool = impl->handler_pool.get();
  deps.cluster_status = [] { return v1::ClusterStatusResponse(); };
  deps.registry = &impl->registry;
  deps.verifier = impl->verifier.get();
  auto service = services::GatewayService::Create(std::move(deps));
  if (!service.ok()) return service.status();
  impl->service = *std::move(service);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &impl->grpc_port);
  builder.RegisterService(impl->service.get());
  builder.SetMaxReceiveMessageSize(static_cast<int>(services::kMaxChunkBytes + (64 << 10)));
  builder.SetMaxSendMessageSize(static_cast<int>(services::kMaxChunkBytes + (64 << 10)));
  impl->grpc_server = builder.BuildAndStart();
  if (impl->grpc_server == nullptr || impl->grpc_port == 0) {
    return absl::UnavailableError("gateway gRPC server did not start");
  }

  if (o.s3) {
    services::s3::S3FrontEndOptions fo;
    fo.data.data_shards = o.k;
    fo.data.parity_shards = o.m;
    fo.data.stripe_size = o.stripe_size;
    auto front = services::s3::S3FrontEnd::Create(std::move(fo), &impl->backend->objects(),
                                                  &impl->backend->store(), impl->backend->deps(),
                                                  impl->credentials.get(), Clock::Real());
    if (!front.ok()) return front.status();
    impl->s3 = *std::move(front);
    services::s3::HttpServerOptions ho;
    ho.listen = "127.0.0.1:0";
    ho.max_body_bytes = 1ull << 40;
    ho.read_timeout = absl::Minutes(10);
    ho.write_timeout = absl::Minutes(10);
    if (absl::Status s = impl->s3->StartHttp(std::move(ho)); !s.ok()) return s;
  }
  return std::unique_ptr<BenchCluster>(new BenchCluster(o, std::move(impl)));
}

BenchCluster::BenchCluster(BenchClusterOptions options, std::unique_ptr<Impl> impl)
    : options_(std::move(options)), impl_(std::move(impl)) {}
BenchCluster::~BenchCluster() = default;

std::string BenchCluster::grpc_endpoint() const {
  return absl::StrCat("127.0.0.1:", impl_->grpc_port);
}
services::ObjectBackend& BenchCluster::backend() { return *impl_->backend; }
const std::string& BenchCluster::node_id(int i) const { return impl_->cluster->node_id(i); }
void BenchCluster::StopNode(int i) { impl_->cluster->StopNode(i); }
int BenchCluster::s3_port() const { return impl_->s3 ? impl_->s3->http()->port() : 0; }

// --- Load helpers -------------------------------------------------------------------------------

absl::StatusOr<std::vector<std::unique_ptr<sdk::Client>>> SdkClients(const BenchCluster& cluster,
                                                                     int n) {
  sdk::ClientOptions o;
  o.access_key_id = cluster.options().s3_access_key;
  o.secret_access_key = cluster.options().s3_secret_key;
  std::vector<std::unique_ptr<sdk::Client>> out;
  for (int i = 0; i < n; ++i) {
    auto c = sdk::Client::Connect(cluster.grpc_endpoint(), o);
    if (!c.ok()) return c.status();
    out.push_back(*std::move(c));
  }
  return out;
}

absl::StatusOr<double> RunWorkers(int workers, const std::function<absl::Status(int)>& fn) {
  std::mutex mu;
  absl::Status first;
  std::vector<std::thread> threads;
  const double start = WallSeconds();
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      absl::Status s = fn(w);
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (first.ok()) first = s;
      }
    });
  }
  for (auto& t : threads) t.join();
  const double wall = WallSeconds() - start;
  if (!first.ok()) return first;
  return wall;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

RssSampler::RssSampler(int period_ms) : start_(CurrentRssBytes()) {
  peak_ = start_;
  thread_ = std::thread([this, period_ms] {
    while (!stop_.load()) {
      const uint64_t rss = CurrentRssBytes();
      uint64_t peak = peak_.load();
      while (rss > peak && !peak_.compare_exchange_weak(peak, rss)) {
      }
      ++samples_;
      std::this_thread::sleep_for(std::chrono::milliseconds(period_ms));
    }
  });
}

RssSampler::~RssSampler() { Stop(); }

void RssSampler::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
  end_ = CurrentRssBytes();
}

absl::StatusOr<double> LargePut(int n, int per, const std::string& payload, const std::string& tag,
                                const PutFn& put) {
  auto wall = RunWorkers(n, [&](int w) -> absl::Status {
    for (int i = 0; i < per; ++i) {
      if (absl::Status s = put(w, absl::StrCat(tag, "/", w, "/", i), payload); !s.ok()) return s;
    }
    return absl::OkStatus();
  });
  if (!wall.ok()) return wall.status();
  return static_cast<double>(payload.size()) * n * per / *wall;
}

absl::StatusOr<double> LargeGet(int n, int per, uint64_t size, const std::string& tag,
                                const GetFn& get) {
  auto wall = RunWorkers(n, [&](int w) -> absl::Status {
    for (int i = 0; i < per; ++i) {
      auto got = get(w, absl::StrCat(tag, "/", w, "/", i));
      if (!got.ok()) return got.status();
      if (*got != size) return absl::DataLossError("short GET");
    }
    return absl::OkStatus();
  });
  if (!wall.ok()) return wall.status();
  return static_cast<double>(size) * n * per / *wall;
}

absl::StatusOr<SmallOps> RunSmallObjects(int n, double seconds, const PutFn& put,
                                         const GetFn& get) {
  const std::string payload = RandomBytes(4096, 5);
  std::vector<std::vector<double>> put_lat(n), get_lat(n);
  std::vector<int> written(n, 0);
  auto pw = RunWorkers(n, [&](int w) -> absl::Status {
    const double end = WallSeconds() + seconds;
    while (WallSeconds() < end) {
      const double t0 = WallSeconds();
      if (absl::Status s = put(w, absl::StrCat("small/", w, "/", written[w]), payload); !s.ok()) {
        return s;
      }
      put_lat[w].push_back(WallSeconds() - t0);
      ++written[w];
    }
    return absl::OkStatus();
  });
  if (!pw.ok()) return pw.status();
  auto gw = RunWorkers(n, [&](int w) -> absl::Status {
    const double end = WallSeconds() + seconds;
    for (int i = 0; WallSeconds() < end; i = (i + 1) % written[w]) {
      const double t0 = WallSeconds();
      auto got = get(w, absl::StrCat("small/", w, "/", i));
      if (!got.ok()) return got.status();
      if (*got != payload.size()) return absl::DataLossError("short GET");
      get_lat[w].push_back(WallSeconds() - t0);
    }
    return absl::OkStatus();
  });
  if (!gw.ok()) return gw.status();
  std::vector<double> ap, ag;
  for (int w = 0; w < n; ++w) {
    ap.insert(ap.end(), put_lat[w].begin(), put_lat[w].end());
    ag.insert(ag.end(), get_lat[w].begin(), get_lat[w].end());
  }
  SmallOps o;
  o.put_ops = ap.size() / *pw;
  o.get_ops = ag.size() / *gw;
  o.put_p50 = Percentile(ap, 0.5);
  o.put_p99 = Percentile(ap, 0.99);
  o.get_p50 = Percentile(ag, 0.5);
  o.get_p99 = Percentile(ag, 0.99);
  return o;
}

}  // namespace tessera::bench
