#include "p2p/membership/protocol.h"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "api/membership.pb.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "p2p/identity/node_identity.h"
#include "p2p/membership/membership_view.h"
#include "p2p/membership/records.h"

namespace tessera::p2p {
namespace {

using ::testing::ElementsAreArray;

MembershipOptions FastOptions() {
  MembershipOptions o;
  o.probe_interval = absl::Milliseconds(100);
  o.probe_timeout = absl::Milliseconds(40);
  o.suspicion_timeout = absl::Milliseconds(600);
  o.sync_interval = absl::Seconds(1);
  o.join_retry_interval = absl::Milliseconds(200);
  o.dead_retention = absl::Seconds(120);
  return o;
}

// The i-th of a fixed set of identities, so that runs with the same seed are identical.
const NodeIdentity* IdentityPool(size_t i) {
  static auto* pool = new std::vector<std::unique_ptr<NodeIdentity>>();
  while (pool->size() <= i) {
    std::string seed(32, '\0');
    seed[0] = static_cast<char>(pool->size() & 0xff);
    seed[1] = static_cast<char>(pool->size() >> 8);
    pool->push_back(*NodeIdentity::FromSeed(seed));
  }
  return (*pool)[i].get();
}

// A deterministic in-memory network of MembershipProtocol nodes. Time moves in fixed steps; each
// step delivers the datagrams that are due and ticks every running node.
class SimNet {
 public:
  struct Node {
    const NodeIdentity* identity = nullptr;
    std::unique_ptr<MembershipProtocol> protocol;
    std::string address;
    bool up = false;
    int group = 0;  // nodes in different groups cannot reach each other
    int restarts = 0;
  };

  SimNet(MembershipOptions options, uint64_t seed) : options_(options), rng_(seed) {}

  // Adds and starts a node that knows `seeds` (indices of earlier nodes).
  int AddNode(const std::vector<int>& seeds, uint64_t incarnation = 1) {
    auto node = std::make_unique<Node>();
    node->identity = IdentityPool(nodes_.size());
    nodes_.push_back(std::move(node));
    int index = static_cast<int>(nodes_.size()) - 1;
    Start(index, seeds, incarnation);
    return index;
  }

  // (Re)starts node `i` with a fresh protocol, the same identity and a new address.
  void Start(int i, const std::vector<int>& seeds, uint64_t incarnation) {
    Node& n = *nodes_[i];
    n.address = absl::StrCat("sim-", i, "-", n.restarts++);
    by_address_[n.address] = i;
    LocalMember self;
    self.gossip_address = n.address;
    self.grpc_address = absl::StrCat("grpc-", i);
    self.location = MemberLocation{"site", "isp", absl::StrCat("zone", i % 3), n.address};
    self.capacity_bytes = 1000;
    self.free_bytes = 1000 - i;
    self.incarnation = incarnation;
    std::vector<std::string> seed_addresses;
    for (int s : seeds) seed_addresses.push_back(nodes_[s]->address);
    MembershipOptions o = options_;
    o.random_seed = rng_();
    auto p = MembershipProtocol::Create(o, n.identity, self, seed_addresses, now_);
    EXPECT_TRUE(p.ok()) << p.status();
    n.protocol = *std::move(p);
    n.up = true;
  }

  void Crash(int i) { nodes_[i]->up = false; }
  void SetGroup(int i, int group) { nodes_[i]->group = group; }
  void set_drop_rate(double r) { drop_rate_ = r; }
  void set_max_delay(absl::Duration d) { max_delay_ = d; }

  Node& node(int i) { return *nodes_[i]; }
  MembershipProtocol& protocol(int i) { return *nodes_[i]->protocol; }
  int size() const { return static_cast<int>(nodes_.size()); }
  absl::Time now() const { return now_; }
  size_t max_payload() const { return max_payload_; }
  const std::string& id(int i) const { return nodes_[i]->identity->node_id(); }

  // Delivers a datagram as if `from_index` had sent it.
  void Inject(int from_index, int to_index, std::string payload) {
    Deliver(nodes_[from_index]->address, to_index, payload);
  }

