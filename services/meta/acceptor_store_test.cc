#include "services/meta/acceptor_store.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/fake_clock.h"
#include "base/status_reasons.h"
#include "base/testing/status_matchers.h"
#include "base/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "services/meta/meta_key.h"

namespace tessera::services {
namespace {

using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;
using tessera::v1::Ballot;
using tessera::v1::MetaKey;
using ::testing::HasSubstr;

// A fresh directory per call: unique per test and per --gtest_repeat repetition.
std::string TestDir(absl::string_view name) { return ::tessera::testing::UniqueTestDir(name); }

Ballot B(int64_t t, absl::string_view who = "p") {
  Ballot b;
  b.set_wall_micros(t);
  b.set_proposer(std::string(who));
  return b;
}

tessera::v1::PaxosValue V(absl::string_view data, bool exists = true) {
  tessera::v1::PaxosValue v;
  v.set_format_version(1);
  v.set_exists(exists);
  v.set_data(std::string(data));
  return v;
}

TEST(MetaKeyTest, EncodingPreservesOrderAndRoundTrips) {
  std::vector<MetaKey> keys;
  for (std::string obj :
       {std::string(""), std::string("a"), std::string("a\0", 2), std::string("a\0b", 3),
        std::string("a\x01"), std::string("ab"), std::string("b")}) {
    for (std::string ver : {std::string(""), std::string("\x00\x01", 2), std::string("\xff")}) {
      keys.push_back(ObjectEntryKey("bkt", 0, obj, ver, 8));
    }
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(MetaKey back, DecodeMetaKey(EncodeMetaKey(keys[i])));
    EXPECT_EQ(back.SerializeAsString(), keys[i].SerializeAsString());
    for (size_t j = i + 1; j < keys.size(); ++j) {
      EXPECT_LT(EncodeMetaKey(keys[i]), EncodeMetaKey(keys[j])) << i << " " << j;
    }
  }
  // A bucket that is a prefix of another never interleaves with it.
  MetaKey short_bucket = ObjectEntryKey("b", 0, "zzz", "", 1);
  MetaKey long_bucket = ObjectEntryKey("b\x01", 0, "", "", 1);
  EXPECT_LT(EncodeMetaKey(short_bucket), EncodeMetaKey(long_bucket));
  EXPECT_LT(EncodeMetaKey(short_bucket), BucketPrefixEnd(0, tessera::v1::META_TABLE_OBJECT, "b"));
  EXPECT_THAT(DecodeMetaKey("abc"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(MetaKeyTest, BallotOrder) {
  EXPECT_TRUE(BallotLess(Ballot(), B(1)));
  EXPECT_TRUE(BallotLess(B(1, "z"), B(2, "a")));
  EXPECT_TRUE(BallotLess(B(2, "a"), B(2, "b")));
  Ballot l = B(2, "a");
  l.set_logical(1);
  EXPECT_TRUE(BallotLess(B(2, "z"), l));
  EXPECT_EQ(CompareBallots(B(3, "x"), B(3, "x")), 0);
}

// The key-format stamp: a store written with another key encoding or partition hash is refused
// (its keys would be unreachable); a store from before the stamp existed is stamped and opens.
TEST(AcceptorStoreTest, RefusesAStoreWrittenInAnotherKeyFormat) {
  const std::string stamp_key = std::string(5, '\xff') + "key_format";
  const std::string dir = TestDir("acceptor_format");
  { ASSERT_OK_AND_ASSIGN(auto store, AcceptorStore::Open(dir)); }
  const auto with_db = [&](const std::function<void(rocksdb::DB*)>& fn) {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    fn(db.get());
  };
  with_db([&](rocksdb::DB* db) {
    std::string v;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), stamp_key, &v).ok());
    EXPECT_EQ(v, KeyFormatStamp());
    EXPECT_EQ(v, "meta_key=1 partition_hash=1");
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), stamp_key, "meta_key=2 partition_hash=1").ok());
  });
  EXPECT_THAT(AcceptorStore::Open(dir),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("meta_key=2")));
  // Written before the stamp existed: opens, and is stamped with this binary's formats.
  with_db(
      [&](rocksdb::DB* db) { ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), stamp_key).ok()); });
  { ASSERT_OK_AND_ASSIGN(auto store, AcceptorStore::Open(dir)); }
  with_db([&](rocksdb::DB* db) {
    std::string v;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), stamp_key, &v).ok());
    EXPECT_EQ(v, KeyFormatStamp());
  });
}

