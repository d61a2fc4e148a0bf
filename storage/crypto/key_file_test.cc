#include "storage/crypto/key_file.h"

#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::storage {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// 32 bytes 0x00..0x1f in both encodings.
constexpr char kHexKey[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr char kBase64Key[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

std::string TestPath(absl::string_view name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

void WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  ::unlink(path.c_str());
  std::ofstream(path) << text;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return st.st_mode & 07777;
}

// True if both rings wrap/unwrap interchangeably under `id`, i.e. hold the same key bytes.
bool SameKey(const MasterKeyring& a, const MasterKeyring& b) {
  SecretKey data = SecretKey::Generate();
  absl::StatusOr<WrappedKey> wrapped = a.Wrap(data);
  if (!wrapped.ok()) return false;
  absl::StatusOr<SecretKey> unwrapped = b.Unwrap(*wrapped);
  return unwrapped.ok() && unwrapped->Equals(data);
}

TEST(KeyFileTest, HexAndBase64DecodeToTheSameKey) {
  auto hex = ParseMasterKeyFile(absl::StrCat("5 ", kHexKey, "\n"), "hex");
  auto b64 = ParseMasterKeyFile(absl::StrCat("# comment\n\n  5\t", kBase64Key, "  \r\n"), "b64");
  ASSERT_TRUE(hex.ok()) << hex.status();
  ASSERT_TRUE(b64.ok()) << b64.status();
  EXPECT_TRUE(SameKey(**hex, **b64));
  EXPECT_EQ((*hex)->active_key_id(), 5u);
}

TEST(KeyFileTest, ActiveDefaultsToHighestAndCanBeChosen) {
  const std::string two_keys =
      absl::StrCat("3 ", kHexKey, "\n9 ", kBase64Key, "\n1 ", std::string(64, 'f'), "\n");
  auto ring = ParseMasterKeyFile(two_keys, "f");
  ASSERT_TRUE(ring.ok()) << ring.status();
  EXPECT_EQ((*ring)->active_key_id(), 9u);
  EXPECT_EQ((*ring)->key_ids(), (std::vector<MasterKeyId>{1, 3, 9}));
  auto chosen = ParseMasterKeyFile(two_keys + "active 3\n", "f");
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_EQ((*chosen)->active_key_id(), 3u);
}

TEST(KeyFileTest, MalformedFilesAreRefusedWithoutEchoingKeys) {
  const std::string bad_hex = std::string(63, 'a') + "g";
  const struct {
    std::string text;
    std::string why;
  } cases[] = {
      {"", "no keys"},
      {"# only a comment\n", "no keys"},
      {absl::StrCat("1 ", bad_hex), "hex"},
      {absl::StrCat("1 ", std::string(62, 'a')), "hex"},         // 31 bytes
      {absl::StrCat("1 ", std::string(66, 'a')), "hex"},         // 33 bytes
      {"1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", "hex"},  // base64 missing padding
      {"1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH!8=", "hex"},
      {absl::StrCat("0 ", kHexKey), "key id"},
      {absl::StrCat("-1 ", kHexKey), "key id"},
      {absl::StrCat("4294967296 ", kHexKey), "key id"},
      {absl::StrCat("x ", kHexKey), "key id"},
      {absl::StrCat("1 ", kHexKey, " extra"), "expected"},
      {"1", "expected"},
      {absl::StrCat("1 ", kHexKey, "\n1 ", kBase64Key), "duplicate"},
      {absl::StrCat("1 ", kHexKey, "\nactive 2"), "not listed"},
      {absl::StrCat("1 ", kHexKey, "\nactive 1\nactive 1"), "more than one"},
  };
  for (const auto& c : cases) {
    auto ring = ParseMasterKeyFile(c.text, "test.keys");
    ASSERT_EQ(ring.status().code(), absl::StatusCode::kFailedPrecondition) << c.text;
    const std::string message(ring.status().message());
    EXPECT_THAT(message, HasSubstr(c.why)) << c.text;
    EXPECT_THAT(message, HasSubstr("test.keys"));
    EXPECT_THAT(message, Not(HasSubstr("aaaaaaaa")));
    EXPECT_THAT(message, Not(HasSubstr("AAECAwQF")));
    EXPECT_THAT(message, Not(HasSubstr("00010203")));
  }
}

TEST(KeyFileTest, GenerateThenLoad) {
  const std::string path = TestPath("generated.keys");
  ::unlink(path.c_str());
  const mode_t old_umask = ::umask(0);  // must not leak into the file mode
  absl::Status generated = GenerateMasterKeyFile(path, 42);
  ::umask(old_umask);
  ASSERT_TRUE(generated.ok()) << generated;
  EXPECT_EQ(ModeOf(path), 0600u);
  auto ring = LoadMasterKeyFile(path);
  ASSERT_TRUE(ring.ok()) << ring.status();
  EXPECT_EQ((*ring)->active_key_id(), 42u);
  auto again = LoadMasterKeyFile(path);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(SameKey(**ring, **again));

  EXPECT_EQ(GenerateMasterKeyFile(path, 43).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(GenerateMasterKeyFile(TestPath("zero.keys"), 0).code(),
            absl::StatusCode::kInvalidArgument);

  // Two generated files hold different keys.
  const std::string other = TestPath("generated2.keys");
  ::unlink(other.c_str());
  ASSERT_TRUE(GenerateMasterKeyFile(other, 42).ok());
  auto other_ring = LoadMasterKeyFile(other);
  ASSERT_TRUE(other_ring.ok());
  EXPECT_FALSE(SameKey(**ring, **other_ring));
}

TEST(KeyFileTest, RefusesFilesOthersCanAccess) {
  const std::string path = TestPath("perm.keys");
  const std::string text = absl::StrCat("1 ", kHexKey, "\n");
  for (mode_t mode : {0644, 0640, 0604, 0660, 0602, 0620, 0610, 0601, 0666, 0777}) {
    WriteFile(path, text, mode);
    auto ring = LoadMasterKeyFile(path);
    ASSERT_EQ(ring.status().code(), absl::StatusCode::kFailedPrecondition) << std::oct << mode;
    EXPECT_THAT(std::string(ring.status().message()), HasSubstr("chmod 600"));
  }
  for (mode_t mode : {0600, 0400}) {
    WriteFile(path, text, mode);
    auto ring = LoadMasterKeyFile(path);
    EXPECT_TRUE(ring.ok()) << std::oct << mode << " " << ring.status();
  }
}

TEST(KeyFileTest, MissingSymlinkAndDirectory) {
  EXPECT_EQ(LoadMasterKeyFile(TestPath("does-not-exist.keys")).status().code(),
            absl::StatusCode::kNotFound);
  const std::string target = TestPath("target.keys");
  WriteFile(target, absl::StrCat("1 ", kHexKey, "\n"), 0600);
  const std::string link = TestPath("link.keys");
  ::unlink(link.c_str());
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  EXPECT_EQ(LoadMasterKeyFile(link).status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string dir = TestPath("keys.d");
  ::mkdir(dir.c_str(), 0700);
  EXPECT_EQ(LoadMasterKeyFile(dir).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(KeyFileTest, BadContentInAPrivateFileIsRefused) {
  const std::string path = TestPath("bad.keys");
  WriteFile(path, "1 not-a-key\n", 0600);
  auto ring = LoadMasterKeyFile(path);
  EXPECT_EQ(ring.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(ring.status().message()), HasSubstr("line 1"));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Rotation on the file: add makes a new active key and keeps the others (and the comments);
// retire drops a non-active key; data wrapped under a kept key still unwraps.
TEST(KeyFileTest, AddThenRetireKeepsTheOtherKeys) {
  const std::string path = TestPath("rotate.keys");
  WriteFile(path, absl::StrCat("# my keys\n1 ", kHexKey, "\nactive 1\n"), 0600);
  auto before = LoadMasterKeyFile(path);
  ASSERT_TRUE(before.ok()) << before.status();

  auto added = AddMasterKeyToFile(path);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(*added, 2u);
  EXPECT_EQ(ModeOf(path), 0600u);
  const std::string text = ReadFile(path);
  EXPECT_THAT(text, HasSubstr("# my keys\n"));
  EXPECT_THAT(text, Not(HasSubstr("active 1")));
  EXPECT_THAT(text, Not(HasSubstr("\n\n")));
  auto after = LoadMasterKeyFile(path);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ((*after)->active_key_id(), 2u);
  EXPECT_EQ((*after)->key_ids(), (std::vector<MasterKeyId>{1, 2}));
  // Key 1 is still the same key: what it wrapped before still unwraps.
  SecretKey data = SecretKey::Generate();
  auto wrapped = (*before)->Wrap(data, "ctx");
  ASSERT_TRUE(wrapped.ok());
  auto unwrapped = (*after)->Unwrap(*wrapped, "ctx");
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status();
  EXPECT_TRUE(unwrapped->Equals(data));

  // The active key cannot be retired; an unknown one is NOT_FOUND; key 1 can.
  EXPECT_EQ(RetireMasterKeyFromFile(path, 2).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(RetireMasterKeyFromFile(path, 9).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(RetireMasterKeyFromFile(path, 1).ok());
  auto retired = LoadMasterKeyFile(path);
  ASSERT_TRUE(retired.ok()) << retired.status();
  EXPECT_EQ((*retired)->key_ids(), (std::vector<MasterKeyId>{2}));
  EXPECT_EQ((*retired)->active_key_id(), 2u);
  EXPECT_EQ((*retired)->Unwrap(*wrapped, "ctx").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ReadFile(path), HasSubstr("# my keys\n"));
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_NE(::access((path + ".tmp").c_str(), F_OK), 0);
}

// A file that would be refused on load is refused here too, and left as it is.
TEST(KeyFileTest, AddRefusesAFileOthersCanRead) {
  const std::string path = TestPath("open.keys");
  const std::string text = absl::StrCat("1 ", kHexKey, "\n");
  WriteFile(path, text, 0644);
  EXPECT_EQ(AddMasterKeyToFile(path).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadFile(path), text);
  EXPECT_EQ(AddMasterKeyToFile(TestPath("missing.keys")).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace tessera::storage