  void Step() {
    now_ += kStep;
    while (!queue_.empty() && queue_.top().at <= now_) {
      InFlight m = queue_.top();
      queue_.pop();
      auto it = by_address_.find(m.to);
      if (it == by_address_.end()) continue;
      Node& to = *nodes_[it->second];
      if (!to.up || to.address != m.to) continue;
      auto from = by_address_.find(m.from);
      if (from != by_address_.end() && nodes_[from->second]->group != to.group) continue;
      Deliver(m.from, it->second, m.payload);
    }
    for (int i = 0; i < size(); ++i) {
      if (nodes_[i]->up) Post(i, nodes_[i]->protocol->Tick(now_));
    }
    for (auto& hook : step_hooks_) hook();
  }

  // Runs until `done` holds (checked after every step) or `limit` passes. True if it held.
  bool RunUntil(const std::function<bool()>& done, absl::Duration limit) {
    absl::Time end = now_ + limit;
    while (now_ < end) {
      Step();
      if (done()) return true;
    }
    return false;
  }
  void RunFor(absl::Duration d) {
    RunUntil([] { return false; }, d);
  }
  void AddStepHook(std::function<void()> hook) { step_hooks_.push_back(std::move(hook)); }

  // Sorted ids of the running nodes (optionally: of one group).
  std::vector<std::string> UpIds(int group = -1) const {
    std::vector<std::string> ids;
    for (const auto& n : nodes_) {
      if (n->up && (group < 0 || n->group == group)) ids.push_back(n->identity->node_id());
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  // Human-readable views of the running nodes, for failure messages.
  std::string Dump() const {
    std::string out;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (!nodes_[i]->up) continue;
      absl::StrAppend(&out, "node ", i, " (", nodes_[i]->identity->node_id().substr(0, 6), "):");
      auto view = nodes_[i]->protocol->Snapshot();
      for (const MemberInfo& m : view->members()) {
        absl::StrAppend(&out, " ", m.node_id.substr(0, 6), "=", MemberLivenessName(m.liveness), "/",
                        m.incarnation);
      }
      absl::StrAppend(&out, "\n");
    }
    return out;
  }

  // True when every running node sees exactly the running nodes alive and `dead` dead.
  bool Converged(const std::vector<int>& dead = {}) const {
    std::vector<std::string> up = UpIds();
    std::vector<std::string> dead_ids;
    for (int d : dead) dead_ids.push_back(nodes_[d]->identity->node_id());
    std::sort(dead_ids.begin(), dead_ids.end());
    for (const auto& n : nodes_) {
      if (!n->up) continue;
      auto view = n->protocol->Snapshot();
      if (view->IdsWithLiveness(MemberLiveness::kAlive) != up) return false;
      if (view->IdsWithLiveness(MemberLiveness::kDead) != dead_ids) return false;
    }
    return true;
  }

 private:
  static constexpr absl::Duration kStep = absl::Milliseconds(10);
  struct InFlight {
    absl::Time at;
    uint64_t order;
    std::string from, to, payload;
    bool operator<(const InFlight& o) const {  // earliest first in a max-heap
      return at != o.at ? at > o.at : order > o.order;
    }
  };

  void Deliver(const std::string& from, int to, const std::string& payload) {
    Post(to, nodes_[to]->protocol->HandleMessage(now_, from, payload));
  }

  void Post(int from, std::vector<Outgoing> out) {
    for (Outgoing& o : out) {
      max_payload_ = std::max(max_payload_, o.payload.size());
      if (std::uniform_real_distribution<double>(0, 1)(rng_) < drop_rate_) continue;
      absl::Duration delay = absl::Milliseconds(1);
      if (max_delay_ > absl::ZeroDuration()) {
        delay += absl::Microseconds(
            std::uniform_int_distribution<int64_t>(0, absl::ToInt64Microseconds(max_delay_))(rng_));
      }
      queue_.push(
          InFlight{now_ + delay, order_++, nodes_[from]->address, o.address, std::move(o.payload)});
    }
  }

  MembershipOptions options_;
  std::mt19937_64 rng_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::map<std::string, int> by_address_;
  std::priority_queue<InFlight> queue_;
  uint64_t order_ = 0;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  double drop_rate_ = 0;
  absl::Duration max_delay_ = absl::ZeroDuration();
  size_t max_payload_ = 0;
  std::vector<std::function<void()>> step_hooks_;
};

TEST(MembershipOptionsTest, ValidateNamesTheBadField) {
  EXPECT_OK(MembershipOptions().Validate());
  MembershipOptions o;
  o.probe_timeout = o.probe_interval;
  EXPECT_THAT(o.Validate(), testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                              ::testing::HasSubstr("probe_timeout")));
  o = MembershipOptions();
  o.max_message_bytes = 100;
  EXPECT_THAT(o.Validate(), testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                              ::testing::HasSubstr("max_message_bytes")));
  o = MembershipOptions();
  o.suspicion_timeout = absl::ZeroDuration();
  EXPECT_THAT(o.Validate(), testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                              ::testing::HasSubstr("suspicion_timeout")));
  o = MembershipOptions();
  o.retransmit_mult = 0;
  EXPECT_FALSE(o.Validate().ok());
}