TEST(AcceptorStoreTest, PaxosRulesAndDurabilityAcrossReopen) {
  const std::string dir = TestDir("acceptor_rules");
  MetaKey key = BucketRecordKey("photos", 256);
  {
    ASSERT_OK_AND_ASSIGN(auto store, AcceptorStore::Open(dir));
    tessera::v1::PrepareRequest prepare;
    *prepare.mutable_key() = key;
    *prepare.mutable_ballot() = B(10);
    ASSERT_OK_AND_ASSIGN(auto promise, store->Prepare(prepare));
    EXPECT_TRUE(promise.promised());
    EXPECT_FALSE(promise.state().has_accepted());
    EXPECT_GT(promise.wall_micros(), 0);

    *prepare.mutable_ballot() = B(5);  // lower: refused, told the promise
    ASSERT_OK_AND_ASSIGN(promise, store->Prepare(prepare));
    EXPECT_FALSE(promise.promised());
    EXPECT_EQ(promise.promised_ballot().wall_micros(), 10);

    tessera::v1::AcceptRequest accept;
    *accept.mutable_key() = key;
    *accept.mutable_ballot() = B(9);
    *accept.mutable_value() = V("v1");
    ASSERT_OK_AND_ASSIGN(auto acc, store->Accept(accept));
    EXPECT_FALSE(acc.accepted());
    *accept.mutable_ballot() = B(10);
    ASSERT_OK_AND_ASSIGN(acc, store->Accept(accept));
    EXPECT_TRUE(acc.accepted());
  }
  {
    // The promise and the accepted value survive a restart.
    ASSERT_OK_AND_ASSIGN(auto store, AcceptorStore::Open(dir));
    tessera::v1::ReadRequest read;
    *read.mutable_key() = key;
    ASSERT_OK_AND_ASSIGN(auto r, store->Read(read));
    EXPECT_EQ(r.state().promised().wall_micros(), 10);
    ASSERT_TRUE(r.state().has_accepted());
    EXPECT_EQ(r.state().accepted_value().data(), "v1");

    tessera::v1::CommitRequest commit;
    *commit.mutable_key() = key;
    *commit.mutable_ballot() = B(10);
    *commit.mutable_value() = V("v1");
    ASSERT_OK(store->Commit(commit));
    // An older commit arriving late changes nothing.
    *commit.mutable_ballot() = B(3);
    *commit.mutable_value() = V("old");
    ASSERT_OK(store->Commit(commit));
    ASSERT_OK_AND_ASSIGN(r, store->Read(read));
    EXPECT_FALSE(r.state().has_accepted());
    EXPECT_EQ(r.state().committed_value().data(), "v1");
    EXPECT_EQ(r.state().committed_ballot().wall_micros(), 10);

    // An accept at or below the committed ballot is refused even with no higher promise.
    tessera::v1::AcceptRequest accept;
    *accept.mutable_key() = key;
    *accept.mutable_ballot() = B(10);
    *accept.mutable_value() = V("again");
    ASSERT_OK_AND_ASSIGN(auto acc, store->Accept(accept));
    EXPECT_FALSE(acc.accepted());
  }
  ASSERT_OK_AND_ASSIGN(auto store, AcceptorStore::Open(dir));
  tessera::v1::PrepareRequest bad;
  *bad.mutable_ballot() = B(1);
  EXPECT_THAT(store->Prepare(bad), StatusIs(absl::StatusCode::kInvalidArgument));
}

// Backup, mutate, restore: the restored store holds exactly the backed-up state.
TEST(AcceptorStoreTest, BackupAndRestore) {
  const std::string dir = TestDir("acceptor_live");
  const std::string backup = TestDir("acceptor_backup") + "/copy";
  const std::string restored = TestDir("acceptor_restored") + "/meta";
  MetaKey photos = BucketRecordKey("photos", 256);
  MetaKey later = BucketRecordKey("later", 256);
  auto commit = [](AcceptorStore& store, const MetaKey& key, int64_t ballot,
                   absl::string_view data) {
    tessera::v1::CommitRequest c;
    *c.mutable_key() = key;
    *c.mutable_ballot() = B(ballot);
    *c.mutable_value() = V(data);
    return store.Commit(c).status();
  };
  auto read = [](AcceptorStore& store, const MetaKey& key) -> std::string {
    tessera::v1::ReadRequest r;
    *r.mutable_key() = key;
    absl::StatusOr<tessera::v1::ReadResponse> got = store.Read(r);
    EXPECT_OK(got.status());
    if (!got.ok() || !got->state().has_committed_value()) return "<none>";
    return got->state().committed_value().data();
  };
  {
    ASSERT_OK_AND_ASSIGN(auto store, AcceptorStore::Open(dir));
    ASSERT_OK(commit(*store, photos, 10, "v1"));
    ASSERT_OK(store->Backup(backup));
    EXPECT_THAT(store->Backup(backup), StatusIs(absl::StatusCode::kAlreadyExists));
    // Changes after the backup: not in it.
    ASSERT_OK(commit(*store, photos, 20, "v2"));
    ASSERT_OK(commit(*store, later, 21, "new"));
    EXPECT_EQ(read(*store, photos), "v2");
  }
  // The live store is not empty: refused, untouched.
  EXPECT_THAT(AcceptorStore::RestoreBackup(backup, dir),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("move it aside")));
  EXPECT_THAT(AcceptorStore::RestoreBackup(backup + "-missing", restored),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK(AcceptorStore::RestoreBackup(backup, restored));
  {
    ASSERT_OK_AND_ASSIGN(auto store, AcceptorStore::Open(restored));
    EXPECT_EQ(read(*store, photos), "v1");
    EXPECT_EQ(read(*store, later), "<none>");
    EXPECT_THAT(store->CountRecords(), IsOkAndHolds(1u));
  }
  {
    ASSERT_OK_AND_ASSIGN(auto store, AcceptorStore::Open(dir));
    EXPECT_EQ(read(*store, photos), "v2");
  }
  // The backup can be restored again (it was not modified).
  const std::string again = TestDir("acceptor_again") + "/meta";
  ASSERT_OK(AcceptorStore::RestoreBackup(backup, again));
  ASSERT_OK_AND_ASSIGN(auto store, AcceptorStore::Open(again));
  EXPECT_EQ(read(*store, photos), "v1");
}

