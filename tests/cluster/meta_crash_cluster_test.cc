// Replicated metadata under crashes, checked for linearizability: real tessera-node processes
// host the acceptors; this test process is the proposer (several MetaClients with skewed test
// clocks) running concurrent GET / PUT / DELETE / CAS on a few keys while a nemesis SIGKILLs one
// node at a time (never a quorum) and restarts it on its data directory mid-load. Every key's
// recorded history is checked with the Wing-Gong/Lowe checker (tests/lincheck).
//
// CI runs ~20 s of load; TESSERA_META_SOAK_SECONDS=600 runs a longer soak.
#include <atomic>
#include <chrono>
#include <cstdlib>
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

TEST(MetaCrashClusterTest, HistoriesStayLinearizableWhileNodesAreKilledAndRestarted) {
  ProcessClusterOptions po;
  po.nodes = 3;
  po.sites = 3;
  po.gateways = 0;
  ProcessCluster cluster(po);
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

  constexpr int kKeys = 4;
  std::vector<tessera::v1::MetaKey> keys;
  for (int k = 0; k < kKeys; ++k) {
    keys.push_back(services::ObjectEntryKey("bkt", 0, absl::StrCat("key", k), "", lo.partitions));
  }
  // Clock skews within the 500 ms guard, so every client may write.
  const std::vector<absl::Duration> skews = {absl::ZeroDuration(), absl::Milliseconds(200),
                                             absl::Milliseconds(-200), absl::Milliseconds(350)};
  std::vector<std::unique_ptr<OffsetClock>> clocks;
  std::vector<std::unique_ptr<services::MetaClient>> clients;
  for (size_t c = 0; c < skews.size(); ++c) {
    auto auth = p2p::ClusterAuth::FromSecretFile(cluster.secret_file(), absl::StrCat("tc", c));
    ASSERT_TRUE(auth.ok()) << auth.status();
    clocks.push_back(std::make_unique<OffsetClock>(skews[c]));
    services::MetaClientOptions mo;
    mo.clock = clocks.back().get();
    mo.auth = std::shared_ptr<const p2p::ClusterAuth>(*std::move(auth));
    mo.rpc_deadline = absl::Seconds(1);
    mo.client_id = absl::StrCat("tc", c);
    auto client = services::MetaClient::Create(view, mo);
    ASSERT_TRUE(client.ok()) << client.status();
    clients.push_back(*std::move(client));
  }

  absl::Mutex mu;
  std::vector<std::vector<lc::Op>> history(kKeys);
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
      std::vector<MetaValue> last_seen(kKeys);
      for (int i = 0; !stop.load(); ++i) {
        const int k = static_cast<int>(rnd.Uniform(kKeys));
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

  // Nemesis: one node down at a time (a quorum of 2 of 3 always remains), restarted while the
  // load goes on.
  const absl::Time end = absl::Now() + LoadDuration();
  int kills = 0;
  for (int victim = 0; absl::Now() < end; victim = (victim + 1) % 3) {
    absl::SleepFor(absl::Milliseconds(1500));
    cluster.KillNode(victim);
    ++kills;
    absl::SleepFor(absl::Milliseconds(1500));
    ASSERT_TRUE(cluster.RestartNode(victim)) << "node " << victim << " did not restart";
  }
  stop = true;
  for (auto& t : workers) t.join();
  // Final reads (every node up) close each history.
  for (int k = 0; k < kKeys; ++k) {
    lc::Op op;
    op.kind = lc::OpKind::kGet;
    op.client = 99;
    op.call = MonoNanos();
    auto r = clients[0]->Get(keys[k]);
    op.ret = MonoNanos();
    ASSERT_TRUE(r.ok()) << r.status();
    op.value = *r;
    record(k, op, absl::OkStatus());
  }
  std::cout << "kills=" << kills << " ok=" << ok_ops << " unknown=" << unknown_ops
            << " failed=" << failed_ops << "\n";
  EXPECT_GT(kills, 0);
  for (int k = 0; k < kKeys; ++k) {
    lc::CheckResult result = lc::Check(history[k]);
    std::cout << "key" << k << ": " << history[k].size() << " ops, " << result.steps
              << " search steps\n";
    EXPECT_EQ(result.verdict, lc::Verdict::kLinearizable)
        << "key" << k << " (" << history[k].size() << " ops):\n"
        << result.explanation;
    EXPECT_GT(history[k].size(), 10u);
  }
}

}  // namespace
}  // namespace tessera::testing