TEST(MembershipProtocolTest, CreateRejectsBadArguments) {
  ASSERT_OK_AND_ASSIGN(auto identity, NodeIdentity::Generate());
  LocalMember self;
  self.gossip_address = "a";
  EXPECT_FALSE(
      MembershipProtocol::Create(MembershipOptions(), nullptr, self, {}, absl::Now()).ok());
  self.gossip_address = "";
  EXPECT_FALSE(
      MembershipProtocol::Create(MembershipOptions(), identity.get(), self, {}, absl::Now()).ok());
}

TEST(MembershipProtocolTest, RetransmitLimitGrowsWithLogOfClusterSize) {
  SimNet net(FastOptions(), 1);
  net.AddNode({});
  EXPECT_EQ(net.protocol(0).RetransmitLimit(), 4);  // ceil(log10(2)) = 1
  for (int i = 1; i < 12; ++i) net.AddNode({0});
  ASSERT_TRUE(net.RunUntil([&] { return net.Converged(); }, absl::Seconds(10))) << net.Dump();
  EXPECT_EQ(net.protocol(0).RetransmitLimit(), 8);  // ceil(log10(13)) = 2
}

TEST(MembershipProtocolTest, TenNodesJoinThroughOneSeedAndConverge) {
  SimNet net(FastOptions(), 7);
  net.AddNode({});
  for (int i = 1; i < 10; ++i) net.AddNode({0});
  ASSERT_TRUE(net.RunUntil([&] { return net.Converged(); }, absl::Seconds(10))) << net.Dump();
  // Every node holds the same records: locations, capacities and addresses travel intact.
  auto view0 = net.protocol(0).Snapshot();
  for (int i = 0; i < net.size(); ++i) {
    const MemberInfo* m = view0->Find(net.id(i));
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->grpc_address, absl::StrCat("grpc-", i));
    EXPECT_EQ(m->location.zone, absl::StrCat("zone", i % 3));
    EXPECT_EQ(m->free_bytes, 1000u - i);
    EXPECT_EQ(m->public_key, net.node(i).identity->public_key());
    EXPECT_EQ(m->is_self, i == 0);
  }
  // Quiescence: every update has been retransmitted its bounded number of times and dropped.
  net.RunFor(absl::Seconds(5));
  for (int i = 0; i < net.size(); ++i) {
    EXPECT_EQ(net.protocol(i).pending_broadcasts(), 0u) << i;
    EXPECT_EQ(net.protocol(i).counters().records_forged, 0u);
    EXPECT_EQ(net.protocol(i).counters().deaths_declared, 0u);
  }
  EXPECT_TRUE(net.Converged());
  EXPECT_LE(net.max_payload(), FastOptions().max_message_bytes);
}

TEST(MembershipProtocolTest, FiftyNodesEachKnowingOneSeedConvergeUnderLossAndDelay) {
  SimNet net(FastOptions(), 11);
  net.set_drop_rate(0.05);
  net.set_max_delay(absl::Milliseconds(15));
  std::mt19937 pick(3);
  net.AddNode({});
  for (int i = 1; i < 50; ++i) {
    net.AddNode({static_cast<int>(std::uniform_int_distribution<int>(0, i - 1)(pick))});
  }
  ASSERT_TRUE(net.RunUntil([&] { return net.Converged(); }, absl::Seconds(30))) << net.Dump();
  EXPECT_LE(net.max_payload(), FastOptions().max_message_bytes);
}

