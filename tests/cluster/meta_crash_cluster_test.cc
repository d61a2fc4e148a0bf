// Replicated metadata under crashes, checked for linearizability: real tessera-node processes
// host the acceptors; this test process is the proposer (several MetaClients with skewed test
// clocks) running concurrent GET / PUT / DELETE / CAS on a few keys while a nemesis SIGKILLs one
// node at a time (never a quorum) and restarts it on its data directory mid-load. Every key's
// recorded history is checked with the Wing-Gong/Lowe checker (tests/lincheck).
//
// A second test puts network partitions (tests/cluster/tcp_proxy.h) between the proposers and
// the acceptors and runs the acceptors with skewed clocks (tessera-node --test_meta_clock_offset).
//
// CI runs ~20 s of load per test; TESSERA_META_SOAK_SECONDS=600 runs a longer soak.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "base/random.h"
#include "gtest/gtest.h"
#include "p2p/auth/cluster_auth.h"
#include "services/meta/layout.h"
#include "services/meta/meta_client.h"
#include "services/meta/meta_key.h"
#include "tests/cluster/process_cluster.h"
#include "tests/cluster/tcp_proxy.h"
#include "tests/lincheck/register_checker.h"

namespace tessera::testing {
namespace {

namespace lc = lincheck;
using services::MetaValue;

// The test-only clock offset: a proposer whose wall clock is `offset` off the nodes'.
class OffsetClock final : public Clock {
 public:
  explicit OffsetClock(absl::Duration offset) : offset_(offset) {}
  absl::Time Now() override { return Clock::Real()->Now() + offset_; }
  void SleepFor(absl::Duration d) override { Clock::Real()->SleepFor(d); }

