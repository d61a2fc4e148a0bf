#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/env.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

class EnvPosixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    ASSERT_NE(tmp, nullptr);
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = absl::StrCat(tmp, "/env_posix_", info->name());
    ASSERT_TRUE(env_->CreateDirs(dir_).ok());
  }
  std::string Path(const std::string& name) { return absl::StrCat(dir_, "/", name); }

  Env* env_ = Env::Default();
  std::string dir_;
};

TEST_F(EnvPosixTest, DefaultIsSingleton) { EXPECT_EQ(Env::Default(), Env::Default()); }

TEST_F(EnvPosixTest, WriteThenReadBack) {
  auto file = env_->NewWritableFile(Path("a"));
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->Append("hello ").ok());
  ASSERT_TRUE((*file)->Append("world").ok());
  EXPECT_EQ((*file)->Size(), 11u);
  ASSERT_TRUE((*file)->Sync().ok());
  ASSERT_TRUE((*file)->Close().ok());
  EXPECT_TRUE((*file)->Close().ok());  // idempotent
  EXPECT_FALSE((*file)->Append("x").ok());

  auto contents = ReadFileToString(env_, Path("a"));
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(*contents, "hello world");
  auto size = env_->FileSize(Path("a"));
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 11u);
}

TEST_F(EnvPosixTest, NewWritableFileTruncates) {
  ASSERT_TRUE(WriteFileAtomically(env_, Path("t"), "long old contents").ok());
  auto file = env_->NewWritableFile(Path("t"));
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->Append("new").ok());
  ASSERT_TRUE((*file)->Close().ok());
  EXPECT_EQ(*ReadFileToString(env_, Path("t")), "new");
}

TEST_F(EnvPosixTest, AppendableFileKeepsContentsAndReportsSize) {
  ASSERT_TRUE(WriteFileAtomically(env_, Path("ap"), "abc").ok());
  auto file = env_->NewAppendableFile(Path("ap"));
  ASSERT_TRUE(file.ok());
  EXPECT_EQ((*file)->Size(), 3u);
  ASSERT_TRUE((*file)->Append("def").ok());
  EXPECT_EQ((*file)->Size(), 6u);
  ASSERT_TRUE((*file)->Close().ok());
  EXPECT_EQ(*ReadFileToString(env_, Path("ap")), "abcdef");

  auto fresh = env_->NewAppendableFile(Path("fresh"));
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ((*fresh)->Size(), 0u);
  EXPECT_TRUE(env_->FileExists(Path("fresh")));
}

TEST_F(EnvPosixTest, RandomAccessReadsAtOffsetsAndShortAtEof) {
  std::string data;
  for (int i = 0; i < 200000; ++i) data.push_back(static_cast<char>('a' + i % 26));
  ASSERT_TRUE(WriteFileAtomically(env_, Path("r"), data).ok());
  auto file = env_->NewRandomAccessFile(Path("r"));
  ASSERT_TRUE(file.ok());
  char buf[16];
  auto n = (*file)->Read(27, 5, buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 5u);
  EXPECT_EQ(std::string(buf, 5), data.substr(27, 5));
  n = (*file)->Read(data.size() - 3, 10, buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 3u);
  EXPECT_EQ(std::string(buf, 3), data.substr(data.size() - 3));
  n = (*file)->Read(data.size() + 100, 10, buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
  auto size = (*file)->Size();
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, data.size());
  EXPECT_EQ(*ReadFileToString(env_, Path("r")), data);
}