TEST(MembershipProtocolTest, CrashedNodeIsSuspectedThenDeadEverywhereWithinTheBound) {
  MembershipOptions options = FastOptions();
  SimNet net(options, 5);
  net.AddNode({});
  for (int i = 1; i < 20; ++i) net.AddNode({i - 1});
  ASSERT_TRUE(net.RunUntil([&] { return net.Converged(); }, absl::Seconds(20))) << net.Dump();

  const int victim = 7;
  const std::string victim_id = net.id(victim);
  net.Crash(victim);
  const absl::Time crashed_at = net.now();
  std::set<int> saw_suspect;
  net.AddStepHook([&] {
    for (int i = 0; i < net.size(); ++i) {
      if (!net.node(i).up) continue;
      auto view = net.protocol(i).Snapshot();
      const MemberInfo* m = view->Find(victim_id);
      if (m != nullptr && m->liveness == MemberLiveness::kSuspect) saw_suspect.insert(i);
    }
  });
  ASSERT_TRUE(net.RunUntil([&] { return net.Converged({victim}); }, absl::Seconds(20)))
      << net.Dump();
  // The documented bound: detection within a few probe periods, the suspicion timeout, then
  // dissemination within the retransmit limit's worth of periods.
  const absl::Duration bound =
      options.suspicion_timeout + (3 + net.protocol(0).RetransmitLimit()) * options.probe_interval;
  EXPECT_LE(net.now() - crashed_at, bound);
  EXPECT_FALSE(saw_suspect.empty());
  uint64_t suspicions = 0;
  for (int i = 0; i < net.size(); ++i) suspicions += net.protocol(i).counters().suspicions_raised;
  EXPECT_GE(suspicions, 1u);
}

TEST(MembershipProtocolTest, LossCausesNoFalseDeaths) {
  MembershipOptions options = FastOptions();
  options.suspicion_timeout = absl::Seconds(1);
  SimNet net(options, 21);
  net.AddNode({});
  for (int i = 1; i < 20; ++i) net.AddNode({0});
  ASSERT_TRUE(net.RunUntil([&] { return net.Converged(); }, absl::Seconds(20))) << net.Dump();
  net.set_drop_rate(0.10);
  int false_deaths = 0;
  net.AddStepHook([&] {
    for (int i = 0; i < net.size(); ++i) {
      false_deaths += static_cast<int>(
          net.protocol(i).Snapshot()->IdsWithLiveness(MemberLiveness::kDead).size());
    }
  });
  net.RunFor(absl::Seconds(20));
  EXPECT_EQ(false_deaths, 0);
  net.set_drop_rate(0);
  EXPECT_TRUE(net.RunUntil([&] { return net.Converged(); }, absl::Seconds(10)));
}

TEST(MembershipProtocolTest, PartitionedHalvesDeclareEachOtherDeadAndRejoinAfterHealing) {
  SimNet net(FastOptions(), 9);
  net.AddNode({});
  for (int i = 1; i < 12; ++i) net.AddNode({0});
  ASSERT_TRUE(net.RunUntil([&] { return net.Converged(); }, absl::Seconds(20))) << net.Dump();
  for (int i = 6; i < 12; ++i) net.SetGroup(i, 1);
  auto split = [&] {
    for (int i = 0; i < net.size(); ++i) {
      auto view = net.protocol(i).Snapshot();
      int group = net.node(i).group;
      if (view->IdsWithLiveness(MemberLiveness::kAlive) != net.UpIds(group)) return false;
      if (view->IdsWithLiveness(MemberLiveness::kDead) != net.UpIds(1 - group)) return false;
    }
    return true;
  };
  ASSERT_TRUE(net.RunUntil(split, absl::Seconds(20)));
  for (int i = 6; i < 12; ++i) net.SetGroup(i, 0);
  EXPECT_TRUE(net.RunUntil([&] { return net.Converged(); }, absl::Seconds(20)));
}

