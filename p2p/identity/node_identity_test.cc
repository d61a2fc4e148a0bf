#include "p2p/identity/node_identity.h"

#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/env.h"
#include "base/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace tessera::p2p {
namespace {

std::string TestDir(const std::string& name) {
  return ::tessera::testing::UniqueTestDir("identity_" + name);  // fresh per call and repetition
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return st.st_mode & 0777;
}

TEST(NodeIdentityTest, NodeIdIsHexOfBlake2bPrefix) {
  auto id = NodeIdentity::Generate();
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ((*id)->public_key().size(), NodeIdentity::kPublicKeySize);
  EXPECT_EQ((*id)->node_id().size(), 2 * NodeIdentity::kNodeIdBytes);
  EXPECT_EQ((*id)->node_id().find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ((*id)->node_id(), NodeIdFromPublicKey((*id)->public_key()));
  EXPECT_EQ(NodeIdFromPublicKey("short"), "");
}

TEST(NodeIdentityTest, KnownVectorForNodeId) {
  // BLAKE2b-256 of 32 zero bytes starts with 89eb0d6a8a691dae2cd15ed0369931ce (RFC 7693 impl).
  EXPECT_EQ(NodeIdFromPublicKey(std::string(32, '\0')), "89eb0d6a8a691dae2cd15ed0369931ce");
}

TEST(NodeIdentityTest, TwoKeypairsDiffer) {
  auto a = NodeIdentity::Generate();
  auto b = NodeIdentity::Generate();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE((*a)->node_id(), (*b)->node_id());
}

TEST(NodeIdentityTest, SignAndVerify) {
  auto id = NodeIdentity::Generate();
  ASSERT_TRUE(id.ok());
  const std::string sig = (*id)->Sign("membership record v1");
  EXPECT_EQ(sig.size(), NodeIdentity::kSignatureSize);
  EXPECT_TRUE(VerifySignature((*id)->public_key(), "membership record v1", sig).ok());
  EXPECT_EQ(VerifySignature((*id)->public_key(), "membership record v2", sig).code(),
            absl::StatusCode::kUnauthenticated);
  std::string bad = sig;
  bad[10] ^= 1;
  EXPECT_EQ(VerifySignature((*id)->public_key(), "membership record v1", bad).code(),
            absl::StatusCode::kUnauthenticated);
  auto other = NodeIdentity::Generate();
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(VerifySignature((*other)->public_key(), "membership record v1", sig).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(VerifySignature("short", "m", sig).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifySignature((*id)->public_key(), "m", "short").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(NodeIdentityTest, LoadOrCreatePersistsAndReloadsSameIdentity) {
  const std::string path = TestDir("persist") + "/node.key";
  auto first = NodeIdentity::LoadOrCreate(Env::Default(), path);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(ModeOf(path), 0600u);
  auto size = Env::Default()->FileSize(path);
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, NodeIdentity::kKeyFileSize);

  auto second = NodeIdentity::LoadOrCreate(Env::Default(), path);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ((*second)->node_id(), (*first)->node_id());
  EXPECT_EQ((*second)->public_key(), (*first)->public_key());
  // The reloaded secret key signs verifiably for the original public key.
  EXPECT_TRUE(VerifySignature((*first)->public_key(), "x", (*second)->Sign("x")).ok());
}

TEST(NodeIdentityTest, LoadMissingIsNotFound) {
  auto id = NodeIdentity::Load(Env::Default(), TestDir("missing") + "/node.key");
  EXPECT_EQ(id.status().code(), absl::StatusCode::kNotFound);
}

TEST(NodeIdentityTest, RefusesGroupReadableKeyFile) {
  const std::string path = TestDir("perm") + "/node.key";
  ASSERT_TRUE(NodeIdentity::LoadOrCreate(Env::Default(), path).ok());
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  auto id = NodeIdentity::LoadOrCreate(Env::Default(), path);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(id.status().message().find("chmod 600"), absl::string_view::npos);
  // LoadOrCreate must not have replaced the file.
  EXPECT_EQ(ModeOf(path), 0640u);
}

TEST(NodeIdentityTest, RejectsCorruptOrForeignFiles) {
  const std::string dir = TestDir("corrupt");
  const std::string path = dir + "/node.key";
  ASSERT_TRUE(NodeIdentity::LoadOrCreate(Env::Default(), path).ok());
  auto data = ReadFileToString(Env::Default(), path);
  ASSERT_TRUE(data.ok());

  auto write = [&](const std::string& contents) {
    ASSERT_TRUE(WriteFileAtomically(Env::Default(), path, contents).ok());
    ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  };
  // Public key byte flipped: keys no longer match.
  std::string flipped = *data;
  flipped[20] ^= 0x40;
  write(flipped);
  EXPECT_EQ(NodeIdentity::Load(Env::Default(), path).status().code(), absl::StatusCode::kDataLoss);
  // Truncated.
  write(data->substr(0, 50));
  EXPECT_EQ(NodeIdentity::Load(Env::Default(), path).status().code(), absl::StatusCode::kDataLoss);
  // Future version.
  std::string future = *data;
  future[8] = 2;
  write(future);
  EXPECT_EQ(NodeIdentity::Load(Env::Default(), path).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // LoadOrCreate never overwrites a damaged key file.
  EXPECT_FALSE(NodeIdentity::LoadOrCreate(Env::Default(), path).ok());
  auto after = ReadFileToString(Env::Default(), path);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, future);
}

TEST(NodeIdentityTest, FromSeedIsDeterministicAndChecksTheSize) {
  const std::string seed(32, 'x');
  auto a = NodeIdentity::FromSeed(seed);
  auto b = NodeIdentity::FromSeed(seed);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)->node_id(), (*b)->node_id());
  EXPECT_EQ((*a)->SecretSeed(), seed);
  auto other = NodeIdentity::FromSeed(std::string(32, 'y'));
  ASSERT_TRUE(other.ok());
  EXPECT_NE((*other)->node_id(), (*a)->node_id());
  EXPECT_EQ(NodeIdentity::FromSeed("short").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera::p2p