TEST_F(EnvPosixTest, ConcurrentReadsOnOneFile) {
  std::string data(100000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  ASSERT_TRUE(WriteFileAtomically(env_, Path("c"), data).ok());
  auto file = env_->NewRandomAccessFile(Path("c"));
  ASSERT_TRUE(file.ok());
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      char buf[100];
      for (size_t off = static_cast<size_t>(t); off + 100 < data.size(); off += 997) {
        auto n = (*file)->Read(off, 100, buf);
        if (!n.ok() || *n != 100 || std::string(buf, 100) != data.substr(off, 100)) {
          ++mismatches[static_cast<size_t>(t)];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

TEST_F(EnvPosixTest, MissingFilesAreNotFoundWithPath) {
  auto file = env_->NewRandomAccessFile(Path("nope"));
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(file.status().message()), HasSubstr(Path("nope")));
  EXPECT_EQ(env_->DeleteFile(Path("nope")).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(env_->FileSize(Path("nope")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(env_->RenameFile(Path("nope"), Path("x")).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(env_->ListDir(Path("nodir")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadFileToString(env_, Path("nope")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(env_->FileExists(Path("nope")));
  EXPECT_EQ(env_->NewWritableFile(Path("nodir/f")).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EnvPosixTest, ReadingADirectoryFails) {
  auto file = env_->NewRandomAccessFile(dir_);
  EXPECT_FALSE(file.ok());
}

TEST_F(EnvPosixTest, RenameReplacesAndDeleteRemoves) {
  ASSERT_TRUE(WriteFileAtomically(env_, Path("from"), "new").ok());
  ASSERT_TRUE(WriteFileAtomically(env_, Path("to"), "old").ok());
  ASSERT_TRUE(env_->RenameFile(Path("from"), Path("to")).ok());
  EXPECT_FALSE(env_->FileExists(Path("from")));
  EXPECT_EQ(*ReadFileToString(env_, Path("to")), "new");
  ASSERT_TRUE(env_->DeleteFile(Path("to")).ok());
  EXPECT_FALSE(env_->FileExists(Path("to")));
}

TEST_F(EnvPosixTest, DirectoriesCreateListSyncDelete) {
  const std::string nested = Path("x/y/z");
  ASSERT_TRUE(env_->CreateDirs(nested).ok());
  ASSERT_TRUE(env_->CreateDirs(nested).ok());  // already exists: OK
  EXPECT_TRUE(env_->FileExists(nested));
  ASSERT_TRUE(WriteFileAtomically(env_, nested + "/f1", "1").ok());
  ASSERT_TRUE(WriteFileAtomically(env_, nested + "/f2", "2").ok());
  ASSERT_TRUE(env_->CreateDirs(nested + "/sub").ok());
  auto names = env_->ListDir(nested);
  ASSERT_TRUE(names.ok());
  EXPECT_THAT(*names, UnorderedElementsAre("f1", "f2", "sub"));
  EXPECT_TRUE(env_->SyncDir(nested).ok());
  EXPECT_EQ(env_->SyncDir(Path("missing")).code(), absl::StatusCode::kNotFound);
  // Non-empty directory cannot be removed.
  EXPECT_FALSE(env_->DeleteDir(nested).ok());
  ASSERT_TRUE(env_->DeleteDir(nested + "/sub").ok());
  EXPECT_FALSE(env_->FileExists(nested + "/sub"));
  // A path that is a file cannot become a directory.
  EXPECT_FALSE(env_->CreateDirs(nested + "/f1").ok());
}

TEST_F(EnvPosixTest, WriteFileAtomicallyReplacesAndLeavesNoTemp) {
  ASSERT_TRUE(WriteFileAtomically(env_, Path("w"), "first").ok());
  ASSERT_TRUE(WriteFileAtomically(env_, Path("w"), "second, longer").ok());
  EXPECT_EQ(*ReadFileToString(env_, Path("w")), "second, longer");
  ASSERT_TRUE(WriteFileAtomically(env_, Path("empty"), "").ok());
  EXPECT_EQ(*ReadFileToString(env_, Path("empty")), "");
  auto names = env_->ListDir(dir_);
  ASSERT_TRUE(names.ok());
  EXPECT_THAT(*names, UnorderedElementsAre("w", "empty"));
}

TEST_F(EnvPosixTest, WriteFileAtomicallyIntoMissingDirFails) {
  absl::Status s = WriteFileAtomically(env_, Path("no/such/dir/f"), "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("no/such/dir/f"));
}

TEST_F(EnvPosixTest, PermissionErrorsNameThePath) {
  if (::geteuid() == 0) GTEST_SKIP() << "root bypasses permission checks";
  ASSERT_TRUE(env_->CreateDirs(Path("ro")).ok());
  ASSERT_EQ(::chmod(Path("ro").c_str(), 0500), 0);
  auto file = env_->NewWritableFile(Path("ro/f"));
  EXPECT_EQ(file.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("ro/f"));
  ::chmod(Path("ro").c_str(), 0700);
}

TEST_F(EnvPosixTest, DiskSpaceIsPlausible) {
  auto space = env_->GetDiskSpace(dir_);
  ASSERT_TRUE(space.ok()) << space.status();
  EXPECT_GT(space->capacity_bytes, 0u);
  EXPECT_LE(space->free_bytes, space->capacity_bytes);
  EXPECT_EQ(env_->GetDiskSpace(Path("missing")).status().code(), absl::StatusCode::kNotFound);
}

// /dev/full reports ENOSPC on every write: the real disk-full path.
TEST_F(EnvPosixTest, DiskFullIsResourceExhausted) {
  if (!env_->FileExists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  auto file = env_->NewAppendableFile("/dev/full");
  if (!file.ok()) GTEST_SKIP() << file.status();
  absl::Status s = (*file)->Append("data");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("/dev/full"));
}

}  // namespace
}  // namespace tessera