// A backup written in another key format is refused on restore and leaves nothing behind.
TEST(AcceptorStoreTest, RestoreRefusesABackupOfAnotherKeyFormat) {
  const std::string backup = TestDir("acceptor_foreign");
  { ASSERT_OK_AND_ASSIGN(auto store, AcceptorStore::Open(backup)); }
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), backup, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), std::string(5, '\xff') + "key_format",
                        "meta_key=9 partition_hash=1")
                    .ok());
  }
  const std::string target = TestDir("acceptor_target") + "/meta";
  EXPECT_THAT(AcceptorStore::RestoreBackup(backup, target),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("meta_key=9")));
  EXPECT_FALSE(std::filesystem::exists(target));
  EXPECT_FALSE(std::filesystem::exists(target + ".restoring"));
}

// A record written by a newer binary (a higher format byte) is refused as such, with a typed
// reason, not reported as corruption or misread.
TEST(AcceptorStoreTest, RecordOfANewerFormatIsRefused) {
  const std::string dir = TestDir("acceptor_newer");
  MetaKey key = BucketRecordKey("photos", 256);
  {
    ASSERT_OK_AND_ASSIGN(auto store, AcceptorStore::Open(dir));
    tessera::v1::CommitRequest c;
    *c.mutable_key() = key;
    *c.mutable_ballot() = B(10);
    *c.mutable_value() = V("v1");
    ASSERT_OK(store->Commit(c).status());
  }
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string record;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), EncodeMetaKey(key), &record).ok());
    record[0] = static_cast<char>(AcceptorStore::kFormatVersion + 1);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), EncodeMetaKey(key), record).ok());
  }
  ASSERT_OK_AND_ASSIGN(auto store, AcceptorStore::Open(dir));
  tessera::v1::ReadRequest read;
  *read.mutable_key() = key;
  absl::StatusOr<tessera::v1::ReadResponse> r = store->Read(read);
  EXPECT_TRUE(IsNewerFormat(r.status())) << r.status();
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kFailedPrecondition,
                          HasSubstr("format version 2, newer than this binary knows (1)")));
}

// A value a newer proposer wrote in a newer format is refused by Accept and Commit (typed), and
// nothing is stored.
TEST(AcceptorStoreTest, ValueOfANewerFormatIsRefused) {
  ASSERT_OK_AND_ASSIGN(auto store, AcceptorStore::Open(TestDir("acceptor_newer_value")));
  MetaKey key = BucketRecordKey("photos", 256);
  tessera::v1::PaxosValue newer = V("from the future");
  newer.set_format_version(2);
  tessera::v1::AcceptRequest accept;
  *accept.mutable_key() = key;
  *accept.mutable_ballot() = B(10);
  *accept.mutable_value() = newer;
  absl::StatusOr<tessera::v1::AcceptResponse> a = store->Accept(accept);
  EXPECT_TRUE(IsNewerFormat(a.status())) << a.status();
  tessera::v1::CommitRequest commit;
  *commit.mutable_key() = key;
  *commit.mutable_ballot() = B(10);
  *commit.mutable_value() = newer;
  absl::StatusOr<tessera::v1::CommitResponse> c = store->Commit(commit);
  EXPECT_TRUE(IsNewerFormat(c.status())) << c.status();
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("PaxosValue")));
  EXPECT_THAT(store->CountRecords(), IsOkAndHolds(0u));
}