TEST(MembershipProtocolTest, NodeRefutesSuspicionOfItself) {
  SimNet net(FastOptions(), 13);
  net.AddNode({});
  for (int i = 1; i < 5; ++i) net.AddNode({0});
  ASSERT_TRUE(net.RunUntil([&] { return net.Converged(); }, absl::Seconds(10))) << net.Dump();
  net.RunFor(absl::Seconds(2));  // let the join updates drain
  const uint64_t before = net.protocol(2).incarnation();

  // Node 1 (validly) claims node 2 is suspect; node 3 hears it first.
  tessera::v1::LivenessClaim claim;
  claim.set_format_version(1);
  claim.set_subject_id(net.id(2));
  claim.set_incarnation(before);
  claim.set_liveness(tessera::v1::LIVENESS_SUSPECT);
  claim.set_observer_id(net.id(1));
  tessera::v1::GossipMessage msg;
  msg.set_protocol_version(1);
  msg.set_sender_id(net.id(1));
  *msg.add_updates()->mutable_claim() = SignClaim(*net.node(1).identity, claim);
  net.Inject(1, 3, msg.SerializeAsString());
  EXPECT_EQ(net.protocol(3).Snapshot()->Find(net.id(2))->liveness, MemberLiveness::kSuspect);

  ASSERT_TRUE(net.RunUntil(
      [&] {
        if (!net.Converged()) return false;
        for (int i = 0; i < net.size(); ++i) {
          if (net.protocol(i).Snapshot()->Find(net.id(2))->incarnation <= before) return false;
        }
        return true;
      },
      absl::Seconds(10)));
  EXPECT_GE(net.protocol(2).counters().refutations, 1u);
  EXPECT_GT(net.protocol(2).incarnation(), before);
}

// The refutation goes straight to the claim's observer and to the node that passed the claim
// on, not only by piggybacking: on a lossy network the epidemic spread alone could take longer
// than the suspicion timeout (LossCausesNoFalseDeaths failed about 1 run in 8 without this).
TEST(MembershipProtocolTest, RefutationIsSentToTheObserverAndTheSender) {
  SimNet net(FastOptions(), 29);
  net.AddNode({});
  for (int i = 1; i < 5; ++i) net.AddNode({0});
  ASSERT_TRUE(net.RunUntil([&] { return net.Converged(); }, absl::Seconds(10))) << net.Dump();
  const uint64_t before = net.protocol(2).incarnation();

  // Node 1 suspects node 2; node 3 passes the claim on to node 2.
  tessera::v1::LivenessClaim claim;
  claim.set_format_version(1);
  claim.set_subject_id(net.id(2));
  claim.set_incarnation(before);
  claim.set_liveness(tessera::v1::LIVENESS_SUSPECT);
  claim.set_observer_id(net.id(1));
  tessera::v1::GossipMessage msg;
  msg.set_protocol_version(1);
  msg.set_sender_id(net.id(3));
  *msg.add_updates()->mutable_claim() = SignClaim(*net.node(1).identity, claim);
  std::vector<Outgoing> out =
      net.protocol(2).HandleMessage(net.now(), net.node(3).address, msg.SerializeAsString());

  std::set<std::string> refuted_to;
  for (const Outgoing& o : out) {
    tessera::v1::GossipMessage sent;
    ASSERT_TRUE(sent.ParseFromString(o.payload));
    for (const tessera::v1::GossipUpdate& u : sent.updates()) {
      tessera::v1::NodeRecord record;
      if (u.has_record() && record.ParseFromString(u.record().record()) &&
          record.node_id() == net.id(2) && record.incarnation() > before) {
        refuted_to.insert(o.address);
      }
    }
  }
  EXPECT_EQ(refuted_to, (std::set<std::string>{net.node(1).address, net.node(3).address}));
  EXPECT_EQ(net.protocol(2).counters().refutations, 1u);
}

TEST(MembershipProtocolTest, DrainingStatePropagates) {
  SimNet net(FastOptions(), 17);
  net.AddNode({});
  for (int i = 1; i < 8; ++i) net.AddNode({i - 1});
  ASSERT_TRUE(net.RunUntil([&] { return net.Converged(); }, absl::Seconds(10))) << net.Dump();
  net.protocol(4).SetState(MemberState::kDraining);
  net.protocol(5).SetCapacity(2000, 1500);
  ASSERT_TRUE(net.RunUntil(
      [&] {
        for (int i = 0; i < net.size(); ++i) {
          auto view = net.protocol(i).Snapshot();
          if (view->Find(net.id(4))->state != MemberState::kDraining) return false;
          if (view->Find(net.id(5))->free_bytes != 1500) return false;
        }
        return true;
      },
      absl::Seconds(10)));
  auto view = net.protocol(0).Snapshot();
  EXPECT_EQ(view->Find(net.id(4))->liveness, MemberLiveness::kAlive);
  EXPECT_FALSE(view->Find(net.id(4))->IsUsable());
  EXPECT_TRUE(view->Find(net.id(5))->IsUsable());
  EXPECT_EQ(view->Find(net.id(5))->capacity_bytes, 2000u);
  EXPECT_TRUE(net.Converged());
}

