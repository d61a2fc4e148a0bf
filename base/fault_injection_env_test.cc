#include "base/fault_injection_env.h"

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/env.h"
#include "base/testing/status_matchers.h"
#include "base/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

class FaultInjectionEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::tessera::testing::UniqueTestDir(absl::StrCat(
        "fault_env_", ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    env_ = std::make_unique<FaultInjectionEnv>(Env::Default());
  }

  std::string Path(const std::string& name) const { return absl::StrCat(dir_, "/", name); }

  // Creates `name` with `synced` then `unsynced` appended, syncing after the first part only.
  void WriteFile(const std::string& name, const std::string& synced,
                 const std::string& unsynced = "") {
    ASSERT_OK_AND_ASSIGN(auto file, env_->NewWritableFile(Path(name)));
    ASSERT_OK(file->Append(synced));
    ASSERT_OK(file->Sync());
    if (!unsynced.empty()) ASSERT_OK(file->Append(unsynced));
    ASSERT_OK(file->Close());
  }

  std::string Contents(const std::string& name) {
    absl::StatusOr<std::string> s = ReadFileToString(Env::Default(), Path(name));
    return s.ok() ? *s : absl::StrCat("<", s.status().ToString(), ">");
  }

  std::string dir_;
  std::unique_ptr<FaultInjectionEnv> env_;
};

