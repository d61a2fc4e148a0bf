// MembershipService over real UDP sockets on 127.0.0.1, several members in one process.
#include "p2p/membership/membership_service.h"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/membership.pb.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "p2p/auth/cluster_secret.h"
#include "p2p/auth/gossip_auth.h"
#include "p2p/identity/node_identity.h"
#include "p2p/membership/membership_view.h"
#include "p2p/membership/records.h"
#include "p2p/transport/udp_socket.h"

namespace tessera::p2p {
namespace {

constexpr absl::Duration kWaitLimit = absl::Seconds(20);

MembershipOptions TestTiming() {
  MembershipOptions o;
  o.probe_interval = absl::Milliseconds(100);
  o.probe_timeout = absl::Milliseconds(40);
  o.suspicion_timeout = absl::Milliseconds(800);
  o.sync_interval = absl::Milliseconds(500);
  o.join_retry_interval = absl::Milliseconds(100);
  return o;
}

// Polls `done` every few milliseconds until it holds or `limit` passes.
bool WaitFor(const std::function<bool()>& done, absl::Duration limit = kWaitLimit) {
  absl::Time end = absl::Now() + limit;
  while (absl::Now() < end) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return done();
}

// Members share one cluster secret (as tessera-nodes do): every datagram is sealed and opened by
// a GossipAuth of their own keyed from it.
class Cluster {
 public:
  // Services first: their threads call back into changes_ / history_ until they stop.
  ~Cluster() { services_.clear(); }

  explicit Cluster(int n) {
    auto secret = ClusterSecret::Random();
    EXPECT_TRUE(secret.ok());
    secret_ = std::make_unique<ClusterSecret>(*secret);
    for (int i = 0; i < n; ++i) {
      auto id = NodeIdentity::Generate();
      EXPECT_TRUE(id.ok());
      identities_.push_back(*std::move(id));
      services_.emplace_back();
    }
  }

  // A GossipAuth keyed from `secret` (default: the cluster's), as a member or an insider has.
  std::shared_ptr<GossipAuth> NewAuth(const ClusterSecret* secret = nullptr) {
    auto auth = GossipAuth::Create(secret != nullptr ? *secret : *secret_);
    EXPECT_TRUE(auth.ok());
    return auth.ok() ? std::shared_ptr<GossipAuth>(*std::move(auth)) : nullptr;
  }

  // Starts member i; it knows only `seed`'s address (none for -1). It seals and opens datagrams
  // with `secret` (default: the cluster's).
  absl::Status Start(int i, int seed, uint64_t incarnation = 0,
                     const ClusterSecret* secret = nullptr) {
    MembershipServiceOptions o;
    o.datagram_auth = NewAuth(secret);
    o.protocol = TestTiming();
    o.protocol.random_seed = 1000 + i;
    if (seed >= 0) o.seeds = {services_[seed]->gossip_address()};
    o.grpc_address = absl::StrCat("127.0.0.1:", 9000 + i);
    o.location = MemberLocation{"site-a", "isp-a", absl::StrCat("zone-", i % 2), "host"};
    o.capacity_bytes = 1 << 20;
    o.free_bytes = 1 << 19;
    o.incarnation = incarnation;
    o.on_change = [this, i](const std::shared_ptr<const MembershipView>& view) {
      absl::MutexLock lock(&mu_);
      ++changes_[i];
      for (const MemberInfo& m : view->members()) {
        auto& history = history_[{i, m.node_id}];
        if (history.empty() || history.back() != m.liveness) history.push_back(m.liveness);
      }
    };
    auto s = MembershipService::Start(std::move(o), identities_[i].get());
    if (!s.ok()) return s.status();
    services_[i] = *std::move(s);
    return absl::OkStatus();
  }

  void StopMember(int i) { services_[i]->Stop(); }
  MembershipService& service(int i) { return *services_[i]; }
  const NodeIdentity& identity(int i) const { return *identities_[i]; }
  const std::string& id(int i) const { return identities_[i]->node_id(); }
  int size() const { return static_cast<int>(services_.size()); }

  // Every member in `running` sees exactly `alive` alive and `dead` dead.
  bool Agree(const std::vector<int>& running, const std::vector<int>& alive,
             const std::vector<int>& dead) {
    std::vector<std::string> alive_ids, dead_ids;
    for (int i : alive) alive_ids.push_back(id(i));
    for (int i : dead) dead_ids.push_back(id(i));
    std::sort(alive_ids.begin(), alive_ids.end());
    std::sort(dead_ids.begin(), dead_ids.end());
    for (int i : running) {
      auto view = services_[i]->view();
      if (view->IdsWithLiveness(MemberLiveness::kAlive) != alive_ids) return false;
      if (view->IdsWithLiveness(MemberLiveness::kDead) != dead_ids) return false;
    }
    return true;
  }