TEST(MembershipProtocolTest, BandwidthSummariesPropagateToEveryNode) {
  SimNet net(FastOptions(), 23);
  net.AddNode({});
  for (int i = 1; i < 8; ++i) net.AddNode({i - 1});
  ASSERT_TRUE(net.RunUntil([&] { return net.Converged(); }, absl::Seconds(10))) << net.Dump();
  for (int i = 0; i < net.size(); ++i) {
    BandwidthSummary s;
    s.egress_bytes_per_second = 1e6 * (i + 1);
    s.ingress_bytes_per_second = 2e6 * (i + 1);
    s.median_rtt = absl::Microseconds(100 * (i + 1));
    s.peers = static_cast<uint32_t>(net.size() - 1);
    net.protocol(i).SetBandwidth(s);
  }
  ASSERT_TRUE(net.RunUntil(
      [&] {
        for (int i = 0; i < net.size(); ++i) {
          auto view = net.protocol(i).Snapshot();
          for (int j = 0; j < net.size(); ++j) {
            if (view->Find(net.id(j))->bandwidth.egress_bytes_per_second != 1e6 * (j + 1)) {
              return false;
            }
          }
        }
        return true;
      },
      absl::Seconds(10)))
      << net.Dump();
  // The snapshot is kept: Find points into it (a temporary would be freed at once; ASan).
  const std::shared_ptr<const MembershipView> view = net.protocol(0).Snapshot();
  const MemberInfo* m = view->Find(net.id(3));
  EXPECT_EQ(m->bandwidth.ingress_bytes_per_second, 8e6);
  EXPECT_EQ(m->bandwidth.median_rtt, absl::Microseconds(400));
  EXPECT_EQ(m->bandwidth.peers, 7u);
  // An empty summary clears it.
  net.protocol(3).SetBandwidth(BandwidthSummary{});
  ASSERT_TRUE(
      net.RunUntil([&] { return net.protocol(0).Snapshot()->Find(net.id(3))->bandwidth.empty(); },
                   absl::Seconds(10)));
}

TEST(MembershipProtocolTest, GracefulLeaveMarksTheNodeDead) {
  SimNet net(FastOptions(), 19);
  net.AddNode({});
  for (int i = 1; i < 6; ++i) net.AddNode({0});
  ASSERT_TRUE(net.RunUntil([&] { return net.Converged(); }, absl::Seconds(10))) << net.Dump();
  net.protocol(3).SetState(MemberState::kLeft);
  net.RunFor(absl::Milliseconds(500));  // long enough to hand the record on
  net.Crash(3);
  ASSERT_TRUE(net.RunUntil([&] { return net.Converged({3}); }, absl::Seconds(10))) << net.Dump();
  EXPECT_EQ(net.protocol(0).Snapshot()->Find(net.id(3))->state, MemberState::kLeft);
}

TEST(MembershipProtocolTest, RestartedNodeComesBackAlive) {
  SimNet net(FastOptions(), 23);
  net.AddNode({});
  for (int i = 1; i < 8; ++i) net.AddNode({0});
  ASSERT_TRUE(net.RunUntil([&] { return net.Converged(); }, absl::Seconds(10))) << net.Dump();
  const uint64_t old_incarnation = net.protocol(5).incarnation();
  net.Crash(5);
  ASSERT_TRUE(net.RunUntil([&] { return net.Converged({5}); }, absl::Seconds(10))) << net.Dump();

  // Restart with a higher incarnation (and a new address): alive again everywhere.
  net.Start(5, {0}, old_incarnation + 10);
  ASSERT_TRUE(net.RunUntil([&] { return net.Converged(); }, absl::Seconds(10))) << net.Dump();
  for (int i = 0; i < net.size(); ++i) {
    auto view = net.protocol(i).Snapshot();
    const MemberInfo* m = view->Find(net.id(5));
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->gossip_address, net.node(5).address);
    EXPECT_GE(m->incarnation, old_incarnation + 10);
  }

  // Crash again and restart from incarnation 1 (lost state): it learns of its older self from
  // the seed, jumps past it, and comes back.
  net.Crash(5);
  ASSERT_TRUE(net.RunUntil([&] { return net.Converged({5}); }, absl::Seconds(10))) << net.Dump();
  net.Start(5, {2}, 1);
  ASSERT_TRUE(net.RunUntil([&] { return net.Converged(); }, absl::Seconds(10))) << net.Dump();
  EXPECT_GT(net.protocol(5).incarnation(), old_incarnation + 10);
}

