// tessera-node runs the metadata compactor (docs/design/metadata.md, "Compaction"): three
// in-process nodes over 127.0.0.1 with a cluster secret, a gateway-like MetaClient that decides
// the layout and churns PUT / DELETE on a few hot keys (every version is its own key, so each
// cycle leaves a tombstone on every replica). The nodes' acceptor records must stay bounded by
// the delete rate times the grace, not grow with every version ever written.
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "base/metrics.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "p2p/auth/cluster_auth.h"
#include "p2p/auth/cluster_secret.h"
#include "services/meta/acceptor_store.h"
#include "services/meta/layout.h"
#include "services/meta/meta_client.h"
#include "services/meta/meta_key.h"
#include "services/node/node_server.h"

namespace tessera::services {
namespace {

using ::tessera::testing::IsOk;

std::string TestDir(absl::string_view name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name);
}

// The value of an unlabelled metric in Prometheus text, or -1.
double MetricValue(const Registry& registry, absl::string_view name) {
  for (absl::string_view line : absl::StrSplit(registry.Serialize(), '\n')) {
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
    double v = 0;
    if (parts.size() == 2 && parts[0] == name && absl::SimpleAtod(parts[1], &v)) return v;
  }
  return -1;
}

TEST(NodeMetaCompactionTest, HotKeyChurnKeepsEveryNodesRecordsBounded) {
  const std::string secret_file = TestDir("compaction_secret");
  ASSERT_THAT(p2p::ClusterSecret::Generate(secret_file), IsOk());
  constexpr int kNodes = 3;
  std::vector<std::unique_ptr<Registry>> registries;
  std::vector<std::unique_ptr<NodeServer>> nodes;
  std::vector<std::string> dirs;
  std::vector<MetaMember> members;
  for (int i = 0; i < kNodes; ++i) {
    registries.push_back(std::make_unique<Registry>());
    dirs.push_back(TestDir(absl::StrCat("compaction_node", i)));
    NodeOptions o;
    o.data_dir = dirs.back();
    o.listen = "127.0.0.1:0";
    o.admin_listen = "127.0.0.1:0";
    o.reserved_bytes = 0;
    o.enable_membership = false;
    o.cluster_secret_file = secret_file;
    o.registry = registries.back().get();
    o.meta_compaction_interval = absl::Milliseconds(200);
    o.meta_tombstone_grace = absl::Seconds(1);
    auto node = NodeServer::Start(o);
    ASSERT_THAT(node.status(), IsOk());
    members.push_back(MetaMember{(*node)->node_id(), absl::StrCat("site", i),
                                 absl::StrCat("127.0.0.1:", (*node)->port())});
    nodes.push_back(*std::move(node));
  }
  auto auth = p2p::ClusterAuth::FromSecretFile(secret_file, "test-gateway");
  ASSERT_THAT(auth.status(), IsOk());
  LayoutOptions lo;
  lo.partitions = 8;
  auto placeholder = Layout::Compute(0, members, lo);
  ASSERT_THAT(placeholder.status(), IsOk());
  MetaClientOptions mo;
  mo.auth = *std::move(auth);
  auto client = MetaClient::Create(LayoutView(*std::move(placeholder)), mo);
  ASSERT_THAT(client.status(), IsOk());
  MetaClient& gw = **client;
  ASSERT_THAT(gw.ProposeLayout(members, lo).status(), IsOk());

  // Churn: a version of one of 4 hot keys is created and deleted, over and over, for long enough
  // that versions outlive the purge delay many times over. How fast the churn runs depends on the
  // machine, so the bound is not a constant: at every sample a node may hold the versions created
  // within the purge delay (grace + a few compaction intervals + slack), the layout record and a
  // few stragglers, never every version written so far.
  constexpr int kMinCycles = 400;
  const absl::Duration kMinChurn = absl::Seconds(10);
  const absl::Duration kPurgeWindow = absl::Seconds(4);  // grace 1 s + intervals 0.2 s + slack
  constexpr double kSlack = 8;
  std::deque<absl::Time> created;  // creation times within the purge window
  double max_records = 0;
  double worst_excess = -1e9;  // max over samples of records - versions created in the window
  const absl::Time churn_start = absl::Now();
  absl::Time next_sample = churn_start;
  int cycles = 0;
  for (; cycles < kMinCycles || absl::Now() - churn_start < kMinChurn; ++cycles) {
    const tessera::v1::MetaKey key =
        ObjectEntryKey("bkt", 0, absl::StrCat("hot-", cycles % 4), absl::StrCat("version-", cycles),
                       lo.partitions);
    created.push_back(absl::Now());
    ASSERT_THAT(gw.CompareAndSet(key,
                                 [](const MetaValue&) -> absl::StatusOr<MetaValue> {
                                   return MetaValue("manifest");
                                 })
                    .status(),
                IsOk());
    ASSERT_THAT(
        gw.CompareAndSet(key,
                         [](const MetaValue&) -> absl::StatusOr<MetaValue> { return MetaValue(); })
            .status(),
        IsOk());
    const absl::Time now = absl::Now();
    while (!created.empty() && created.front() < now - kPurgeWindow) created.pop_front();
    if (now >= next_sample) {
      for (const auto& r : registries) {
        const double records = MetricValue(*r, "tessera_node_meta_records");
        max_records = std::max(max_records, records);
        worst_excess = std::max(worst_excess, records - static_cast<double>(created.size()));
      }
      next_sample = now + absl::Milliseconds(250);
    }
  }
  // Once the churn stops, every tombstone ages past the grace and is purged.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  bool settled = false;
  while (!settled && absl::Now() < deadline) {
    settled = true;
    for (const auto& r : registries) {
      const double n = MetricValue(*r, "tessera_node_meta_records");
      settled &= n >= 0 && n <= 2;  // the layout record (and at most one straggler)
    }
    if (!settled) absl::SleepFor(absl::Milliseconds(100));
  }
  for (int i = 0; i < kNodes; ++i) {
    EXPECT_GT(MetricValue(*registries[i], "tessera_node_meta_compaction_purged_total"), 0)
        << "node " << i;
  }
  EXPECT_TRUE(settled) << "records did not drop to the layout record after the churn";
  // While churning: bounded by the versions created within the purge delay, far below one record
  // per version written (without compaction the excess grows with every cycle).
  EXPECT_LE(worst_excess, kSlack) << "records beyond the versions of the last " << kPurgeWindow;
  EXPECT_LT(max_records, cycles / 2) << "max records seen during the churn";
  std::printf("meta records: max %.0f (at most %.0f beyond the last %s) during %d cycles\n",
              max_records, worst_excess, absl::FormatDuration(kPurgeWindow).c_str(), cycles);
  for (auto& n : nodes) n->Shutdown(absl::Seconds(5));
  nodes.clear();
  // On disk: open each node's acceptor store after shutdown.
  for (int i = 0; i < kNodes; ++i) {
    auto store = AcceptorStore::Open(dirs[i] + "/meta");
    ASSERT_THAT(store.status(), IsOk());
    auto count = (*store)->CountRecords();
    ASSERT_THAT(count.status(), IsOk());
    EXPECT_LE(*count, 2u) << "node " << i;
  }
}

}  // namespace
}  // namespace tessera::services