 private:
  const absl::Duration offset_;
};

int64_t MonoNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

absl::Duration LoadDuration() {
  int seconds = 20;
  if (const char* s = std::getenv("TESSERA_META_SOAK_SECONDS")) {
    (void)absl::SimpleAtoi(s, &seconds);
  }
  return absl::Seconds(seconds);
}

// Concurrent GET / PUT / DELETE / CAS by every client on `keys` while `nemesis` runs (the load
// stops when it returns), then a final read per key through `final_reader` (every fault healed)
// closes each history, and every key's history is checked.
void RunWorkloadAndCheck(const std::vector<services::MetaClient*>& clients,
                         const std::vector<tessera::v1::MetaKey>& keys,
                         const std::function<void()>& nemesis, services::MetaClient* final_reader) {
  const int num_keys = static_cast<int>(keys.size());
  absl::Mutex mu;
  std::vector<std::vector<lc::Op>> history(num_keys);
  int ok_ops = 0, unknown_ops = 0, failed_ops = 0;
  std::atomic<bool> stop{false};
  auto record = [&](int k, lc::Op op, const absl::Status& status) {
    absl::MutexLock lock(&mu);
    if (status.ok()) {
      ++ok_ops;
    } else if (services::IsOutcomeUnknown(status)) {
      ++unknown_ops;
      if (op.kind == lc::OpKind::kGet) return;
      op.unknown = true;
    } else {
      ++failed_ops;
      return;  // definitely not applied
    }
    history[k].push_back(std::move(op));
  };

  std::vector<std::thread> workers;
  for (size_t c = 0; c < clients.size(); ++c) {
    workers.emplace_back([&, c] {
      services::MetaClient& client = *clients[c];
      Random rnd(77 + c);
      std::vector<MetaValue> last_seen(num_keys);
      for (int i = 0; !stop.load(); ++i) {
        const int k = static_cast<int>(rnd.Uniform(num_keys));
        const std::string mine = absl::StrCat("c", c, "-", i);
        lc::Op op;
        op.client = static_cast<int>(c);
        const int kind = static_cast<int>(rnd.Uniform(4));
        absl::Status status;
        op.call = MonoNanos();
        if (kind == 0) {
          op.kind = lc::OpKind::kGet;
          auto r = client.Get(keys[k]);
          status = r.status();
          if (r.ok()) op.value = last_seen[k] = *r;
        } else {
          services::UpdateFn fn;
          if (kind == 1) {
            op.kind = lc::OpKind::kPut;
            op.value = mine;
            fn = [&](const MetaValue&) -> absl::StatusOr<MetaValue> { return MetaValue(mine); };
          } else if (kind == 2) {
            op.kind = lc::OpKind::kDelete;
            fn = [](const MetaValue&) -> absl::StatusOr<MetaValue> { return MetaValue(); };
          } else {
            op.kind = lc::OpKind::kCas;
            op.expected = rnd.OneIn(4) ? MetaValue() : last_seen[k];
            op.value = rnd.OneIn(5) ? MetaValue() : MetaValue(mine);
            fn = [&](const MetaValue& cur) -> absl::StatusOr<MetaValue> {
              if (cur != op.expected) return absl::FailedPreconditionError("cas mismatch");
              return op.value;
            };
          }
          auto r = client.CompareAndSet(keys[k], fn);
          status = r.status();
          if (r.ok()) last_seen[k] = *r;
          if (op.kind == lc::OpKind::kCas) {
            op.ok = r.ok();
            if (!r.ok() && r.status().message() == "cas mismatch") status = absl::OkStatus();
          }
        }
        op.ret = MonoNanos();
        record(k, std::move(op), status);
      }
    });
  }

  nemesis();
  stop = true;
  for (auto& t : workers) t.join();
  // Final reads (every fault healed) close each history.
  for (int k = 0; k < num_keys; ++k) {
    lc::Op op;
    op.kind = lc::OpKind::kGet;
    op.client = 99;
    op.call = MonoNanos();
    auto r = final_reader->Get(keys[k]);
    op.ret = MonoNanos();
    ASSERT_TRUE(r.ok()) << r.status();
    op.value = *r;
    record(k, op, absl::OkStatus());
  }
  std::cout << "ok=" << ok_ops << " unknown=" << unknown_ops << " failed=" << failed_ops << "\n";
  for (int k = 0; k < num_keys; ++k) {
    lc::CheckResult result = lc::Check(history[k]);
    std::cout << "key" << k << ": " << history[k].size() << " ops, " << result.steps
              << " search steps\n";
    EXPECT_EQ(result.verdict, lc::Verdict::kLinearizable)
        << "key" << k << " (" << history[k].size() << " ops):\n"
        << result.explanation;
    EXPECT_GT(history[k].size(), 10u);
  }
}

// A MetaClient as test client `c`, with a clock `skew` off, over `view`.
std::unique_ptr<services::MetaClient> NewClient(const ProcessCluster& cluster,
                                                const services::LayoutView& view, size_t c,
                                                OffsetClock* clock) {
  auto auth = p2p::ClusterAuth::FromSecretFile(cluster.secret_file(), absl::StrCat("tc", c));
  EXPECT_TRUE(auth.ok()) << auth.status();
  if (!auth.ok()) return nullptr;
  services::MetaClientOptions mo;
  mo.clock = clock;
  mo.auth = std::shared_ptr<const p2p::ClusterAuth>(*std::move(auth));
  mo.rpc_deadline = absl::Seconds(1);
  mo.client_id = absl::StrCat("tc", c);
  auto client = services::MetaClient::Create(view, mo);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

std::vector<tessera::v1::MetaKey> Keys(const services::LayoutOptions& lo) {
  std::vector<tessera::v1::MetaKey> keys;
  for (int k = 0; k < 4; ++k) {
    keys.push_back(services::ObjectEntryKey("bkt", 0, absl::StrCat("key", k), "", lo.partitions));
  }
  return keys;
}

TEST(MetaCrashClusterTest, HistoriesStayLinearizableWhileNodesAreKilledAndRestarted) {
  ProcessClusterOptions po;
  po.nodes = 3;
  po.sites = 3;
  po.gateways = 0;
  ProcessCluster cluster(po);
  // Real node ids: with mutual TLS a client checks that the peer's certificate names that node.
  std::vector<services::MetaMember> members;
  for (int i = 0; i < 3; ++i) {
    members.push_back(services::MetaMember{cluster.node_ids()[i], absl::StrCat("site", i),
                                           cluster.node_addresses()[i]});
  }
  services::LayoutOptions lo;
  lo.partitions = 8;
  auto layout = services::Layout::Compute(1, members, lo);
  ASSERT_TRUE(layout.ok()) << layout.status();
  const services::LayoutView view(*layout);
  // Clock skews within the 500 ms guard, so every client may write.
  const std::vector<absl::Duration> skews = {absl::ZeroDuration(), absl::Milliseconds(200),
                                             absl::Milliseconds(-200), absl::Milliseconds(350)};
  std::vector<std::unique_ptr<OffsetClock>> clocks;
  std::vector<std::unique_ptr<services::MetaClient>> owned;
  std::vector<services::MetaClient*> clients;
  for (size_t c = 0; c < skews.size(); ++c) {
    clocks.push_back(std::make_unique<OffsetClock>(skews[c]));
    owned.push_back(NewClient(cluster, view, c, clocks.back().get()));
    ASSERT_NE(owned.back(), nullptr);
    clients.push_back(owned.back().get());
  }

  // Nemesis: one node down at a time (a quorum of 2 of 3 always remains), restarted while the
  // load goes on.
  int kills = 0;
  RunWorkloadAndCheck(
      clients, Keys(lo),
      [&] {
        const absl::Time end = absl::Now() + LoadDuration();
        for (int victim = 0; absl::Now() < end; victim = (victim + 1) % 3) {
          absl::SleepFor(absl::Milliseconds(1500));
          cluster.KillNode(victim);
          ++kills;
          absl::SleepFor(absl::Milliseconds(1500));
          ASSERT_TRUE(cluster.RestartNode(victim)) << "node " << victim << " did not restart";
        }
      },
      clients[0]);
  std::cout << "kills=" << kills << "\n";
  EXPECT_GT(kills, 0);
}

// Network partitions between the proposers and the acceptors, and acceptors whose clocks are off:
// every client reaches every node through its own TcpProxy, and a nemesis blackholes (holds every
// byte, both ways, then lets them through late on healing) or cuts (connection reset) a node for
// all clients, or only for some (asymmetric partitions: proposers disagree about who is up), and
// now and then kills a node. The nodes run with --test_meta_clock_offset (0, +150 ms, -150 ms) and
// the clients with skews up to 400 ms, so some client/acceptor pairs are past the 500 ms guard.
TEST(MetaCrashClusterTest, HistoriesStayLinearizableUnderPartitionsAndAcceptorClockSkew) {
  ProcessClusterOptions po;
  po.nodes = 3;
  po.sites = 3;
  po.gateways = 0;
  po.node_args = {{}, {"--test_meta_clock_offset=150ms"}, {"--test_meta_clock_offset=-150ms"}};
  ProcessCluster cluster(po);
  services::LayoutOptions lo;
  lo.partitions = 8;
  const std::vector<absl::Duration> skews = {absl::ZeroDuration(), absl::Milliseconds(200),
                                             absl::Milliseconds(-200), absl::Milliseconds(400)};
  // proxies[c][i]: client c -> node i.
  std::vector<std::vector<std::unique_ptr<TcpProxy>>> proxies(skews.size());
  std::vector<std::unique_ptr<OffsetClock>> clocks;
  std::vector<std::unique_ptr<services::MetaClient>> owned;
  std::vector<services::MetaClient*> clients;
  std::unique_ptr<services::MetaClient> direct;  // final reads, no proxy
  for (size_t c = 0; c <= skews.size(); ++c) {
    std::vector<services::MetaMember> members;
    for (int i = 0; i < 3; ++i) {
      std::string address = cluster.node_addresses()[i];
      if (c < skews.size()) {
        proxies[c].push_back(std::make_unique<TcpProxy>(address));
        address = proxies[c].back()->address();
      }
      members.push_back(
          services::MetaMember{cluster.node_ids()[i], absl::StrCat("site", i), address});
    }
    auto layout = services::Layout::Compute(1, members, lo);
    ASSERT_TRUE(layout.ok()) << layout.status();
    clocks.push_back(
        std::make_unique<OffsetClock>(c < skews.size() ? skews[c] : absl::ZeroDuration()));
    auto client = NewClient(cluster, services::LayoutView(*layout), c, clocks.back().get());
    ASSERT_NE(client, nullptr);
    if (c < skews.size()) {
      clients.push_back(client.get());
      owned.push_back(std::move(client));
    } else {
      direct = std::move(client);
    }
  }

  int partitions = 0, asymmetric = 0, kills = 0;
  RunWorkloadAndCheck(
      clients, Keys(lo),
      [&] {
        Random rnd(20261205);
        const absl::Time end = absl::Now() + LoadDuration();
        while (absl::Now() < end) {
          absl::SleepFor(absl::Milliseconds(700));
          const int victim = static_cast<int>(rnd.Uniform(3));
          const int action = static_cast<int>(rnd.Uniform(5));
          const ProxyMode mode = rnd.OneIn(3) ? ProxyMode::kReject : ProxyMode::kBlackhole;
          if (action == 4) {  // a crash now and then
            cluster.KillNode(victim);
            ++kills;
            absl::SleepFor(absl::Milliseconds(1200));
            ASSERT_TRUE(cluster.RestartNode(victim)) << "node " << victim << " did not restart";
            continue;
          }
          // 0-1: the victim is cut off from every client; 2-3: from a random half of them.
          std::vector<size_t> cut;
          for (size_t c = 0; c < proxies.size(); ++c) {
            if (action < 2 || rnd.OneIn(2)) cut.push_back(c);
          }
          if (action >= 2) ++asymmetric;
          ++partitions;
          for (size_t c : cut) proxies[c][victim]->SetMode(mode);
          absl::SleepFor(absl::Milliseconds(1000 + rnd.Uniform(1000)));
          for (size_t c : cut) proxies[c][victim]->SetMode(ProxyMode::kPass);
        }
      },
      direct.get());
  std::cout << "partitions=" << partitions << " (asymmetric " << asymmetric << ") kills=" << kills
            << "\n";
  EXPECT_GT(partitions, 0);
}

}  // namespace
}  // namespace tessera::testing
