// GrpcSliceClient over the cluster's mutual TLS (p2p/auth/cluster_tls.h) to a real node: the
// node id expected at an address is checked, and a new node at an old address is followed.
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/metrics.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "p2p/auth/cluster_auth.h"
#include "p2p/auth/cluster_secret.h"
#include "services/node/node_server.h"
#include "services/object/slice_client.h"

namespace tessera::services {
namespace {

using ::tessera::testing::IsOk;
using ::tessera::testing::StatusIs;

v1::SliceId Id(char c) {
  v1::SliceId id;
  id.set_version_id(std::string(16, c));
  return id;
}

class SliceClientTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    root_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/slice_client_tls_", counter_++);
    secret_file_ = root_ + ".secret";
    ASSERT_THAT(p2p::ClusterSecret::Generate(secret_file_), IsOk());
    auto auth = p2p::ClusterAuth::FromSecretFile(secret_file_, "test-gateway");
    ASSERT_THAT(auth.status(), IsOk());
    auth_ = *std::move(auth);
  }

  absl::StatusOr<std::unique_ptr<NodeServer>> StartNode(const std::string& name,
                                                        const std::string& listen,
                                                        Registry* registry) {
    NodeOptions o;
    o.data_dir = absl::StrCat(root_, "/", name);
    o.listen = listen;
    o.admin_listen = "127.0.0.1:0";
    o.reserved_bytes = 0;
    o.enable_membership = false;
    o.enable_meta_service = false;
    o.cluster_secret_file = secret_file_;
    o.registry = registry;
    return NodeServer::Start(o);
  }

  static int counter_;
  std::string root_;
  std::string secret_file_;
  std::shared_ptr<const p2p::ClusterAuth> auth_;
};
int SliceClientTlsTest::counter_ = 0;

TEST_F(SliceClientTlsTest, ChecksTheExpectedNodeAndFollowsANewNodeAtAnOldAddress) {
  Registry registry1;
  auto first = StartNode("first", "127.0.0.1:0", &registry1);
  ASSERT_THAT(first.status(), IsOk());
  const std::string address = absl::StrCat("127.0.0.1:", (*first)->port());
  std::string expected = (*first)->node_id();
  GrpcSliceClientOptions options;
  options.auth = auth_;
  options.put_timeout = options.get_timeout = absl::Seconds(20);
  options.node_id_for_address = [&expected](const std::string&) { return expected; };
  GrpcSliceClient client(options);
  ASSERT_THAT(client.Put(address, Id('a'), "first node"), IsOk());

  // The view says another node lives there: the handshake refuses the one that answers.
  expected = std::string(32, 'b');
  EXPECT_THAT(client.Put(address, Id('b'), "wrong node"), StatusIs(absl::StatusCode::kUnavailable));
  // No id known for the address: any member is accepted.
  expected.clear();
  auto got = client.Get(address, Id('a'), 0, 0);
  ASSERT_THAT(got.status(), IsOk());
  EXPECT_EQ(*got, "first node");

  // A new node (another identity) takes over the address; the view follows.
  (*first)->Shutdown(absl::Seconds(5));
  first->reset();
  Registry registry2;
  auto second = StartNode("second", address, &registry2);
  ASSERT_THAT(second.status(), IsOk());
  expected = (*second)->node_id();
  EXPECT_THAT(client.Put(address, Id('c'), "second node"), IsOk());
  (*second)->Shutdown(absl::Seconds(5));
}

}  // namespace
}  // namespace tessera::services