TEST(AcceptorStoreTest, ScanReturnsCommittedEntriesOfOneBucketInOrderWithPages) {
  ASSERT_OK_AND_ASSIGN(auto store, AcceptorStore::Open(TestDir("acceptor_scan")));
  auto commit = [&](absl::string_view bucket, absl::string_view obj, bool exists) {
    tessera::v1::CommitRequest c;
    *c.mutable_key() = ObjectEntryKey(bucket, 0, obj, "", 1);
    *c.mutable_ballot() = B(1);
    *c.mutable_value() = V(absl::StrCat("v-", obj), exists);
    ASSERT_OK(store->Commit(c));
  };
  for (int i = 9; i >= 0; --i) commit("photos", absl::StrCat("k", i), /*exists=*/i != 4);
  commit("photo", "k0", true);    // bucket name is a prefix: must not leak into "photos"
  commit("photos2", "k0", true);  // neighbour bucket
  // Accepted-only (uncommitted) keys are not listed.
  tessera::v1::AcceptRequest a;
  *a.mutable_key() = ObjectEntryKey("photos", 0, "k55", "", 1);
  *a.mutable_ballot() = B(2);
  *a.mutable_value() = V("pending");
  ASSERT_OK(store->Accept(a));

  tessera::v1::ScanRequest scan;
  scan.set_partition(0);
  scan.set_table(tessera::v1::META_TABLE_OBJECT);
  scan.set_bucket("photos");
  scan.set_start_key("k2");
  scan.set_end_key("k8");
  scan.set_limit(3);
  std::vector<std::string> seen;
  for (int page = 0; page < 10; ++page) {
    ASSERT_OK_AND_ASSIGN(auto r, store->Scan(scan));
    for (const auto& e : r.entries()) {
      seen.push_back(absl::StrCat(e.key().object_key(), e.value().exists() ? "" : "(deleted)"));
    }
    if (r.next_page_token().empty()) break;
    scan.set_page_token(r.next_page_token());
  }
  EXPECT_THAT(seen, ::testing::ElementsAre("k2", "k3", "k4(deleted)", "k5", "k6", "k7"));

  scan.clear_page_token();
  scan.clear_start_key();
  scan.clear_end_key();
  scan.set_limit(0);
  ASSERT_OK_AND_ASSIGN(auto all, store->Scan(scan));
  EXPECT_EQ(all.entries_size(), 10);
  EXPECT_TRUE(all.next_page_token().empty());

  scan.set_page_token(EncodeBucketPrefix(0, tessera::v1::META_TABLE_OBJECT, "other"));
  EXPECT_THAT(store->Scan(scan), StatusIs(absl::StatusCode::kInvalidArgument));
}

// Pages are bounded by bytes as well as by count: a page of many large entries stops before its
// encoded size passes scan_page_bytes, always holds at least one entry (a single entry larger
// than the budget travels alone), and an entry too large for any response is refused with a
// clear INTERNAL error instead of failing in the transport.
TEST(AcceptorStoreTest, ScanPagesAreBoundedByBytes) {
  AcceptorStoreOptions options;
  options.scan_page_bytes = 10 << 10;
  options.max_response_bytes = 64 << 10;
  ASSERT_OK_AND_ASSIGN(auto store, AcceptorStore::Open(TestDir("acceptor_scan_bytes"), options));
  auto commit = [&](const std::string& obj, size_t size) {
    tessera::v1::CommitRequest c;
    *c.mutable_key() = ObjectEntryKey("b", 0, obj, "", 1);
    *c.mutable_ballot() = B(1);
    *c.mutable_value() = V(std::string(size, 'x'));
    ASSERT_OK(store->Commit(c));
  };
  // 40 entries of 1 KiB, one of 30 KiB (over the page budget), 10 empty ones.
  for (int i = 0; i < 40; ++i) commit(absl::StrFormat("a%03d", i), 1 << 10);
  commit("m", 30 << 10);
  for (int i = 0; i < 10; ++i) commit(absl::StrFormat("z%03d", i), 0);

  for (bool whole : {false, true}) {
    tessera::v1::ScanRequest scan;
    if (whole) {
      scan.set_whole_partition(true);
    } else {
      scan.set_table(tessera::v1::META_TABLE_OBJECT);
      scan.set_bucket("b");
    }
    scan.set_limit(1000);
    std::vector<std::string> seen;
    int pages = 0;
    for (; pages < 100; ++pages) {
      ASSERT_OK_AND_ASSIGN(auto r, store->Scan(scan));
      ASSERT_GE(r.entries_size(), 1);
      if (r.entries_size() > 1) {
        EXPECT_LE(r.ByteSizeLong(), options.scan_page_bytes);
      }
      EXPECT_LE(r.ByteSizeLong(), options.max_response_bytes);
      for (const auto& e : r.entries()) seen.push_back(e.key().object_key());
      if (r.next_page_token().empty()) break;
      scan.set_page_token(r.next_page_token());
    }
    ASSERT_EQ(seen.size(), 51u) << "whole partition: " << whole;
    EXPECT_EQ(seen[40], "m");
    EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
    EXPECT_GE(pages, 5);  // 40 KiB + 30 KiB of values in pages of at most 10 KiB
  }

  // Too large to send in any response: a typed error, not a transport failure.
  commit("n", 80 << 10);
  tessera::v1::ScanRequest scan;
  scan.set_table(tessera::v1::META_TABLE_OBJECT);
  scan.set_bucket("b");
  scan.set_start_key("n");
  EXPECT_THAT(store->Scan(scan), StatusIs(absl::StatusCode::kInternal,
                                          ::testing::HasSubstr("exceeds the largest scan")));
  // Pages before it are unaffected: it is left for the next page.
  scan.set_start_key("m");
  ASSERT_OK_AND_ASSIGN(auto r, store->Scan(scan));
  ASSERT_EQ(r.entries_size(), 1);
  EXPECT_EQ(r.entries(0).key().object_key(), "m");
  EXPECT_FALSE(r.next_page_token().empty());
}

