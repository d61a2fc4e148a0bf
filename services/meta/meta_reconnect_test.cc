// A metadata node that comes back at the same address after an outage (a restarted tessera-node
// keeps its configured port) must be used again within seconds. gRPC channels retry a refused
// connection with an exponential backoff that by default grows to 120 s; a client following it
// would keep failing calls to a live node that long, and the next node failure in that window
// would cost quorums the cluster actually has (tests/cluster:restart_cluster_test showed it).
// Real gRPC: one in-process MetaService on 127.0.0.1, stopped and restarted on its port.
#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/testing/status_matchers.h"
#include "base/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "services/meta/meta_client.h"
#include "services/meta/meta_key.h"
#include "services/meta/meta_service.h"

namespace tessera::services {
namespace {

// One acceptor behind a gRPC server; Start() binds `port` (0: any, then kept for restarts).
class Node {
 public:
  explicit Node(std::string dir) : dir_(std::move(dir)) {}
  ~Node() { Stop(); }

  absl::Status Start() {
    auto store = AcceptorStore::Open(dir_, {});
    if (!store.ok()) return store.status();
    store_ = *std::move(store);
    grpc::ServerBuilder builder;
    int bound = 0;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", port_), grpc::InsecureServerCredentials(),
                             &bound);
    service_ = RegisterMetaService(builder, store_.get());
    server_ = builder.BuildAndStart();
    if (!server_ || bound == 0) return absl::InternalError("server did not start");
    port_ = bound;
    return absl::OkStatus();
  }
  // Stops at once (in-flight calls cancelled), as a killed process would.
  void Stop() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
    service_.reset();
    store_.reset();
  }
  MetaMember member() const { return {"n0", "site0", absl::StrCat("127.0.0.1:", port_)}; }

 private:
  const std::string dir_;
  int port_ = 0;
  std::unique_ptr<AcceptorStore> store_;
  std::unique_ptr<MetaServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
};

TEST(MetaReconnectTest, NodeBackAtItsAddressAfterALongOutageServesWithinSeconds) {
  Node node(::tessera::testing::UniqueTestDir("reconnect-n0"));
  ASSERT_OK(node.Start());
  // One replica, so every call needs this node.
  const LayoutOptions one{.partitions = 16, .replicas = 1, .write_quorum = 1, .read_quorum = 1};
  auto layout = Layout::Compute(1, {node.member()}, one);
  ASSERT_OK(layout.status());
  MetaClientOptions options;
  options.rpc_deadline = absl::Seconds(2);
  auto client = MetaClient::Create(LayoutView(*std::move(layout)), options);
  ASSERT_OK(client.status());
  const auto key = BucketRecordKey("bucket", (*client)->partitions());
  ASSERT_OK((*client)->CompareAndSet(
      key, [](const MetaValue&) -> absl::StatusOr<MetaValue> { return MetaValue("v"); }));

  // Down for 30 s while the client keeps calling, as a gateway under load does: long enough
  // for gRPC's default backoff to have grown to a gap of about 17 s (1 s x 1.6^6).
  node.Stop();
  const absl::Time back_at = absl::Now() + absl::Seconds(30);
  while (absl::Now() < back_at) {
    EXPECT_FALSE((*client)->Get(key).ok()) << "a stopped node answered";
    absl::SleepFor(absl::Milliseconds(500));
  }
  ASSERT_OK(node.Start());

  const absl::Time restarted = absl::Now();
  absl::StatusOr<MetaValue> got = absl::UnavailableError("not tried");
  while (absl::Now() < restarted + absl::Seconds(5)) {
    got = (*client)->Get(key);
    if (got.ok()) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(got.ok()) << "the node was back but unreachable for 5 s: " << got.status();
  EXPECT_EQ(*got, MetaValue("v"));
  std::cout << "reachable " << absl::FormatDuration(absl::Now() - restarted)
            << " after the restart\n";
}

}  // namespace
}  // namespace tessera::services