TEST(MembershipProtocolTest, SameSeedGivesTheSameRun) {
  auto run = [] {
    SimNet net(FastOptions(), 99);
    net.set_drop_rate(0.05);
    net.AddNode({});
    for (int i = 1; i < 8; ++i) net.AddNode({0});
    net.RunFor(absl::Seconds(3));
    std::vector<uint64_t> out;
    for (int i = 0; i < net.size(); ++i) {
      out.push_back(net.protocol(i).counters().messages_sent);
      out.push_back(net.protocol(i).counters().indirect_probes_sent);
    }
    return out;
  };
  EXPECT_EQ(run(), run());
}

// Direct checks of the admission rules on one node, with hand-made updates.
class AdmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto* id : {&a_, &b_, &c_}) {
      ASSERT_OK_AND_ASSIGN(*id, NodeIdentity::Generate());
    }
    LocalMember self;
    self.gossip_address = "a";
    ASSERT_OK_AND_ASSIGN(protocol_,
                         MembershipProtocol::Create(FastOptions(), a_.get(), self, {}, now_));
  }

  tessera::v1::NodeRecord RecordOf(const NodeIdentity& id, uint64_t incarnation) {
    tessera::v1::NodeRecord r;
    r.set_format_version(1);
    r.set_node_id(id.node_id());
    r.set_public_key(id.public_key());
    r.set_incarnation(incarnation);
    r.set_state(tessera::v1::MEMBER_STATE_ALIVE);
    r.set_gossip_address("addr-" + id.node_id().substr(0, 4));
    r.set_free_bytes(incarnation * 10);
    return r;
  }

  void Deliver(const tessera::v1::GossipUpdate& u) {
    tessera::v1::GossipMessage msg;
    msg.set_protocol_version(1);
    *msg.add_updates() = u;
    protocol_->HandleMessage(now_, "attacker", msg.SerializeAsString());
  }
  void DeliverRecord(const tessera::v1::SignedNodeRecord& r) {
    tessera::v1::GossipUpdate u;
    *u.mutable_record() = r;
    Deliver(u);
  }
  void DeliverClaim(const tessera::v1::SignedLivenessClaim& c) {
    tessera::v1::GossipUpdate u;
    *u.mutable_claim() = c;
    Deliver(u);
  }

  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  std::unique_ptr<NodeIdentity> a_, b_, c_;
  std::unique_ptr<MembershipProtocol> protocol_;
};

TEST_F(AdmissionTest, ForgedRecordsAreRejectedAndCounted) {
  DeliverRecord(SignRecord(*b_, RecordOf(*b_, 5)));
  ASSERT_EQ(protocol_->counters().records_accepted, 1u);
  const uint64_t generation = protocol_->generation();

  // B's record (B's key inside) signed by C.
  tessera::v1::SignedNodeRecord forged = SignRecord(*c_, RecordOf(*b_, 6));
  DeliverRecord(forged);
  EXPECT_EQ(protocol_->counters().records_forged, 1u);
  // A record for B's id carrying C's key, signed by C: id not derived from the key.
  tessera::v1::NodeRecord impostor = RecordOf(*c_, 7);
  impostor.set_node_id(b_->node_id());
  DeliverRecord(SignRecord(*c_, impostor));
  EXPECT_EQ(protocol_->counters().records_forged, 2u);
  // A correctly signed record whose bytes were altered afterwards.
  tessera::v1::SignedNodeRecord tampered = SignRecord(*b_, RecordOf(*b_, 8));
  tampered.mutable_record()->back() ^= 1;
  DeliverRecord(tampered);
  EXPECT_EQ(protocol_->counters().records_forged, 3u);
  // An unknown node whose record is signed by someone else.
  DeliverRecord(SignRecord(*b_, RecordOf(*c_, 1)));
  EXPECT_EQ(protocol_->counters().records_forged, 4u);

  auto view = protocol_->Snapshot();
  EXPECT_EQ(protocol_->generation(), generation);
  EXPECT_EQ(view->Find(b_->node_id())->incarnation, 5u);
  EXPECT_EQ(view->Find(c_->node_id()), nullptr);
  EXPECT_EQ(protocol_->counters().records_accepted, 1u);
}