// ---- Compaction (docs/design/metadata.md, "Compaction") ----

constexpr int64_t kNow = int64_t{1'800'000'000} * 1'000'000;  // fake "now", in micros
constexpr int64_t kMinute = 60'000'000;

struct Compactable {
  explicit Compactable(absl::string_view name)
      : clock(absl::FromUnixMicros(kNow)), dir(TestDir(name)) {
    options.clock = &clock;
    options.tombstone_grace = absl::Minutes(10);
    options.sync = false;  // thousands of writes; durability is tested elsewhere
    Reopen();
  }
  void Reopen() {
    store.reset();
    auto s = AcceptorStore::Open(dir, options);
    ASSERT_TRUE(s.ok()) << s.status();
    store = *std::move(s);
  }
  // A full Paxos instance for `key` at ballot t: prepare, accept, commit.
  void Write(const MetaKey& key, int64_t t, const tessera::v1::PaxosValue& v) {
    tessera::v1::PrepareRequest p;
    *p.mutable_key() = key;
    *p.mutable_ballot() = B(t);
    ASSERT_OK_AND_ASSIGN(auto promise, store->Prepare(p));
    ASSERT_TRUE(promise.promised());
    tessera::v1::AcceptRequest a;
    *a.mutable_key() = key;
    *a.mutable_ballot() = B(t);
    *a.mutable_value() = v;
    ASSERT_OK_AND_ASSIGN(auto acc, store->Accept(a));
    ASSERT_TRUE(acc.accepted());
    tessera::v1::CommitRequest c;
    *c.mutable_key() = key;
    *c.mutable_ballot() = B(t);
    *c.mutable_value() = v;
    ASSERT_OK(store->Commit(c));
  }
  // Lists every candidate and purges it (the all-replica confirmation is MetaCompactor's job).
  std::vector<std::string> PurgeAll() {
    std::vector<std::string> purged;
    std::string after;
    do {
      std::string resume;
      auto listed = store->ListPurgeCandidates(after, 7, 50, &resume);
      EXPECT_TRUE(listed.ok()) << listed.status();
      if (!listed.ok()) break;
      for (const PurgeCandidate& c : *listed) {
        auto done = store->PurgeTombstone(c.key, c.committed_ballot);
        EXPECT_TRUE(done.ok() && *done);
        purged.push_back(c.key.object_key());
      }
      after = resume;
    } while (!after.empty());
    return purged;
  }
  uint64_t Count() {
    auto n = store->CountRecords();
    EXPECT_TRUE(n.ok());
    return n.ok() ? *n : 0;
  }

  FakeClock clock;
  std::string dir;
  AcceptorStoreOptions options;
  std::unique_ptr<AcceptorStore> store;
};

MetaKey Obj(absl::string_view key, absl::string_view version = "v") {
  return ObjectEntryKey("bkt", 3, std::string(key), std::string(version), 8);
}

TEST(AcceptorStoreCompactionTest, DropsOldSettledTombstonesAndKeepsWhatPaxosNeeds) {
  Compactable c("compaction_rules");
  c.Write(Obj("old-deleted"), kNow - 30 * kMinute, V("x"));
  c.Write(Obj("old-deleted"), kNow - 20 * kMinute, V("", false));
  c.Write(Obj("old-deleted-2"), kNow - 20 * kMinute, V("", false));
  c.Write(Obj("recent-deleted"), kNow - 1 * kMinute, V("", false));  // inside the grace
  c.Write(Obj("old-live"), kNow - 40 * kMinute, V("live"));
  // Deleted long ago, then an update accepted but never committed: Paxos may still need it.
  c.Write(Obj("accepted"), kNow - 30 * kMinute, V("", false));
  {
    tessera::v1::PrepareRequest p;
    *p.mutable_key() = Obj("accepted");
    *p.mutable_ballot() = B(kNow - 25 * kMinute);
    ASSERT_OK(c.store->Prepare(p));
    tessera::v1::AcceptRequest a;
    *a.mutable_key() = Obj("accepted");
    *a.mutable_ballot() = B(kNow - 25 * kMinute);
    *a.mutable_value() = V("in-progress");
    ASSERT_OK_AND_ASSIGN(auto acc, c.store->Accept(a));
    ASSERT_TRUE(acc.accepted());
  }
  // Deleted long ago, then promised to a recent round: kept until that promise is old too.
  c.Write(Obj("promised"), kNow - 30 * kMinute, V("", false));
  {
    tessera::v1::PrepareRequest p;
    *p.mutable_key() = Obj("promised");
    *p.mutable_ballot() = B(kNow - 2 * kMinute);
    ASSERT_OK(c.store->Prepare(p));
  }
  // The layout record is never a candidate.
  {
    MetaKey layout;
    layout.set_table(tessera::v1::META_TABLE_LAYOUT);
    layout.set_bucket("layout");
    c.Write(layout, kNow - 30 * kMinute, V("", false));
  }
  EXPECT_EQ(c.Count(), 7u);
  EXPECT_THAT(c.PurgeAll(), ::testing::UnorderedElementsAre("old-deleted", "old-deleted-2"));
  EXPECT_EQ(c.Count(), 5u);
  EXPECT_EQ(c.store->purge_floor().wall_micros(), kNow - 20 * kMinute);

  // What was kept still reads as before.
  tessera::v1::ReadRequest read;
  *read.mutable_key() = Obj("accepted");
  ASSERT_OK_AND_ASSIGN(auto r, c.store->Read(read));
  ASSERT_TRUE(r.state().has_accepted());
  EXPECT_EQ(r.state().accepted_value().data(), "in-progress");
  *read.mutable_key() = Obj("recent-deleted");
  ASSERT_OK_AND_ASSIGN(r, c.store->Read(read));
  EXPECT_EQ(r.state().committed_ballot().wall_micros(), kNow - 1 * kMinute);

  // A purged key reads as absent, having promised the floor: a proposer that prepared before
  // the purge (or any ballot at or below the floor) can neither prepare nor accept.
  *read.mutable_key() = Obj("old-deleted");
  ASSERT_OK_AND_ASSIGN(r, c.store->Read(read));
  EXPECT_TRUE(r.state().committed_ballot().proposer().empty());
  EXPECT_EQ(r.state().promised().wall_micros(), kNow - 20 * kMinute);
  tessera::v1::PrepareRequest prepare;
  *prepare.mutable_key() = Obj("old-deleted");
  *prepare.mutable_ballot() = B(kNow - 25 * kMinute);
  ASSERT_OK_AND_ASSIGN(auto promise, c.store->Prepare(prepare));
  EXPECT_FALSE(promise.promised());
  EXPECT_EQ(promise.promised_ballot().wall_micros(), kNow - 20 * kMinute);
  tessera::v1::AcceptRequest accept;
  *accept.mutable_key() = Obj("old-deleted");
  *accept.mutable_ballot() = B(kNow - 20 * kMinute);  // exactly the floor: refused too
  *accept.mutable_value() = V("zombie");
  ASSERT_OK_AND_ASSIGN(auto acc, c.store->Accept(accept));
  EXPECT_FALSE(acc.accepted());
  EXPECT_EQ(c.Count(), 5u);  // refusals write nothing

  // A late commit of the value the deletion superseded is refused: it was observed before the
  // purge (or its observation time is unknown).
  tessera::v1::CommitRequest late;
  *late.mutable_key() = Obj("old-deleted");
  *late.mutable_ballot() = B(kNow - 30 * kMinute);
  *late.mutable_value() = V("x");
  EXPECT_THAT(c.store->Commit(late), StatusIs(absl::StatusCode::kAborted));
  late.set_observed_wall_micros(kNow - 1);
  EXPECT_THAT(c.store->Commit(late), StatusIs(absl::StatusCode::kAborted));
  // A deletion at or below the floor is acknowledged and not written back.
  *late.mutable_value() = V("", false);
  ASSERT_OK(c.store->Commit(late));
  EXPECT_EQ(c.Count(), 5u);
  *read.mutable_key() = Obj("old-deleted");
  ASSERT_OK_AND_ASSIGN(r, c.store->Read(read));
  EXPECT_TRUE(r.state().committed_ballot().proposer().empty());

  // An old-ballot live value observed after the purge (a hand-off copy, a read repair) applies.
  c.clock.Advance(absl::Seconds(5));
  *late.mutable_key() = Obj("old-deleted-2");
  *late.mutable_value() = V("copied");
  late.set_observed_wall_micros(kNow + 4'000'000);
  ASSERT_OK(c.store->Commit(late));
  *read.mutable_key() = Obj("old-deleted-2");
  ASSERT_OK_AND_ASSIGN(r, c.store->Read(read));
  EXPECT_EQ(r.state().committed_value().data(), "copied");

  // A new round (ballot above the floor) works normally on a purged key.
  *prepare.mutable_ballot() = B(kNow);
  ASSERT_OK_AND_ASSIGN(promise, c.store->Prepare(prepare));
  EXPECT_TRUE(promise.promised());

  // The floor survives a restart; after it, every partition counts as purged at the restart.
  c.Reopen();
  EXPECT_EQ(c.store->purge_floor().wall_micros(), kNow - 20 * kMinute);
  *prepare.mutable_key() = Obj("never-written");
  *prepare.mutable_ballot() = B(kNow - 21 * kMinute);
  ASSERT_OK_AND_ASSIGN(promise, c.store->Prepare(prepare));
  EXPECT_FALSE(promise.promised());

  // Purging something that changed since it was listed does nothing.
  EXPECT_THAT(c.store->PurgeTombstone(Obj("recent-deleted"), B(kNow - 1 * kMinute)),
              IsOkAndHolds(false));
  EXPECT_THAT(c.store->PurgeTombstone(Obj("old-live"), B(kNow - 40 * kMinute)),
              IsOkAndHolds(false));
}

// A deletion at or below the floor on a key without a record counts as a purge of its partition
// only when it is a compactor's confirmation. A hand-off that copies a deletion and then a live
// value (observed after the last real purge) used to have the live copy refused, forever: each
// retry's deletion copy moved the partition's purge time again.
TEST(AcceptorStoreCompactionTest, OnlyCompactorConfirmationsCountAsPurges) {
  Compactable c("confirmations");
  c.Write(Obj("a"), kNow - 20 * kMinute, V("", false));
  EXPECT_THAT(c.PurgeAll(), ::testing::ElementsAre("a"));  // at kNow; floor kNow - 20 min
  c.clock.Advance(absl::Seconds(10));
  tessera::v1::CommitRequest del;
  *del.mutable_key() = Obj("b");
  *del.mutable_ballot() = B(kNow - 25 * kMinute);
  *del.mutable_value() = V("", false);
  ASSERT_OK(c.store->Commit(del));  // a hand-off copy or a repair: acknowledged, not written
  tessera::v1::CommitRequest live;
  *live.mutable_key() = Obj("c");
  *live.mutable_ballot() = B(kNow - 30 * kMinute);
  *live.mutable_value() = V("copied");
  live.set_observed_wall_micros(kNow + 5'000'000);  // after the purge, before the copy above
  ASSERT_OK(c.store->Commit(live));
  tessera::v1::ReadRequest read;
  *read.mutable_key() = Obj("c");
  ASSERT_OK_AND_ASSIGN(auto r, c.store->Read(read));
  EXPECT_EQ(r.state().committed_value().data(), "copied");
  // A compactor's confirmation does count: a live value observed before it is refused.
  *del.mutable_key() = Obj("d");
  del.set_purge_confirmation(true);
  ASSERT_OK(c.store->Commit(del));
  *live.mutable_key() = Obj("e");
  EXPECT_THAT(c.store->Commit(live), StatusIs(absl::StatusCode::kAborted));
}

TEST(AcceptorStoreCompactionTest, JoinPartitionsWipesItsPartitionsAndRaisesTheFloor) {
  Compactable c("join_partitions");
  const MetaKey stale = Obj("stale");
  MetaKey other = Obj("other");
  other.set_partition((stale.partition() + 1) % 8);
  c.Write(stale, kNow - kMinute, V("old"));
  c.Write(other, kNow - kMinute, V("kept"));
  tessera::v1::JoinPartitionsRequest join;
  join.add_wipe_partitions(stale.partition());
  *join.mutable_raise_purge_floor() = B(kNow - 5 * kMinute);
  join.set_layout_epoch(2);
  ASSERT_OK_AND_ASSIGN(auto joined, c.store->JoinPartitions(join));
  EXPECT_EQ(joined.records_wiped(), 1u);
  EXPECT_EQ(joined.purge_floor().wall_micros(), kNow - 5 * kMinute);
  tessera::v1::ReadRequest read;
  *read.mutable_key() = stale;
  ASSERT_OK_AND_ASSIGN(auto r, c.store->Read(read));
  EXPECT_FALSE(r.state().has_committed_ballot());
  EXPECT_EQ(r.state().purged_floor().wall_micros(), kNow - 5 * kMinute);
  *read.mutable_key() = other;
  ASSERT_OK_AND_ASSIGN(r, c.store->Read(read));
  EXPECT_EQ(r.state().committed_value().data(), "kept");
  // A wipe of an older epoch than the store knows is refused; the floor never goes down.
  join.set_layout_epoch(1);
  EXPECT_THAT(c.store->JoinPartitions(join),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::HasSubstr("stale")));
  tessera::v1::JoinPartitionsRequest lower;
  *lower.mutable_raise_purge_floor() = B(kNow - 9 * kMinute);
  lower.set_layout_epoch(2);
  ASSERT_OK(c.store->JoinPartitions(lower));
  EXPECT_EQ(c.store->purge_floor().wall_micros(), kNow - 5 * kMinute);
  c.Reopen();  // durable
  EXPECT_EQ(c.store->purge_floor().wall_micros(), kNow - 5 * kMinute);
  EXPECT_EQ(c.Count(), 1u);
}

