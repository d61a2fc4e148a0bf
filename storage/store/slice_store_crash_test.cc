// Crash consistency of the slice store with a FaultInjectionEnv under both the slice files and the
// RocksDB index: for a fixed sequence of Puts and Deletes, the Nth mutating file-system call fails
// (for every N until the sequence runs clean), the machine "loses power" (unsynced data and
// directory entries are dropped) and the store is reopened. An expected-state oracle checks that
// every acknowledged operation is reflected byte-exactly and that the one in flight is wholly
// applied or wholly absent -- never partial, never DATA_LOSS. The workload also damages slices
// on disk and repairs them with a Put over the damaged entry (the Put rewrites the same file in
// place): for those the oracle expects DATA_LOSS until the repair is acknowledged, and the repair
// in flight may leave the slice damaged or repaired -- never absent, never other bytes.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/env.h"
#include "base/fault_injection_env.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "storage/store/slice_store.h"
#include "storage/store/store_test_util.h"

namespace tessera::storage {
namespace {

using ::tessera::storage::testing::FilesContaining;
using ::tessera::storage::testing::FreshDir;
using ::tessera::storage::testing::MakeId;
using ::tessera::storage::testing::RandomBytes;

constexpr uint64_t kBlock = 64 << 10;

struct Op {
  // kFlip flips a bit in the slice's file behind the store's back (not a store call); kGet reads
  // it (a read that finds damage marks the entry corrupt: a synced index write).
  enum Kind { kPut, kDelete, kFlip, kGet } kind;
  uint64_t id;
  std::string data;  // kPut
};

// The oracle's value for a damaged slice (Get returns DATA_LOSS until it is repaired).
const std::string& Damaged() {
  static const std::string* d = new std::string("<damaged>");
  return *d;
}

std::vector<Op> Workload() {
  return {
      {Op::kPut, 1, RandomBytes(2 * kBlock + kBlock / 2, 1)},  // file
      {Op::kPut, 2, RandomBytes(500, 2)},                      // inline
      {Op::kPut, 3, RandomBytes(kBlock + 1, 3)},               // file
      {Op::kDelete, 1, ""},
      {Op::kPut, 4, RandomBytes(3 * kBlock, 4)},  // file
      {Op::kFlip, 4, ""},                         // damaged, entry still live
      {Op::kPut, 4, RandomBytes(3 * kBlock, 4)},  // repair over a live, damaged entry
      {Op::kPut, 2, RandomBytes(500, 2)},         // idempotent retry
      {Op::kDelete, 2, ""},
      {Op::kPut, 1, RandomBytes(kBlock + 77, 7)},  // same id again, other bytes
      {Op::kFlip, 1, ""},
      {Op::kGet, 1, ""},                           // finds the damage: entry marked corrupt
      {Op::kPut, 1, RandomBytes(kBlock + 77, 7)},  // repair over a corrupt entry
      {Op::kPut, 5, RandomBytes(10, 5)},           // inline
      {Op::kDelete, 3, ""},
  };
}

using State = std::map<uint64_t, std::optional<std::string>>;

class CrashTest : public ::testing::Test {
 protected:
  SliceStoreOptions Options(const std::string& root, Env* env) {
    SliceStoreOptions o;
    o.index_dir = root + "/meta";
    o.data_dirs = {root + "/disk0", root + "/disk1"};
    o.reserved_bytes = 0;
    o.env = env;
    return o;
  }

  // Power loss while `store` is open: nothing more reaches the disk, then unsynced state is
  // dropped and the process is gone.
  static void Crash(FaultInjectionEnv* fault, std::unique_ptr<SliceStore>* store) {
    fault->SetFilesystemActive(false);
    ASSERT_OK(fault->DropUnsyncedData());
    store->reset();
    fault->ClearFaults();
  }

  // Applies `op` to `store` (through `fault` for kFlip). Returns the store call's status.
  static absl::Status Apply(const Op& op, SliceStore* store, FaultInjectionEnv* fault,
                            const SliceStoreOptions& options) {
    switch (op.kind) {
      case Op::kPut:
        return store->Put(MakeId(op.id), op.data, std::nullopt);
      case Op::kDelete:
        return store->Delete(MakeId(op.id));
      case Op::kGet: {
        absl::Status s = store->Get(MakeId(op.id), {}).status();
        return absl::IsDataLoss(s) ? absl::OkStatus() : s;  // the damage is expected
      }
      case Op::kFlip: {
        const std::string hex = absl::BytesToHexString(MakeId(op.id).Encode());
        for (const std::string& dir : options.data_dirs) {
          for (const std::string& f : FilesContaining(Env::Default(), dir, hex + ".slice")) {
            return fault->FlipBit(f, 64 + 100, 1);  // first data block
          }
        }
        return absl::InternalError("no file to damage");
      }
    }
    return absl::InternalError("unknown op");
  }

  // The oracle's value after `op` given the value before.
  static std::optional<std::string> After(const Op& op, const std::optional<std::string>& before) {
    switch (op.kind) {
      case Op::kPut:
        return op.data;
      case Op::kDelete:
        return std::nullopt;
      case Op::kFlip:
        return Damaged();
      case Op::kGet:
        return before;
    }
    return before;
  }

