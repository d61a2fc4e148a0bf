// Repair leases over the real replicated metadata (3 in-process nodes, cluster secret on), and the
// keyless backend a storage node opens for repair.
#include "services/repair/repair_lease.h"

#include "base/fake_clock.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "services/object/replicated_test_cluster.h"

namespace tessera::services {
namespace {

using ::tessera::testing::StatusIs;

class RepairLeaseTest : public ::testing::Test {
 protected:
  RepairLeaseTest()
      : cluster_([] {
          testing::ReplicatedClusterOptions o;
          o.nodes = 3;
          o.data.data_shards = 1;
          o.data.parity_shards = 1;
          return o;
        }()) {}

  ObjectBackendOptions Keyless() const {
    ObjectBackendOptions o = cluster_.GatewayOptions();
    o.keyring = nullptr;
    o.keyless = true;
    o.layout_maintainer.run_thread = false;
    return o;
  }

  testing::ReplicatedTestCluster cluster_;
};

TEST_F(RepairLeaseTest, KeylessBackendWaitsForTheLayoutAndNeverCreatesIt) {
  ASSERT_OK(cluster_.status());
  EXPECT_THAT(OpenObjectBackend(Keyless()).status(), StatusIs(absl::StatusCode::kUnavailable));
  auto gateway = cluster_.OpenGateway();  // a front end creates epoch 1
  ASSERT_OK(gateway.status());
  auto keyless = OpenObjectBackend(Keyless());
  ASSERT_OK(keyless.status());
  EXPECT_EQ((*keyless)->meta().layout_record()->epoch(),
            (*gateway)->meta().layout_record()->epoch());
  EXPECT_EQ((*keyless)->deps().keyring, nullptr);
}

TEST_F(RepairLeaseTest, OneHolderAtATimeUntilExpiryOrRelease) {
  ASSERT_OK(cluster_.status());
  auto gateway = cluster_.OpenGateway();
  ASSERT_OK(gateway.status());
  FakeClock clock_a, clock_b;
  RepairLeases a(&(*gateway)->meta(),
                 {.holder = "node-a", .duration = absl::Seconds(60), .clock = &clock_a});
  RepairLeases b(&(*gateway)->meta(),
                 {.holder = "node-b", .duration = absl::Seconds(60), .clock = &clock_b});
  EXPECT_THAT(a.Acquire("photos"), ::tessera::testing::IsOkAndHolds(true));
  EXPECT_THAT(b.Acquire("photos"), ::tessera::testing::IsOkAndHolds(false));
  EXPECT_THAT(b.Acquire("videos"),
              ::tessera::testing::IsOkAndHolds(true));  // leases are per bucket
  EXPECT_TRUE(a.Holds("photos"));
  EXPECT_FALSE(b.Holds("photos"));

  // A renews within the duration: B still cannot take it.
  clock_a.Advance(absl::Seconds(40));
  clock_b.Advance(absl::Seconds(40));
  EXPECT_FALSE(a.Holds("photos")) << "a holder must stop acting after half the duration";
  EXPECT_EQ(a.RenewAll(), 1);
  EXPECT_TRUE(a.Holds("photos"));
  clock_b.Advance(absl::Seconds(30));  // 70 s: past the first expiry, not the renewed one
  EXPECT_THAT(b.Acquire("photos"), ::tessera::testing::IsOkAndHolds(false));

  // A stops renewing (it died): once the lease expired, B takes it, and A cannot take it back.
  clock_b.Advance(absl::Seconds(31));
  EXPECT_THAT(b.Acquire("photos"), ::tessera::testing::IsOkAndHolds(true));
  EXPECT_THAT(a.Acquire("photos"), ::tessera::testing::IsOkAndHolds(false));
  EXPECT_FALSE(a.Holds("photos"));

  // A release hands over at once.
  b.Release("photos");
  EXPECT_THAT(a.Acquire("photos"), ::tessera::testing::IsOkAndHolds(true));
  EXPECT_EQ(b.Held(), std::vector<std::string>({"videos"}));
}

}  // namespace
}  // namespace tessera::services
