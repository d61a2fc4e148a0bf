#include "p2p/auth/cluster_secret.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace tessera::p2p {
namespace {

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

void WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  ::unlink(path.c_str());
  std::ofstream(path) << text;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

TEST(ClusterSecretTest, GenerateCreates0600HexFileAndNeverOverwrites) {
  const std::string path = TempPath("gen.secret");
  ::unlink(path.c_str());
  ASSERT_OK(ClusterSecret::Generate(path));
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 65);  // 64 hex + newline
  ASSERT_OK_AND_ASSIGN(ClusterSecret a, ClusterSecret::Load(path));
  EXPECT_EQ(ClusterSecret::Generate(path).code(), absl::StatusCode::kAlreadyExists);
  ASSERT_OK_AND_ASSIGN(ClusterSecret b, ClusterSecret::Load(path));
  EXPECT_EQ(a.DeriveKey("x"), b.DeriveKey("x"));
}

TEST(ClusterSecretTest, TwoGeneratedSecretsDiffer) {
  const std::string p1 = TempPath("s1.secret"), p2 = TempPath("s2.secret");
  ::unlink(p1.c_str());
  ::unlink(p2.c_str());
  ASSERT_OK(ClusterSecret::Generate(p1));
  ASSERT_OK(ClusterSecret::Generate(p2));
  ASSERT_OK_AND_ASSIGN(ClusterSecret a, ClusterSecret::Load(p1));
  ASSERT_OK_AND_ASSIGN(ClusterSecret b, ClusterSecret::Load(p2));
  EXPECT_NE(a.DeriveKey("rpc-token"), b.DeriveKey("rpc-token"));
}

TEST(ClusterSecretTest, LoadRefusesGroupOrOtherAccess) {
  const std::string path = TempPath("open.secret");
  WriteFile(path, std::string(64, 'a') + "\n", 0640);
  absl::StatusOr<ClusterSecret> s = ClusterSecret::Load(path);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.status().message().find("chmod 600"), std::string::npos);
  WriteFile(path, std::string(64, 'a') + "\n", 0604);
  EXPECT_EQ(ClusterSecret::Load(path).status().code(), absl::StatusCode::kPermissionDenied);
  WriteFile(path, std::string(64, 'a') + "\n", 0600);
  EXPECT_OK(ClusterSecret::Load(path).status());
}

TEST(ClusterSecretTest, LoadRejectsMalformedAndMissing) {
  const std::string path = TempPath("bad.secret");
  for (const std::string& text :
       {std::string(63, 'a'), std::string(66, 'a'), std::string(63, 'a') + "g", std::string(""),
        std::string(64, 'a') + "\n\n"}) {
    WriteFile(path, text, 0600);
    EXPECT_EQ(ClusterSecret::Load(path).status().code(), absl::StatusCode::kDataLoss) << text;
  }
  WriteFile(path, std::string(64, 'A'), 0600);  // no newline, upper case: fine
  EXPECT_OK(ClusterSecret::Load(path).status());
  EXPECT_EQ(ClusterSecret::Load(TempPath("none.secret")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ClusterSecretTest, DerivedKeysArePerPurposeAndPerSecret) {
  ASSERT_OK_AND_ASSIGN(ClusterSecret a, ClusterSecret::FromBytes(std::string(32, '\x01')));
  ASSERT_OK_AND_ASSIGN(ClusterSecret b, ClusterSecret::FromBytes(std::string(32, '\x02')));
  EXPECT_EQ(a.DeriveKey("rpc-token").size(), 32u);
  EXPECT_NE(a.DeriveKey("rpc-token"), a.DeriveKey("gossip"));
  EXPECT_NE(a.DeriveKey("rpc-token"), b.DeriveKey("rpc-token"));
  EXPECT_EQ(ClusterSecret::FromBytes("short").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera::p2p