  std::vector<MemberLiveness> History(int observer, int subject) {
    absl::MutexLock lock(&mu_);
    return history_[{observer, id(subject)}];
  }
  int Changes(int i) {
    absl::MutexLock lock(&mu_);
    return changes_[i];
  }

  std::vector<int> All() const {
    std::vector<int> all;
    for (int i = 0; i < size(); ++i) all.push_back(i);
    return all;
  }

 private:
  std::unique_ptr<ClusterSecret> secret_;
  std::vector<std::unique_ptr<NodeIdentity>> identities_;
  std::vector<std::unique_ptr<MembershipService>> services_;
  absl::Mutex mu_;
  std::map<int, int> changes_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<int, std::string>, std::vector<MemberLiveness>> history_ ABSL_GUARDED_BY(mu_);
};

// Starts n members in a chain: member i knows only member i-1.
void StartChain(Cluster& c) {
  ASSERT_OK(c.Start(0, -1));
  for (int i = 1; i < c.size(); ++i) ASSERT_OK(c.Start(i, i - 1));
}

TEST(MembershipServiceTest, OptionsAreValidated) {
  ASSERT_OK_AND_ASSIGN(auto id, NodeIdentity::Generate());
  MembershipServiceOptions o;
  o.poll_interval = absl::Seconds(1);
  EXPECT_THAT(
      MembershipService::Start(o, id.get()).status(),
      testing::StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("poll_interval")));
  o = MembershipServiceOptions();
  o.gossip_listen = "not-an-address";
  EXPECT_THAT(MembershipService::Start(o, id.get()).status(),
              testing::StatusIs(absl::StatusCode::kInvalidArgument));
  o = MembershipServiceOptions();
  o.seeds = {"no-port"};
  EXPECT_THAT(MembershipService::Start(o, id.get()).status(),
              testing::StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(MembershipServiceTest, MembersJoinThroughOneSeedEachAndAgree) {
  Cluster c(5);
  StartChain(c);
  ASSERT_TRUE(WaitFor([&] { return c.Agree(c.All(), c.All(), {}); }));
  auto view = c.service(4).view();
  for (int i = 0; i < c.size(); ++i) {
    const MemberInfo* m = view->Find(c.id(i));
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->gossip_address, c.service(i).gossip_address());
    EXPECT_EQ(m->grpc_address, absl::StrCat("127.0.0.1:", 9000 + i));
    EXPECT_EQ(m->location.zone, absl::StrCat("zone-", i % 2));
    EXPECT_EQ(m->public_key, c.identity(i).public_key());
    EXPECT_EQ(m->is_self, i == 4);
    EXPECT_GE(c.Changes(i), 1);
  }
}

TEST(MembershipServiceTest, CrashedMemberBecomesSuspectThenDeadAndRevivesOnRestart) {
  Cluster c(4);
  StartChain(c);
  ASSERT_TRUE(WaitFor([&] { return c.Agree(c.All(), c.All(), {}); }));
  const uint64_t old_incarnation = c.service(2).view()->Find(c.id(2))->incarnation;

  c.StopMember(2);  // closes the socket without a word, as a crash
  ASSERT_TRUE(WaitFor([&] {
    return c.Agree({0, 1, 3}, {0, 1, 3}, {2});
  })) << MemberLivenessName(c.service(0).view()->Find(c.id(2))->liveness);
  bool someone_saw_suspect = false;
  for (int observer : {0, 1, 3}) {
    std::vector<MemberLiveness> h = c.History(observer, 2);
    ASSERT_FALSE(h.empty());
    EXPECT_EQ(h.back(), MemberLiveness::kDead);
    if (h.size() >= 3 && h[h.size() - 2] == MemberLiveness::kSuspect) someone_saw_suspect = true;
  }
  EXPECT_TRUE(someone_saw_suspect);

  // Restart with the same identity (new port) and a higher incarnation.
  ASSERT_OK(c.Start(2, 0, old_incarnation + 1));
  ASSERT_TRUE(WaitFor([&] { return c.Agree(c.All(), c.All(), {}); }));
  for (int i = 0; i < c.size(); ++i) {
    auto view = c.service(i).view();
    const MemberInfo* m = view->Find(c.id(2));
    ASSERT_NE(m, nullptr);
    EXPECT_GT(m->incarnation, old_incarnation);
    EXPECT_EQ(m->gossip_address, c.service(2).gossip_address());
  }
}

// The attacker holds the cluster secret (an insider, or a stolen secret) but not member 1's key:
// its datagrams pass the MAC and the records inside must still be refused.
TEST(MembershipServiceTest, ForgedAndStaleRecordsFromAnAttackerAreRejectedAndCounted) {
  Cluster c(3);
  std::shared_ptr<GossipAuth> insider = c.NewAuth();
  StartChain(c);
  ASSERT_TRUE(WaitFor([&] { return c.Agree(c.All(), c.All(), {}); }));
  ASSERT_OK_AND_ASSIGN(auto attacker_key, NodeIdentity::Generate());
  ASSERT_OK_AND_ASSIGN(auto attacker, UdpSocket::Bind("127.0.0.1:0"));
  const uint64_t incarnation = c.service(1).view()->Find(c.id(1))->incarnation;

  auto record_of_1 = [&](uint64_t inc) {
    tessera::v1::NodeRecord r;
    r.set_format_version(1);
    r.set_node_id(c.id(1));
    r.set_public_key(c.identity(1).public_key());
    r.set_incarnation(inc);
    r.set_state(tessera::v1::MEMBER_STATE_ALIVE);
    r.set_gossip_address(attacker->local_address());
    r.set_grpc_address("evil:1");
    return r;
  };
  tessera::v1::GossipMessage msg;
  msg.set_protocol_version(1);
  msg.set_sender_id(attacker_key->node_id());
  // 1: member 1's record with a higher incarnation, signed by the attacker's key.
  *msg.add_updates()->mutable_record() = SignRecord(*attacker_key, record_of_1(incarnation + 5));
  // 2: a record claiming member 1's id but carrying the attacker's key.
  tessera::v1::NodeRecord impostor = record_of_1(incarnation + 6);
  impostor.set_public_key(attacker_key->public_key());
  *msg.add_updates()->mutable_record() = SignRecord(*attacker_key, impostor);
  // 3: a genuinely signed but old record of member 1 (a replay).
  *msg.add_updates()->mutable_record() = SignRecord(c.identity(1), record_of_1(1));
  msg.mutable_ping()->set_seq(1);
  msg.mutable_ping()->set_target_id(c.id(0));

  const MembershipCounters before = c.service(0).counters();
  ASSERT_OK(
      attacker->SendTo(c.service(0).gossip_address(), insider->Seal(msg.SerializeAsString())));
  ASSERT_OK(
      attacker->SendTo(c.service(0).gossip_address(), insider->Seal("not a protobuf \xff\xff")));
  ASSERT_TRUE(WaitFor([&] {
    MembershipCounters now = c.service(0).counters();
    return now.records_forged >= before.records_forged + 2 &&
           now.records_stale >= before.records_stale + 1 &&
           now.malformed_messages >= before.malformed_messages + 1;
  }));
  // Nothing of it was believed, by member 0 or by anyone it gossips with. Give the forgery every
  // chance to spread: wait (by progress, not a fixed sleep that a busy machine could outrun) until
  // member 0 has sent 10 more messages and every member has received 5 more.
  std::vector<MembershipCounters> mark;
  for (int i = 0; i < c.size(); ++i) mark.push_back(c.service(i).counters());
  ASSERT_TRUE(WaitFor([&] {
    if (c.service(0).counters().messages_sent < mark[0].messages_sent + 10) return false;
    for (int i = 0; i < c.size(); ++i) {
      if (c.service(i).counters().messages_received < mark[i].messages_received + 5) return false;
    }
    return true;
  })) << "gossip made no progress";
  for (int i = 0; i < c.size(); ++i) {
    auto view = c.service(i).view();
    const MemberInfo* m = view->Find(c.id(1));
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->grpc_address, "127.0.0.1:9001");
    EXPECT_EQ(m->gossip_address, c.service(1).gossip_address());
    EXPECT_EQ(m->public_key, c.identity(1).public_key());
    EXPECT_EQ(view->Find(attacker_key->node_id()), nullptr);
  }
  EXPECT_TRUE(c.Agree(c.All(), c.All(), {}));
}

// Datagrams without this cluster's MAC (unkeyed, keyed with another secret), stale ones and
// replays are dropped before the protocol: a lone member's view and protocol counters do not move,
// only the drop counters do. The same message sealed properly is taken, once.
TEST(MembershipServiceTest, UnauthenticatedStaleAndReplayedDatagramsChangeNothing) {
  Cluster c(1);
  ASSERT_OK(c.Start(0, -1));
  ASSERT_OK_AND_ASSIGN(auto newcomer, NodeIdentity::Generate());
  ASSERT_OK_AND_ASSIGN(auto sender, UdpSocket::Bind("127.0.0.1:0"));
  tessera::v1::NodeRecord r;
  r.set_format_version(1);
  r.set_node_id(newcomer->node_id());
  r.set_public_key(newcomer->public_key());
  r.set_incarnation(1);
  r.set_state(tessera::v1::MEMBER_STATE_ALIVE);
  r.set_gossip_address(sender->local_address());
  r.set_grpc_address("127.0.0.1:9999");
  tessera::v1::GossipMessage msg;
  msg.set_protocol_version(1);
  msg.set_sender_id(newcomer->node_id());
  *msg.add_updates()->mutable_record() = SignRecord(*newcomer, r);
  msg.mutable_ping()->set_seq(1);
  msg.mutable_ping()->set_target_id(c.id(0));
  const std::string plain = msg.SerializeAsString();
  const std::string to = c.service(0).gossip_address();
  const auto knows_newcomer = [&] { return c.service(0).view()->Find(newcomer->node_id()); };

  ASSERT_OK_AND_ASSIGN(ClusterSecret other_secret, ClusterSecret::Random());
  std::shared_ptr<GossipAuth> stranger = c.NewAuth(&other_secret);
  std::shared_ptr<GossipAuth> insider = c.NewAuth();
  ASSERT_OK(sender->SendTo(to, plain));                  // unkeyed
  ASSERT_OK(sender->SendTo(to, stranger->Seal(plain)));  // another cluster's key
  std::string tampered = insider->Seal(plain);
  tampered[tampered.size() / 2] ^= 0x20;
  ASSERT_OK(sender->SendTo(to, tampered));  // altered on the way
  ASSERT_OK(sender->SendTo(to, insider->SealAt(plain, 7, absl::Now() - absl::Minutes(10))));
  ASSERT_TRUE(WaitFor([&] {
    const MembershipCounters n = c.service(0).counters();
    return n.datagrams_unauthenticated >= 3 && n.datagrams_replayed >= 1;
  })) << "datagrams not counted";
  MembershipCounters now = c.service(0).counters();
  EXPECT_EQ(now.datagrams_unauthenticated, 3u);
  EXPECT_EQ(now.datagrams_replayed, 1u);
  EXPECT_EQ(now.messages_received, 0u);
  EXPECT_EQ(now.malformed_messages, 0u);
  EXPECT_EQ(knows_newcomer(), nullptr);

  // Sealed with the cluster's key: taken (the newcomer joins the view) ...
  const std::string genuine = insider->Seal(plain);
  ASSERT_OK(sender->SendTo(to, genuine));
  ASSERT_TRUE(WaitFor([&] { return knows_newcomer() != nullptr; }));
  EXPECT_EQ(c.service(0).counters().messages_received, 1u);
  // ... once: the same datagram again is dropped before the protocol.
  ASSERT_OK(sender->SendTo(to, genuine));
  ASSERT_TRUE(WaitFor([&] { return c.service(0).counters().datagrams_replayed >= 2; }));
  EXPECT_EQ(c.service(0).counters().messages_received, 1u);
}

// Two nodes with different cluster secrets drop each other's datagrams: no cluster forms.
TEST(MembershipServiceTest, NodesWithDifferentSecretsDoNotFormACluster) {
  Cluster c(2);
  ASSERT_OK_AND_ASSIGN(ClusterSecret other_secret, ClusterSecret::Random());
  ASSERT_OK(c.Start(0, -1));
  ASSERT_OK(c.Start(1, 0, /*incarnation=*/0, &other_secret));
  // Member 1 keeps trying to join through member 0 (join retries every 100 ms): wait until
  // member 0 has dropped several of its datagrams, then neither knows the other.
  ASSERT_TRUE(WaitFor([&] { return c.service(0).counters().datagrams_unauthenticated >= 5; }))
      << "member 1's join attempts never arrived";
  EXPECT_EQ(c.service(0).counters().messages_received, 0u);
  EXPECT_EQ(c.service(0).view()->Find(c.id(1)), nullptr);
  EXPECT_EQ(c.service(1).view()->Find(c.id(0)), nullptr);
  EXPECT_EQ(c.service(1).counters().messages_received, 0u);
}

TEST(MembershipServiceTest, DrainingAndCapacityPropagate) {
  Cluster c(4);
  StartChain(c);
  ASSERT_TRUE(WaitFor([&] { return c.Agree(c.All(), c.All(), {}); }));
  c.service(3).SetState(MemberState::kDraining);
  c.service(1).SetCapacity(4096, 1024);
  ASSERT_TRUE(WaitFor([&] {
    for (int i = 0; i < c.size(); ++i) {
      auto view = c.service(i).view();
      if (view->Find(c.id(3))->state != MemberState::kDraining) return false;
      if (view->Find(c.id(1))->free_bytes != 1024) return false;
    }
    return true;
  }));
  auto view = c.service(0).view();
  EXPECT_EQ(view->Find(c.id(3))->liveness, MemberLiveness::kAlive);
  EXPECT_FALSE(view->Find(c.id(3))->IsUsable());
  EXPECT_EQ(view->Find(c.id(1))->capacity_bytes, 4096u);
}

}  // namespace
}  // namespace tessera::p2p
