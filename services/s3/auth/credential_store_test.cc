#include "services/s3/auth/credential_store.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "services/s3/errors/errors.h"

namespace tessera::services::s3 {
namespace {

using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kFile[] = R"(# Tessera S3 credentials
[alice]
access_key = AKIAIOSFODNN7EXAMPLE
secret_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY

; bob has two key pairs
[bob]
access_key=BOBKEY00000000000001
secret_key=bob-secret-0000000001
access_key = BOBKEY00000000000002
secret_key = bob-secret-0000000002
)";

std::string WriteFile(const std::string& name, const std::string& contents, mode_t mode) {
  std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  std::ofstream(path) << contents;
  chmod(path.c_str(), mode);
  return path;
}

TEST(CredentialStoreTest, ParsesSeveralUsers) {
  ASSERT_OK_AND_ASSIGN(auto store, CredentialStore::Parse(kFile));
  EXPECT_EQ(store->size(), 3u);
  ASSERT_OK_AND_ASSIGN(Credential a, store->Lookup("AKIAIOSFODNN7EXAMPLE"));
  EXPECT_EQ(a.user_id, "alice");
  EXPECT_EQ(a.secret_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  ASSERT_OK_AND_ASSIGN(Credential b2, store->Lookup("BOBKEY00000000000002"));
  EXPECT_EQ(b2.user_id, "bob");
  EXPECT_EQ(b2.secret_key, "bob-secret-0000000002");
  EXPECT_EQ(ErrorCodeOf(store->Lookup("NOSUCHKEY00000000000").status()),
            S3ErrorCode::kInvalidAccessKeyId);
}

TEST(CredentialStoreTest, RejectsMalformedFilesWithoutLeakingSecrets) {
  const char* bad[] = {
      "access_key = AKIAIOSFODNN7EXAMPLE\n",                           // outside a section
      "[a]\naccess_key = AKIAIOSFODNN7EXAMPLE\n",                      // no secret
      "[a]\nsecret_key = topsecretvalue123456\n",                      // no access key
      "[a]\naccess_key = short\nsecret_key = topsecretvalue123456\n",  // access key too short
      "[a]\naccess_key = AKIAIOSFODNN7EXAMPLE\nsecret_key = tiny\n",   // secret too short
      "[a b]\n",                                                       // bad user id
      "[a\n",                                                          // unterminated
      "[a]\ncolor = blue\n",                                           // unknown key
      "[a]\naccess_key = AKIAIOSFODNN7EXAMPLE\nsecret_key = topsecretvalue123456\n"
      "[b]\naccess_key = AKIAIOSFODNN7EXAMPLE\nsecret_key = othersecretvalue1234\n",  // dup
  };
  for (const char* contents : bad) {
    auto s = CredentialStore::Parse(contents);
    EXPECT_FALSE(s.ok()) << contents;
    EXPECT_THAT(std::string(s.status().message()), Not(HasSubstr("secretvalue"))) << contents;
    EXPECT_THAT(std::string(s.status().message()), HasSubstr("line")) << contents;
  }
}

TEST(CredentialStoreTest, LoadsOwnerOnlyFiles) {
  std::string path = WriteFile("creds_ok", kFile, 0600);
  ASSERT_OK_AND_ASSIGN(auto store, CredentialStore::LoadFromFile(path));
  EXPECT_EQ(store->size(), 3u);
  path = WriteFile("creds_ro", kFile, 0400);
  EXPECT_OK(CredentialStore::LoadFromFile(path).status());
}

TEST(CredentialStoreTest, RefusesGroupOrOtherAccessibleFiles) {
  for (mode_t mode : {0640, 0604, 0644, 0660, 0602}) {
    std::string path = WriteFile("creds_open", kFile, mode);
    EXPECT_THAT(CredentialStore::LoadFromFile(path), StatusIs(absl::StatusCode::kPermissionDenied))
        << std::oct << mode;
  }
  EXPECT_THAT(CredentialStore::LoadFromFile("/nonexistent/creds"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(CredentialStoreTest, ReloadReplacesEveryCredentialOrNone) {
  std::string path = WriteFile("creds_reload", kFile, 0600);
  ASSERT_OK_AND_ASSIGN(auto store, CredentialStore::LoadFromFile(path));
  ASSERT_OK(store->Lookup("BOBKEY00000000000001").status());

  // A file that does not load (here: readable by others) keeps the current credentials.
  path = WriteFile("creds_reload",
                   "[carol]\naccess_key = CAROLKEY000000000001\n"
                   "secret_key = carol-secret-00000001\n",
                   0644);
  EXPECT_THAT(store->ReloadFromFile(path), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_OK(store->Lookup("BOBKEY00000000000001").status());
  EXPECT_FALSE(store->Lookup("CAROLKEY000000000001").ok());

  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  ASSERT_OK(store->ReloadFromFile(path));
  EXPECT_EQ(store->size(), 1u);
  EXPECT_EQ(store->Lookup("BOBKEY00000000000001").status(),
            S3Status(S3ErrorCode::kInvalidAccessKeyId));
  ASSERT_OK_AND_ASSIGN(Credential carol, store->Lookup("CAROLKEY000000000001"));
  EXPECT_EQ(carol.user_id, "carol");
  EXPECT_EQ(carol.secret_key, "carol-secret-00000001");
}

TEST(CredentialStoreTest, AddValidates) {
  CredentialStore store;
  EXPECT_OK(store.Add({"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "u"}));
  EXPECT_THAT(store.Add({"AKIAIOSFODNN7EXAMPLE", "another-secret-00000", "v"}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(store.Add({"AKIA-BAD-KEY-000000", "another-secret-00000", "v"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store.Add({"AKIAIOSFODNN7EXAMPL2", "has space in secret00", "v"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace tessera::services::s3