TEST(AcceptorStoreCompactionTest, ChurnOfCreateAndDeleteStaysBounded) {
  // The same object key written and deleted over and over, each time as a new version (as S3
  // PUT + DELETE of a versioned key do): every version leaves a tombstone. Without purges the
  // store keeps all of them (checked first); with a sweep every 100 cycles it stays bounded by
  // what the grace keeps.
  Compactable c("compaction_churn");
  int64_t t = kNow;
  auto cycle = [&](int i) {
    const std::string version = absl::StrFormat("%08d", i);
    c.Write(Obj("hot", version), t, V(absl::StrCat("data", i)));
    c.Write(Obj("hot", version), t + 1, V("", false));
    t += 2'000'000;  // 2 s per cycle
    c.clock.Advance(absl::Seconds(2));
  };
  for (int i = 0; i < 600; ++i) cycle(i);
  EXPECT_EQ(c.Count(), 600u);  // no compaction: one record per version ever written
  uint64_t most = 0;
  for (int i = 600; i < 3000; ++i) {
    cycle(i);
    if (i % 100 == 0) c.PurgeAll();
    most = std::max(most, c.Count());
  }
  // grace 10 min / 2 s = 300 tombstones inside the grace, + 100 between sweeps.
  EXPECT_LE(most, 420u);
  // A scan of the hot key (what GetLatest does) now walks only those.
  tessera::v1::ScanRequest scan;
  scan.set_partition(Obj("hot").partition());
  scan.set_table(tessera::v1::META_TABLE_OBJECT);
  scan.set_bucket("bkt");
  scan.set_start_key("hot");
  scan.set_end_key(std::string("hot\0", 4));
  scan.set_limit(AcceptorStore::kMaxScanLimit);
  ASSERT_OK_AND_ASSIGN(auto page, c.store->Scan(scan));
  EXPECT_LE(page.entries_size(), 420);
  EXPECT_GE(page.entries_size(), 250);  // the tombstones inside the grace are still there
  EXPECT_TRUE(page.next_page_token().empty());
  ASSERT_OK(c.store->CompactStorage());
}

