#include "services/common/tls_flags.h"

#include "gtest/gtest.h"

namespace tessera::services {
namespace {

TEST(ResolveTlsFlags, NoneMeansNoTls) {
  bool deprecated = true;
  absl::StatusOr<TlsFiles> f = ResolveTlsFlags("", "", "", "", &deprecated);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(f->cert_file.empty());
  EXPECT_TRUE(f->key_file.empty());
  EXPECT_FALSE(deprecated);
}

TEST(ResolveTlsFlags, CurrentNames) {
  bool deprecated = true;
  absl::StatusOr<TlsFiles> f = ResolveTlsFlags("c.pem", "k.pem", "", "", &deprecated);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->cert_file, "c.pem");
  EXPECT_EQ(f->key_file, "k.pem");
  EXPECT_FALSE(deprecated);
}

TEST(ResolveTlsFlags, DeprecatedAliasesStillWorkAndAreReported) {
  bool deprecated = false;
  absl::StatusOr<TlsFiles> f = ResolveTlsFlags("", "", "c.pem", "k.pem", &deprecated);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->cert_file, "c.pem");
  EXPECT_EQ(f->key_file, "k.pem");
  EXPECT_TRUE(deprecated);
}

TEST(ResolveTlsFlags, MixedSpellingsPairUp) {
  absl::StatusOr<TlsFiles> f = ResolveTlsFlags("c.pem", "", "", "k.pem");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->cert_file, "c.pem");
  EXPECT_EQ(f->key_file, "k.pem");
}

TEST(ResolveTlsFlags, BothSpellingsOfOneSettingRefused) {
  EXPECT_EQ(ResolveTlsFlags("a.pem", "k.pem", "a.pem", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveTlsFlags("c.pem", "k.pem", "", "k.pem").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ResolveTlsFlags, CertAndKeyGoTogether) {
  EXPECT_EQ(ResolveTlsFlags("c.pem", "", "", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveTlsFlags("", "", "", "k.pem").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera::services