  // Checks the reopened store against the oracle. `inflight` (if any) is the id of the operation
  // that failed, and its possible outcomes.
  void CheckAgainstOracle(
      SliceStore* store, const State& acked,
      const std::optional<std::pair<uint64_t, std::vector<State::mapped_type>>>& inflight,
      const std::string& context) {
    size_t present = 0, indexed = 0;
    for (uint64_t id = 1; id <= 5; ++id) {
      absl::StatusOr<std::string> got = store->Get(MakeId(id), {});
      ASSERT_TRUE(got.ok() || absl::IsNotFound(got.status()) || absl::IsDataLoss(got.status()))
          << context << " id " << id << ": " << got.status();
      std::optional<std::string> value;
      if (got.ok()) {
        value = *got;
        ++present;
        ++indexed;
        EXPECT_OK(store->Verify(MakeId(id)));
      } else if (absl::IsDataLoss(got.status())) {
        value = Damaged();  // allowed only where the oracle says so (checked below)
        ++indexed;
        EXPECT_NE(store->Stat(MakeId(id))->state, SliceState::kLive) << context << " id " << id;
      }
      if (inflight.has_value() && inflight->first == id) {
        bool allowed = false;
        for (const auto& outcome : inflight->second) allowed |= outcome == value;
        EXPECT_TRUE(allowed) << context << " in-flight id " << id << " has an impossible value"
                             << (value.has_value() ? " (present)" : " (absent)");
      } else {
        auto it = acked.find(id);
        const std::optional<std::string> want = it == acked.end() ? std::nullopt : it->second;
        EXPECT_EQ(value.has_value(), want.has_value()) << context << " id " << id;
        if (value.has_value() && want.has_value()) {
          EXPECT_TRUE(*value == *want) << context << " id " << id << " bytes differ";
        }
      }
    }
    absl::StatusOr<std::vector<SliceInfo>> listed = store->List(std::nullopt, 100);
    ASSERT_OK(listed.status());
    EXPECT_EQ(listed->size(), indexed) << context;  // damaged slices stay listed, for repair
    size_t live = 0;
    for (const SliceInfo& info : *listed) live += info.state == SliceState::kLive;
    EXPECT_EQ(live, present) << context;
    EXPECT_EQ(store->Stats().slice_count, present) << context;
  }
};

TEST_F(CrashTest, FailEveryMutatingCallThenLosePower) {
  const std::vector<Op> ops = Workload();
  uint64_t orphans = 0, runs = 0, repairs_interrupted = 0;
  bool ran_clean = false;
  for (int n = 1; n <= 1000 && !ran_clean; ++n) {
    const std::string root = FreshDir(absl::StrCat("/n", n));
    const std::string context = absl::StrCat("N=", n);
    FaultInjectionEnv fault(Env::Default());
    const SliceStoreOptions options = Options(root, &fault);
    std::unique_ptr<SliceStore> store;
    {
      auto opened = OpenSliceStore(options);
      ASSERT_OK(opened.status());
      store = std::move(opened).value();
    }
    fault.FailNthCall(n, absl::UnavailableError("injected I/O error"));

    State acked;
    std::optional<std::pair<uint64_t, std::vector<State::mapped_type>>> inflight;
    for (const Op& op : ops) {
      const std::optional<std::string> before =
          acked.count(op.id) ? acked[op.id] : std::optional<std::string>();
      const std::optional<std::string> after = After(op, before);
      absl::Status s = Apply(op, store.get(), &fault, options);
      if (!s.ok()) {
        ASSERT_NE(op.kind, Op::kFlip) << context << ": " << s;
        if (op.kind == Op::kPut && before == Damaged()) ++repairs_interrupted;
        inflight.emplace(op.id, std::vector<State::mapped_type>{before, after});
        break;
      }
      acked[op.id] = after;
    }
    ran_clean = fault.counters().injected_failures == 0;
    Crash(&fault, &store);

    auto reopened = OpenSliceStore(options);
    ASSERT_OK(reopened.status());
    store = std::move(reopened).value();
    ++runs;
    orphans += store->recovery_report().orphan_files;
    EXPECT_EQ(store->recovery_report().missing_files, 0u) << context;
    CheckAgainstOracle(store.get(), acked, inflight, context);
    for (const std::string& dir : options.data_dirs) {
      EXPECT_TRUE(FilesContaining(Env::Default(), dir, ".tmp.").empty()) << context;
    }
    // The recovered store takes writes again.
    EXPECT_OK(store->Put(MakeId(9), RandomBytes(kBlock * 2, 9), std::nullopt));
    EXPECT_OK(store->Get(MakeId(9), {}).status());
    if (HasFatalFailure()) return;
  }
  EXPECT_TRUE(ran_clean) << "the workload never ran without an injected failure";
  EXPECT_GT(runs, 30u);  // every Put and Delete makes several mutating calls
  // Crashing between a slice file's write and its index entry must leave orphans to clean.
  EXPECT_GT(orphans, 0u);
  // Both repairs were interrupted at several points.
  EXPECT_GE(repairs_interrupted, 4u);
}

TEST_F(CrashTest, PowerLossAfterEveryAcknowledgedOperation) {
  const std::vector<Op> ops = Workload();
  for (size_t k = 0; k <= ops.size(); ++k) {
    const std::string root = FreshDir(absl::StrCat("/k", k));
    FaultInjectionEnv fault(Env::Default());
    const SliceStoreOptions options = Options(root, &fault);
    auto opened = OpenSliceStore(options);
    ASSERT_OK(opened.status());
    std::unique_ptr<SliceStore> store = std::move(opened).value();
    State acked;
    for (size_t i = 0; i < k; ++i) {
      const Op& op = ops[i];
      ASSERT_OK(Apply(op, store.get(), &fault, options));
      acked[op.id] = After(op, acked.count(op.id) ? acked[op.id] : std::nullopt);
    }
    Crash(&fault, &store);
    auto reopened = OpenSliceStore(options);
    ASSERT_OK(reopened.status());
    store = std::move(reopened).value();
    CheckAgainstOracle(store.get(), acked, std::nullopt, absl::StrCat("after ", k, " ops"));
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace tessera::storage
