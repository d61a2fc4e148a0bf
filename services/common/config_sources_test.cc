#include "services/common/config_sources.h"

#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

ABSL_FLAG(std::string, cs_name, "default-name", "A string setting.");
ABSL_FLAG(int32_t, cs_count, 7, "An integer setting.");
ABSL_FLAG(bool, cs_enabled, false, "A boolean setting.");
ABSL_FLAG(absl::Duration, cs_wait, absl::Seconds(1), "A duration setting.");
ABSL_FLAG(int32_t, cs_api_token, 0, "A secret-looking setting (integer, so it can fail to parse).");

namespace tessera::services {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// A fake environment and file system.
class ConfigSourcesTest : public ::testing::Test {
 protected:
  absl::StatusOr<ParsedArgs> Apply(const std::vector<std::string>& args) {
    ConfigEnvironment env;
    env.getenv = [this](const std::string& name) -> std::optional<std::string> {
      auto it = env_.find(name);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
    env.read_file = [this](const std::string& path) -> absl::StatusOr<std::string> {
      auto it = files_.find(path);
      if (it == files_.end()) return absl::NotFoundError("no such file");
      return it->second;
    };
    return ApplyConfigSources(args, env);
  }

  // Expects `args` to fail with INVALID_ARGUMENT and returns the message.
  std::string Error(const std::vector<std::string>& args) {
    absl::StatusOr<ParsedArgs> r = Apply(args);
    EXPECT_FALSE(r.ok());
    if (r.ok()) return "";
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    return std::string(r.status().message());
  }

  absl::FlagSaver saver_;  // every test starts from the defaults
  std::map<std::string, std::string> env_;
  std::map<std::string, std::string> files_;
};

TEST_F(ConfigSourcesTest, CommandLineForms) {
  auto r = Apply({"--cs_name=a b", "--cs_count", "9", "--cs_enabled", "pos1", "-cs_wait=3s", "--",
                  "--cs_name=after"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(absl::GetFlag(FLAGS_cs_name), "a b");
  EXPECT_EQ(absl::GetFlag(FLAGS_cs_count), 9);
  EXPECT_TRUE(absl::GetFlag(FLAGS_cs_enabled));
  EXPECT_EQ(absl::GetFlag(FLAGS_cs_wait), absl::Seconds(3));
  EXPECT_THAT(r->positional, ElementsAre("pos1", "--cs_name=after"));
  EXPECT_FALSE(r->help);

  ASSERT_TRUE(Apply({"--nocs_enabled"}).ok());
  EXPECT_FALSE(absl::GetFlag(FLAGS_cs_enabled));
}

TEST_F(ConfigSourcesTest, PrecedenceIsFileThenEnvironmentThenCommandLine) {
  files_["/etc/t.conf"] =
      "# comment\n\ncs_name = from-file\n  cs_count=1  \ncs_wait = \"5s\"\ncs_enabled = true\n";
  env_["TESSERA_CONFIG"] = "/etc/t.conf";
  env_["TESSERA_CS_COUNT"] = "2";
  env_["TESSERA_CS_WAIT"] = "6s";
  env_["TESSERA_CS_NAME"] = "";  // empty = unset: the file's value stays
  ASSERT_TRUE(Apply({"--cs_wait=7s"}).ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_cs_name), "from-file");       // file only
  EXPECT_EQ(absl::GetFlag(FLAGS_cs_count), 2);                // env over file
  EXPECT_EQ(absl::GetFlag(FLAGS_cs_wait), absl::Seconds(7));  // command line over both
  EXPECT_TRUE(absl::GetFlag(FLAGS_cs_enabled));
}

TEST_F(ConfigSourcesTest, CommandLineConfigWinsOverEnvironmentConfig) {
  files_["/a.conf"] = "cs_name = a\n";
  files_["/b.conf"] = "cs_name = b\n";
  env_["TESSERA_CONFIG"] = "/a.conf";
  ASSERT_TRUE(Apply({"--config", "/b.conf"}).ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_cs_name), "b");
}

TEST_F(ConfigSourcesTest, ErrorsNameTheSettingAndItsSource) {
  files_["/bad.conf"] = "cs_name = x\n\nnot_a_flag = 1\n";
  EXPECT_EQ(Error({"--config=/bad.conf"}), "/bad.conf:3: unknown flag --not_a_flag");

  files_["/bad.conf"] = "# ok\ncs_count = many\n";
  std::string e = Error({"--config=/bad.conf"});
  EXPECT_THAT(e, HasSubstr("/bad.conf:2: bad value \"many\" for --cs_count"));

  files_["/bad.conf"] = "cs_name\n";
  EXPECT_EQ(Error({"--config=/bad.conf"}), "/bad.conf:1: expected `name = value`");
  files_["/bad.conf"] = "\n = 1\n";
  EXPECT_EQ(Error({"--config=/bad.conf"}), "/bad.conf:2: empty name");
  files_["/bad.conf"] = "cs_name = a\ncs_name = b\n";
  EXPECT_EQ(Error({"--config=/bad.conf"}), "/bad.conf:2: --cs_name given twice");
  files_["/bad.conf"] = "config = /other\n";
  EXPECT_THAT(Error({"--config=/bad.conf"}), HasSubstr("/bad.conf:1:"));

  absl::StatusOr<ParsedArgs> missing = Apply({"--config=/missing.conf"});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(),
              HasSubstr("command line: cannot read --config /missing.conf"));
  env_["TESSERA_CONFIG"] = "/missing.conf";
  EXPECT_THAT(Apply({}).status().message(), HasSubstr("environment variable TESSERA_CONFIG"));
  env_.clear();

