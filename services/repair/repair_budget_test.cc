#include "services/repair/repair_budget.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/fake_clock.h"
#include "gtest/gtest.h"

namespace tessera::services {
namespace {

StorageNode Node(const std::string& id, uint64_t egress, uint64_t ingress) {
  StorageNode n;
  n.id = id;
  n.egress_bytes_per_second = egress;
  n.ingress_bytes_per_second = ingress;
  return n;
}

// Time the fake clock advanced (the budget's waits) to move `count` transfers of `bytes`.
absl::Duration TimeFor(RepairBudget& budget, FakeClock& clock, const StorageNode& node,
                       TransferDirection direction, uint64_t bytes, int count) {
  const absl::Time start = clock.Now();
  for (int i = 0; i < count; ++i) {
    RepairBudget::Slot slot = budget.Transfer(node, direction, bytes);
  }
  return clock.Now() - start;
}

TEST(RepairBudgetTest, NodeRatesFollowMeasuredBandwidth) {
  FakeClock clock;
  RepairBudgetOptions o;
  o.node_share = 0.5;
  o.default_node_bytes_per_second = 1000;
  o.max_bytes_per_second = 0;
  o.clock = &clock;
  RepairBudget budget(o);
  const StorageNode fast = Node("fast", 2000, 4000);
  const StorageNode slow = Node("slow", 500, 4000);  // a throttled uplink
  const StorageNode unmeasured = Node("new", 0, 0);
  EXPECT_EQ(budget.NodeRate(fast, TransferDirection::kFromNode), 1000);
  EXPECT_EQ(budget.NodeRate(slow, TransferDirection::kFromNode), 250);
  EXPECT_EQ(budget.NodeRate(fast, TransferDirection::kToNode), 2000);
  EXPECT_EQ(budget.NodeRate(unmeasured, TransferDirection::kFromNode), 1000);

  // 11 transfers of one second's worth each: one second of burst, then one second per transfer;
  // the slow node takes four times as long for the same bytes.
  EXPECT_EQ(TimeFor(budget, clock, fast, TransferDirection::kFromNode, 1000, 11),
            absl::Seconds(10));
  EXPECT_EQ(TimeFor(budget, clock, slow, TransferDirection::kFromNode, 1000, 11),
            absl::Seconds(43));
}

TEST(RepairBudgetTest, RepairerCapBoundsAllNodesTogether) {
  FakeClock clock;
  RepairBudgetOptions o;
  o.default_node_bytes_per_second = 1e9;
  o.max_bytes_per_second = 100;
  o.clock = &clock;
  RepairBudget budget(o);
  const absl::Time start = clock.Now();
  for (int i = 0; i < 6; ++i) {
    RepairBudget::Slot slot =
        budget.Transfer(Node(absl::StrCat("n", i), 0, 0), TransferDirection::kToNode, 100);
  }
  EXPECT_EQ(clock.Now() - start, absl::Seconds(5));
}

TEST(RepairBudgetTest, TransfersPerNodeAreCapped) {
  RepairBudgetOptions o;
  o.max_transfers_per_node = 2;
  o.max_bytes_per_second = 0;
  RepairBudget budget(o);
  const StorageNode node = Node("a", 0, 0);
  auto first =
      std::make_unique<RepairBudget::Slot>(budget.Transfer(node, TransferDirection::kFromNode, 1));
  RepairBudget::Slot second = budget.Transfer(node, TransferDirection::kFromNode, 1);
  std::atomic<bool> third_started{false};
  std::thread third([&] {
    RepairBudget::Slot slot = budget.Transfer(node, TransferDirection::kFromNode, 1);
    third_started = true;
  });
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_FALSE(third_started.load()) << "a third transfer ran while two held the node";
  first.reset();
  third.join();
  EXPECT_TRUE(third_started.load());
  // Another node is not held up by this one.
  RepairBudget::Slot other = budget.Transfer(Node("b", 0, 0), TransferDirection::kFromNode, 1);
}

TEST(RepairBudgetTest, ValidateNamesTheField) {
  RepairBudgetOptions o;
  o.node_share = 0;
  EXPECT_NE(o.Validate().message().find("node_share"), std::string::npos);
  o = RepairBudgetOptions();
  o.max_transfers_per_node = 0;
  EXPECT_NE(o.Validate().message().find("max_transfers_per_node"), std::string::npos);
  EXPECT_TRUE(RepairBudgetOptions().Validate().ok());
}

}  // namespace
}  // namespace tessera::services