TEST_F(AdmissionTest, StaleAndReplayedRecordsAreRejectedAndCounted) {
  tessera::v1::SignedNodeRecord old_record = SignRecord(*b_, RecordOf(*b_, 5));
  DeliverRecord(old_record);
  DeliverRecord(SignRecord(*b_, RecordOf(*b_, 9)));
  ASSERT_EQ(protocol_->Snapshot()->Find(b_->node_id())->incarnation, 9u);
  DeliverRecord(old_record);  // replay of an older, genuinely signed record
  EXPECT_EQ(protocol_->counters().records_stale, 1u);
  tessera::v1::NodeRecord other = RecordOf(*b_, 9);
  other.set_free_bytes(1);  // same incarnation, different content
  DeliverRecord(SignRecord(*b_, other));
  EXPECT_EQ(protocol_->counters().records_stale, 2u);
  DeliverRecord(SignRecord(*b_, RecordOf(*b_, 9)));  // an exact duplicate is not an error
  EXPECT_EQ(protocol_->counters().records_stale, 2u);
  EXPECT_EQ(protocol_->Snapshot()->Find(b_->node_id())->free_bytes, 90u);
  EXPECT_EQ(protocol_->counters().records_forged, 0u);
}

TEST_F(AdmissionTest, ClaimsMustBeSignedByAKnownObserverAndBeCurrent) {
  DeliverRecord(SignRecord(*b_, RecordOf(*b_, 5)));
  tessera::v1::LivenessClaim claim;
  claim.set_format_version(1);
  claim.set_subject_id(b_->node_id());
  claim.set_incarnation(5);
  claim.set_liveness(tessera::v1::LIVENESS_DEAD);
  claim.set_observer_id(c_->node_id());
  DeliverClaim(SignClaim(*c_, claim));  // C is not known yet: cannot be verified
  EXPECT_EQ(protocol_->counters().claims_unknown_observer, 1u);
  DeliverRecord(SignRecord(*c_, RecordOf(*c_, 1)));
  DeliverClaim(SignClaim(*b_, claim));  // says C, signed by B
  EXPECT_EQ(protocol_->counters().claims_forged, 1u);
  claim.set_incarnation(4);
  DeliverClaim(SignClaim(*c_, claim));  // about an incarnation B has moved past
  EXPECT_EQ(protocol_->counters().claims_stale, 1u);
  EXPECT_EQ(protocol_->Snapshot()->Find(b_->node_id())->liveness, MemberLiveness::kAlive);

  claim.set_incarnation(5);
  DeliverClaim(SignClaim(*c_, claim));
  EXPECT_EQ(protocol_->Snapshot()->Find(b_->node_id())->liveness, MemberLiveness::kDead);
  // B comes back with a higher incarnation: alive again.
  DeliverRecord(SignRecord(*b_, RecordOf(*b_, 6)));
  EXPECT_EQ(protocol_->Snapshot()->Find(b_->node_id())->liveness, MemberLiveness::kAlive);
}

TEST_F(AdmissionTest, MalformedDatagramsAreCounted) {
  protocol_->HandleMessage(now_, "x", "\xff\xff\xff garbage");
  tessera::v1::GossipMessage msg;
  msg.set_protocol_version(2);
  protocol_->HandleMessage(now_, "x", msg.SerializeAsString());
  EXPECT_EQ(protocol_->counters().malformed_messages, 2u);
  EXPECT_EQ(protocol_->Snapshot()->members().size(), 1u);
}

TEST_F(AdmissionTest, PingsForSomeoneElseAreIgnoredAndOursAreAcked) {
  tessera::v1::GossipMessage ping;
  ping.set_protocol_version(1);
  ping.mutable_ping()->set_seq(42);
  ping.mutable_ping()->set_target_id(b_->node_id());
  EXPECT_TRUE(protocol_->HandleMessage(now_, "p", ping.SerializeAsString()).empty());
  ping.mutable_ping()->set_target_id(a_->node_id());
  std::vector<Outgoing> out = protocol_->HandleMessage(now_, "p", ping.SerializeAsString());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].address, "p");
  tessera::v1::GossipMessage ack;
  ASSERT_TRUE(ack.ParseFromString(out[0].payload));
  EXPECT_EQ(ack.ack().seq(), 42u);
  EXPECT_EQ(ack.ack().node_id(), a_->node_id());
}

}  // namespace
}  // namespace tessera::p2p