  env_["TESSERA_CS_WAIT"] = "soon";
  EXPECT_THAT(Error({}), HasSubstr("environment variable TESSERA_CS_WAIT: bad value \"soon\" "
                                   "for --cs_wait"));
  env_.clear();

  env_["TESSERA_LOG_LEVEL"] = "loud";
  EXPECT_THAT(Error({}), HasSubstr("environment variable TESSERA_LOG_LEVEL: bad value \"loud\" "
                                   "for --log_level"));
  env_.clear();
  EXPECT_THAT(Error({"--log_format=xml"}),
              HasSubstr("command line: bad value \"xml\" for --log_format"));

  EXPECT_EQ(Error({"--bogus=1"}), "command line: unknown flag --bogus");
  EXPECT_EQ(Error({"--cs_count"}), "command line: flag --cs_count needs a value");
  EXPECT_THAT(Error({"--cs_enabled=maybe"}),
              HasSubstr("command line: bad value \"maybe\" for --cs_enabled"));
  // absl's own flags are not settings.
  EXPECT_EQ(Error({"--flagfile=/x"}), "command line: unknown flag --flagfile");
}

TEST_F(ConfigSourcesTest, SecretValuesAreNeverShown) {
  EXPECT_TRUE(IsSecretSetting("cluster_secret_file"));
  EXPECT_TRUE(IsSecretSetting("master_key_file"));
  EXPECT_TRUE(IsSecretSetting("Credentials_File"));
  EXPECT_TRUE(IsSecretSetting("admin_password"));
  EXPECT_TRUE(IsSecretSetting("cs_api_token"));
  EXPECT_FALSE(IsSecretSetting("data_dir"));

  const std::string kSecret = "hunter2-s3cr3t";
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--cs_api_token=" + kSecret},
        std::vector<std::string>{"--cs_api_token", kSecret}}) {
    std::string e = Error(args);
    EXPECT_THAT(e, HasSubstr("--cs_api_token"));
    EXPECT_THAT(e, Not(HasSubstr(kSecret)));
  }
  env_["TESSERA_CS_API_TOKEN"] = kSecret;
  std::string e = Error({});
  EXPECT_THAT(e, HasSubstr("TESSERA_CS_API_TOKEN"));
  EXPECT_THAT(e, Not(HasSubstr(kSecret)));
  env_.clear();

  // A malformed config line is not echoed either (it may be a pasted secret).
  files_["/s.conf"] = kSecret + "\n";
  e = Error({"--config=/s.conf"});
  EXPECT_THAT(e, HasSubstr("/s.conf:1"));
  EXPECT_THAT(e, Not(HasSubstr(kSecret)));
  files_["/s.conf"] = "cs_api_token = " + kSecret + "\n";
  e = Error({"--config=/s.conf"});
  EXPECT_THAT(e, HasSubstr("/s.conf:1: bad value (value not shown) for --cs_api_token"));
  EXPECT_THAT(e, Not(HasSubstr(kSecret)));
}

TEST_F(ConfigSourcesTest, ValuesInMessagesStayOnOneLine) {
  EXPECT_THAT(Error({"--cs_count=1\n2"}), Not(HasSubstr("\n")));
}

TEST_F(ConfigSourcesTest, HelpIsReportedBeforeAnythingIsApplied) {
  for (const char* h : {"--help", "--helpfull", "-h"}) {
    auto r = Apply({"--cs_name=changed", h, "--bogus"});
    ASSERT_TRUE(r.ok()) << h;
    EXPECT_TRUE(r->help);
    EXPECT_EQ(absl::GetFlag(FLAGS_cs_name), "default-name");
  }
}

TEST(ConfigSourcesHelpTest, ListsEveryTesseraFlagWithDefaultAndEnvironmentVariable) {
  const std::string help = HelpText("usage: t [flags]");
  EXPECT_TRUE(absl::StartsWith(help, "usage: t [flags]\n")) << help;
  EXPECT_THAT(help, HasSubstr("Flags from services/common/config_sources_test.cc:"));
  EXPECT_THAT(help, HasSubstr("    --cs_name (A string setting.); default: \"default-name\"; "
                              "env: TESSERA_CS_NAME;\n"));
  EXPECT_THAT(help, HasSubstr("--config ("));
  EXPECT_THAT(help, HasSubstr("--log_format ("));
  EXPECT_THAT(help, HasSubstr("default: \"info\"; env: TESSERA_LOG_LEVEL;"));
  EXPECT_THAT(help, Not(HasSubstr("--flagfile")));
}

TEST(ConfigSourcesNamesTest, EnvVarNameAndOwnership) {
  EXPECT_EQ(EnvVarName("data_dir"), "TESSERA_DATA_DIR");
  const absl::CommandLineFlag* own = absl::FindCommandLineFlag("cs_name");
  ASSERT_NE(own, nullptr);
  EXPECT_TRUE(IsTesseraFlag(*own));
  const absl::CommandLineFlag* absl_builtin = absl::FindCommandLineFlag("flagfile");
  ASSERT_NE(absl_builtin, nullptr);
  EXPECT_FALSE(IsTesseraFlag(*absl_builtin));
}

}  // namespace
}  // namespace tessera::services