TEST_F(FaultInjectionEnvTest, PassesThroughWhenNoFaults) {
  WriteFile("a", "hello", " world");
  EXPECT_EQ(Contents("a"), "hello world");
  EXPECT_THAT(ReadFileToString(env_.get(), Path("a")), IsOkAndHolds("hello world"));
  EXPECT_THAT(env_->FileSize(Path("a")), IsOkAndHolds(11u));
  EXPECT_THAT(env_->ListDir(dir_), IsOkAndHolds(ElementsAre("a")));
  EXPECT_TRUE(env_->FileExists(Path("a")));
  EXPECT_THAT(env_->NewRandomAccessFile(Path("missing")), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(env_->DeleteFile(Path("missing")), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(env_->RenameFile(Path("missing"), Path("b")), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(env_->base(), Env::Default());
}

TEST_F(FaultInjectionEnvTest, CrashTruncatesToLastSync) {
  WriteFile("f", "durable", "-lost");
  ASSERT_OK(env_->SyncDir(dir_));
  EXPECT_THAT(env_->UnsyncedFiles(), ElementsAre(Path("f")));
  EXPECT_EQ(env_->SyncedSize(Path("f")), 7u);
  ASSERT_OK(env_->DropUnsyncedData());
  EXPECT_EQ(Contents("f"), "durable");
  EXPECT_THAT(env_->UnsyncedFiles(), IsEmpty());
}

TEST_F(FaultInjectionEnvTest, NeverSyncedFileLosesEverything) {
  ASSERT_OK_AND_ASSIGN(auto file, env_->NewWritableFile(Path("f")));
  ASSERT_OK(file->Append("nothing synced"));
  ASSERT_OK(env_->SyncDir(dir_));  // the entry is durable, the data is not
  ASSERT_OK(env_->DropUnsyncedData());
  EXPECT_EQ(Contents("f"), "");
}

TEST_F(FaultInjectionEnvTest, CreationWithoutDirSyncIsUndone) {
  WriteFile("new", "synced data");  // file synced, directory not
  EXPECT_EQ(env_->PendingDirOps(), 1u);
  ASSERT_OK(env_->DropUnsyncedData());
  EXPECT_FALSE(Env::Default()->FileExists(Path("new")));
  EXPECT_EQ(env_->SyncedSize(Path("new")), std::nullopt);

  WriteFile("kept", "synced data");
  ASSERT_OK(env_->SyncDir(dir_ + "/"));  // trailing slash is normalised
  EXPECT_EQ(env_->PendingDirOps(), 0u);
  ASSERT_OK(env_->DropUnsyncedData());
  EXPECT_EQ(Contents("kept"), "synced data");
}

TEST_F(FaultInjectionEnvTest, SyncDirOfAnotherDirectoryDoesNotHelp) {
  ASSERT_OK(env_->CreateDirs(Path("other")));
  WriteFile("f", "x");
  ASSERT_OK(env_->SyncDir(Path("other")));
  ASSERT_OK(env_->DropUnsyncedData());
  EXPECT_FALSE(Env::Default()->FileExists(Path("f")));
}

TEST_F(FaultInjectionEnvTest, UnsyncedRenameIsUndoneAndReplacedFileRestored) {
  WriteFile("target", "old");
  WriteFile("tmp", "new");
  ASSERT_OK(env_->SyncDir(dir_));
  ASSERT_OK(env_->RenameFile(Path("tmp"), Path("target")));
  EXPECT_EQ(Contents("target"), "new");
  ASSERT_OK(env_->DropUnsyncedData());
  EXPECT_EQ(Contents("target"), "old");
  EXPECT_EQ(Contents("tmp"), "new");
  EXPECT_EQ(env_->SyncedSize(Path("target")), 3u);
}

TEST_F(FaultInjectionEnvTest, SyncedRenameSurvives) {
  WriteFile("target", "old");
  WriteFile("tmp", "new");
  ASSERT_OK(env_->SyncDir(dir_));
  ASSERT_OK(env_->RenameFile(Path("tmp"), Path("target")));
  ASSERT_OK(env_->SyncDir(dir_));
  ASSERT_OK(env_->DropUnsyncedData());
  EXPECT_EQ(Contents("target"), "new");
  EXPECT_FALSE(Env::Default()->FileExists(Path("tmp")));
}

TEST_F(FaultInjectionEnvTest, CrossDirectoryRenameNeedsBothDirsSynced) {
  ASSERT_OK(env_->CreateDirs(Path("d2")));
  WriteFile("src", "data");
  ASSERT_OK(env_->SyncDir(dir_));
  ASSERT_OK(env_->RenameFile(Path("src"), Path("d2/dst")));
  ASSERT_OK(env_->SyncDir(Path("d2")));
  EXPECT_EQ(env_->PendingDirOps(), 1u);
  ASSERT_OK(env_->DropUnsyncedData());
  EXPECT_EQ(Contents("src"), "data");
  EXPECT_FALSE(Env::Default()->FileExists(Path("d2/dst")));

  ASSERT_OK(env_->RenameFile(Path("src"), Path("d2/dst")));
  ASSERT_OK(env_->SyncDir(Path("d2")));
  ASSERT_OK(env_->SyncDir(dir_));
  EXPECT_EQ(env_->PendingDirOps(), 0u);
  ASSERT_OK(env_->DropUnsyncedData());
  EXPECT_EQ(Contents("d2/dst"), "data");
}

TEST_F(FaultInjectionEnvTest, WriteFileAtomicallyIsCrashSafe) {
  ASSERT_OK(WriteFileAtomically(env_.get(), Path("cfg"), "v1"));
  ASSERT_OK(env_->DropUnsyncedData());
  EXPECT_EQ(Contents("cfg"), "v1");
  ASSERT_OK(WriteFileAtomically(env_.get(), Path("cfg"), "v2"));
  ASSERT_OK(env_->DropUnsyncedData());
  EXPECT_EQ(Contents("cfg"), "v2");
  EXPECT_THAT(env_->ListDir(dir_), IsOkAndHolds(ElementsAre("cfg")));
}

// Crash in the middle of WriteFileAtomically (the SyncDir fails): old or new, never a mix.
TEST_F(FaultInjectionEnvTest, WriteFileAtomicallyInterruptedKeepsOldContents) {
  ASSERT_OK(WriteFileAtomically(env_.get(), Path("cfg"), "old contents"));
  env_->FailNthCall(1, absl::UnavailableError("power cut"), Mask(OpKind::kSyncDir));
  EXPECT_THAT(WriteFileAtomically(env_.get(), Path("cfg"), "new"),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("power cut")));
  ASSERT_OK(env_->DropUnsyncedData());
  EXPECT_EQ(Contents("cfg"), "old contents");
  EXPECT_THAT(env_->ListDir(dir_), IsOkAndHolds(ElementsAre("cfg")));
}

TEST_F(FaultInjectionEnvTest, UnsyncedDeleteIsUndoneWithDurableContents) {
  WriteFile("f", "keep", "+tail");
  ASSERT_OK(env_->SyncDir(dir_));
  ASSERT_OK(env_->DeleteFile(Path("f")));
  EXPECT_FALSE(Env::Default()->FileExists(Path("f")));
  ASSERT_OK(env_->DropUnsyncedData());
  EXPECT_EQ(Contents("f"), "keep");

  ASSERT_OK(env_->DeleteFile(Path("f")));
  ASSERT_OK(env_->SyncDir(dir_));
  ASSERT_OK(env_->DropUnsyncedData());
  EXPECT_FALSE(Env::Default()->FileExists(Path("f")));
}

TEST_F(FaultInjectionEnvTest, DeleteThenRecreateUnsyncedRestoresOriginal) {
  WriteFile("f", "original");
  ASSERT_OK(env_->SyncDir(dir_));
  ASSERT_OK(env_->DeleteFile(Path("f")));
  WriteFile("f", "replacement");
  ASSERT_OK(env_->DropUnsyncedData());
  EXPECT_EQ(Contents("f"), "original");
}

TEST_F(FaultInjectionEnvTest, UntrackedFilesCountAsDurable) {
  ASSERT_OK(WriteFileAtomically(Env::Default(), Path("pre"), "existing"));
  ASSERT_OK_AND_ASSIGN(auto file, env_->NewAppendableFile(Path("pre")));
  EXPECT_EQ(file->Size(), 8u);
  ASSERT_OK(file->Append("+more"));
  EXPECT_EQ(env_->SyncedSize(Path("pre")), 8u);
  ASSERT_OK(env_->DropUnsyncedData());
  EXPECT_EQ(Contents("pre"), "existing");
}

TEST_F(FaultInjectionEnvTest, TruncatingAnExistingFileIsDurable) {
  WriteFile("f", "old data");
  ASSERT_OK(env_->SyncDir(dir_));
  ASSERT_OK_AND_ASSIGN(auto file, env_->NewWritableFile(Path("f")));
  ASSERT_OK(file->Append("unsynced"));
  ASSERT_OK(env_->DropUnsyncedData());
  EXPECT_EQ(Contents("f"), "");
}

TEST_F(FaultInjectionEnvTest, HandlesFromBeforeACrashAreDead) {
  ASSERT_OK_AND_ASSIGN(auto file, env_->NewWritableFile(Path("f")));
  ASSERT_OK(env_->SyncDir(dir_));
  ASSERT_OK(env_->DropUnsyncedData());
  EXPECT_THAT(file->Append("x"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(file->Sync(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_OK(file->Close());
  ASSERT_OK_AND_ASSIGN(auto reopened, env_->NewAppendableFile(Path("f")));
  EXPECT_OK(reopened->Append("y"));
}

TEST_F(FaultInjectionEnvTest, MarkAllDurable) {
  WriteFile("f", "a", "b");
  env_->MarkAllDurable();
  EXPECT_EQ(env_->PendingDirOps(), 0u);
  ASSERT_OK(env_->DropUnsyncedData());
  EXPECT_EQ(Contents("f"), "ab");
}

TEST_F(FaultInjectionEnvTest, FailNthCallFailsOnceAndOnlyMatchingKinds) {
  env_->FailNthCall(2, absl::DataLossError("injected"), Mask(OpKind::kSync));
  ASSERT_OK_AND_ASSIGN(auto file, env_->NewWritableFile(Path("f")));
  ASSERT_OK(file->Append("1"));
  ASSERT_OK(file->Sync());  // 1st Sync
  ASSERT_OK(file->Append("2"));
  EXPECT_THAT(file->Sync(), StatusIs(absl::StatusCode::kDataLoss, "injected"));  // 2nd
  EXPECT_EQ(env_->SyncedSize(Path("f")), 1u);  // a failed Sync does not make data durable
  ASSERT_OK(file->Sync());                     // 3rd: rule used up
  EXPECT_EQ(env_->SyncedSize(Path("f")), 2u);
  EXPECT_EQ(env_->counters().injected_failures, 1u);
}

TEST_F(FaultInjectionEnvTest, FailNthCallDefaultCountsAllMutations) {
  env_->FailNthCall(3, absl::InternalError("third"));
  ASSERT_OK_AND_ASSIGN(auto file, env_->NewWritableFile(Path("f")));                   // 1
  ASSERT_OK(file->Append("a"));                                                        // 2
  EXPECT_THAT(env_->NewRandomAccessFile(Path("f")), StatusIs(absl::StatusCode::kOk));  // read
  EXPECT_THAT(file->Append("b"), StatusIs(absl::StatusCode::kInternal));               // 3
  EXPECT_EQ(file->Size(), 1u);  // a failed Append writes nothing
}

TEST_F(FaultInjectionEnvTest, FailNthCallCanTargetReads) {
  WriteFile("f", "abc");
  env_->FailNthCall(1, absl::DataLossError("EIO"), Mask(OpKind::kRead));
  ASSERT_OK_AND_ASSIGN(auto file, env_->NewRandomAccessFile(Path("f")));
  char buf[3];
  EXPECT_THAT(file->Read(0, 3, buf), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(file->Read(0, 3, buf), IsOkAndHolds(3u));
}

TEST_F(FaultInjectionEnvTest, FailAfterCallsFailsUntilCleared) {
  env_->FailAfterCalls(2, absl::UnavailableError("dead disk"));
  ASSERT_OK(env_->CreateDirs(Path("a")));
  ASSERT_OK(env_->CreateDirs(Path("b")));
  EXPECT_THAT(env_->CreateDirs(Path("c")), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(env_->SyncDir(dir_), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(env_->NewWritableFile(Path("f")).status(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_FALSE(Env::Default()->FileExists(Path("c")));
  EXPECT_FALSE(Env::Default()->FileExists(Path("f")));
  env_->ClearFaults();
  EXPECT_OK(env_->CreateDirs(Path("c")));
  EXPECT_EQ(env_->counters().injected_failures, 3u);
}

TEST_F(FaultInjectionEnvTest, DiskFull) {
  ASSERT_OK_AND_ASSIGN(auto file, env_->NewWritableFile(Path("f")));
  env_->SetDiskFull(true);
  EXPECT_THAT(file->Append("x"), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(env_->NewWritableFile(Path("g")).status(),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(env_->NewAppendableFile(Path("f")).status(),
              StatusIs(absl::StatusCode::kResourceExhausted));
  ASSERT_OK_AND_ASSIGN(DiskSpace space, env_->GetDiskSpace(dir_));
  EXPECT_EQ(space.free_bytes, 0u);
  EXPECT_OK(env_->DeleteFile(Path("f")));  // freeing space still works
  env_->SetDiskFull(false);
  EXPECT_OK(env_->NewWritableFile(Path("g")).status());
}

TEST_F(FaultInjectionEnvTest, WriteBudgetWritesPrefixThenFails) {
  env_->SetWriteBudget(5);
  ASSERT_OK_AND_ASSIGN(DiskSpace space, env_->GetDiskSpace(dir_));
  EXPECT_EQ(space.free_bytes, 5u);
  ASSERT_OK_AND_ASSIGN(auto file, env_->NewWritableFile(Path("f")));
  ASSERT_OK(file->Append("abc"));
  EXPECT_THAT(file->Append("defg"),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("wrote 2 of 4")));
  EXPECT_EQ(file->Size(), 5u);
  EXPECT_THAT(file->Append("z"), StatusIs(absl::StatusCode::kResourceExhausted));
  ASSERT_OK(file->Close());
  EXPECT_EQ(Contents("f"), "abcde");
  env_->SetWriteBudget(std::nullopt);
  ASSERT_OK_AND_ASSIGN(auto again, env_->NewAppendableFile(Path("f")));
  EXPECT_OK(again->Append("more"));
}

TEST_F(FaultInjectionEnvTest, InactiveFilesystemRejectsWritesButAllowsReads) {
  WriteFile("f", "data");
  ASSERT_OK_AND_ASSIGN(auto file, env_->NewAppendableFile(Path("f")));
  env_->SetFilesystemActive(false);
  EXPECT_FALSE(env_->IsFilesystemActive());
  EXPECT_THAT(file->Append("x"), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(file->Sync(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(env_->NewWritableFile(Path("g")).status(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(env_->RenameFile(Path("f"), Path("h")), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(env_->DeleteFile(Path("f")), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(env_->SyncDir(dir_), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(env_->CreateDirs(Path("d")), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(ReadFileToString(env_.get(), Path("f")), IsOkAndHolds("data"));
  // The crash itself works while inactive: f's creation was never dir-synced.
  ASSERT_OK(env_->DropUnsyncedData());
  EXPECT_FALSE(Env::Default()->FileExists(Path("f")));
  env_->SetFilesystemActive(true);
  EXPECT_OK(env_->NewWritableFile(Path("g")).status());
}

TEST_F(FaultInjectionEnvTest, FlipBitCorruptsExactlyOneBit) {
  WriteFile("f", std::string("\x00\x10\xff", 3));
  ASSERT_OK(env_->FlipBit(Path("f"), 1, 4));
  EXPECT_EQ(Contents("f"), std::string("\x00\x00\xff", 3));
  ASSERT_OK(env_->FlipBit(Path("f"), 2, 7));
  EXPECT_EQ(Contents("f"), std::string("\x00\x00\x7f", 3));
  EXPECT_THAT(env_->FlipBit(Path("f"), 3, 0), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(env_->FlipBit(Path("f"), 0, 8), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(env_->FlipBit(Path("missing"), 0, 0), StatusIs(absl::StatusCode::kNotFound));
  // Corruption does not change sync tracking.
  EXPECT_EQ(env_->SyncedSize(Path("f")), 3u);
}

TEST_F(FaultInjectionEnvTest, WriteAtOverwritesInPlace) {
  WriteFile("f", "0123456789");
  ASSERT_OK_AND_ASSIGN(auto reader, env_->NewRandomAccessFile(Path("f")));
  ASSERT_OK(env_->WriteAt(Path("f"), 3, "XYZ"));
  char buf[10];
  EXPECT_THAT(reader->Read(0, 10, buf), IsOkAndHolds(10u));
  EXPECT_EQ(std::string(buf, 10), "012XYZ6789");  // an open reader sees it too
  EXPECT_THAT(env_->WriteAt(Path("f"), 8, "abc"), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST_F(FaultInjectionEnvTest, HookSelectsCallsByPath) {
  std::vector<std::string> seen;
  env_->SetHook([&seen](OpKind op, const std::string& path) -> absl::Status {
    seen.push_back(absl::StrCat(OpKindName(op), ":", path.substr(path.rfind('/') + 1)));
    if (op == OpKind::kSync && absl::EndsWith(path, ".sst")) {
      return absl::DataLossError("sst sync failed");
    }
    return absl::OkStatus();
  });
  ASSERT_OK_AND_ASSIGN(auto log, env_->NewWritableFile(Path("000001.log")));
  ASSERT_OK_AND_ASSIGN(auto sst, env_->NewWritableFile(Path("000002.sst")));
  EXPECT_OK(log->Sync());
  EXPECT_THAT(sst->Sync(), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(seen, ElementsAre("NewWritableFile:000001.log", "NewWritableFile:000002.sst",
                                "Sync:000001.log", "Sync:000002.sst"));
  env_->SetHook(nullptr);
  EXPECT_OK(sst->Sync());
}

TEST_F(FaultInjectionEnvTest, HookMayCallBackIntoTheEnv) {
  env_->SetHook([this](OpKind op, const std::string&) -> absl::Status {
    if (op == OpKind::kSyncDir) (void)env_->FileExists(dir_);  // must not deadlock
    return absl::OkStatus();
  });
  EXPECT_OK(env_->SyncDir(dir_));
}

TEST_F(FaultInjectionEnvTest, CountersCountOperations) {
  WriteFile("f", "abc", "de");  // 1 create, 2 appends, 1 sync
  ASSERT_OK(env_->SyncDir(dir_));
  ASSERT_OK(env_->RenameFile(Path("f"), Path("g")));
  ASSERT_OK(env_->DeleteFile(Path("g")));
  ASSERT_OK(env_->DropUnsyncedData());
  FaultInjectionCounters c = env_->counters();
  EXPECT_EQ(c.new_writable_files, 1u);
  EXPECT_EQ(c.appends, 2u);
  EXPECT_EQ(c.bytes_appended, 5u);
  EXPECT_EQ(c.syncs, 1u);
  EXPECT_EQ(c.sync_dirs, 1u);
  EXPECT_EQ(c.renames, 1u);
  EXPECT_EQ(c.deletes, 1u);
  EXPECT_EQ(c.crashes, 1u);
  EXPECT_EQ(c.injected_failures, 0u);
  // Delete and rename are undone, data cut to the synced prefix.
  EXPECT_EQ(Contents("f"), "abc");
  env_->ResetCounters();
  EXPECT_EQ(env_->counters().appends, 0u);
}

TEST_F(FaultInjectionEnvTest, ConcurrentWritersThenCrashKeepSyncedData) {
  constexpr int kThreads = 4;
  constexpr int kRecords = 50;
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &results] {
      absl::Status s = [&]() -> absl::Status {
        auto file = env_->NewWritableFile(Path(absl::StrCat("w", t)));
        if (!file.ok()) return file.status();
        for (int i = 0; i < kRecords; ++i) {
          absl::Status st = (*file)->Append(absl::StrCat("r", i, ";"));
          if (!st.ok()) return st;
          if (i % 2 == 1) {  // sync after every odd record
            st = (*file)->Sync();
            if (!st.ok()) return st;
          }
        }
        return (*file)->Append("unsynced-tail");
      }();
      results[static_cast<size_t>(t)] = s;
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& s : results) ASSERT_OK(s);
  ASSERT_OK(env_->SyncDir(dir_));
  ASSERT_OK(env_->DropUnsyncedData());
  std::string expected;
  for (int i = 0; i < kRecords; ++i) expected += absl::StrCat("r", i, ";");
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(Contents(absl::StrCat("w", t)), expected);
  EXPECT_THAT(env_->ListDir(dir_), IsOkAndHolds(UnorderedElementsAre("w0", "w1", "w2", "w3")));
}

}  // namespace
}  // namespace tessera