TEST(AcceptorStoreCompactionTest, ScanPagesAreBoundedByRecordsExamined) {
  // Records that only hold a promise are not entries; a page still stops after examining
  // scan_max_examined of them, with a token to go on from.
  Compactable c("compaction_scan_examined");
  c.options.scan_max_examined = 10;
  c.Reopen();
  for (int i = 0; i < 25; ++i) {
    tessera::v1::PrepareRequest p;
    *p.mutable_key() = Obj(absl::StrFormat("k%02d", i));
    *p.mutable_ballot() = B(kNow);
    ASSERT_OK(c.store->Prepare(p));
  }
  c.Write(Obj("k99"), kNow, V("last"));
  tessera::v1::ScanRequest scan;
  scan.set_partition(Obj("k99").partition());
  scan.set_table(tessera::v1::META_TABLE_OBJECT);
  scan.set_bucket("bkt");
  int pages = 0;
  std::vector<std::string> seen;
  do {
    ASSERT_OK_AND_ASSIGN(auto page, c.store->Scan(scan));
    for (const auto& e : page.entries()) seen.push_back(e.key().object_key());
    scan.set_page_token(page.next_page_token());
    ++pages;
    ASSERT_LT(pages, 10);
  } while (!scan.page_token().empty());
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(seen, ::testing::ElementsAre("k99"));
}

}  // namespace
}  // namespace tessera::services
