// `tessera dev`'s S3 endpoint with an unmodified client: the settings written to <dir>/s3.env
// (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION) drive Debian's
// /usr/bin/aws through mb, cp (up and down, byte-exact) and ls; what S3 wrote the tessera CLI
// (gRPC gateway) sees too - one data path - also after `tessera dev` is stopped and started
// again on the same directory. Debian's awscli 2.9 does not read AWS_ENDPOINT_URL
// (added in awscli 2.13), so the endpoint is also passed as --endpoint-url, as the README shows.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/cluster/process_cluster.h"

namespace tessera::testing {
namespace {

constexpr char kAws[] = "/usr/bin/aws";

struct Result {
  int code = -1;
  std::string out, err;
};

Result RunCommand(std::vector<std::string> argv, const std::vector<std::string>& env) {
  Process p("cmd", std::move(argv), env);
  const int status = p.Wait(absl::Seconds(90));
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, p.out(), p.err()};
}

TEST(DevS3EnvTest, AwsCliWorksWithTheDevClustersS3Env) {
  // A test that needs a tool fails when it is missing (it must not pass by skipping).
  ASSERT_EQ(::access(kAws, X_OK), 0) << kAws << " not installed (setup.sh installs it)";
  const std::string home = TmpDir() + "/home";
  const std::string dir = TmpDir() + "/dev";
  const std::vector<std::string> base_env = {"HOME=" + home};
  Process dev("dev",
              {Runfile("services/cli/tessera"), "dev", "--dir=" + dir, "--port=0", "--s3_port=0",
               "--stripe_size=262144"},
              base_env);
  const absl::Time deadline = absl::Now() + absl::Seconds(90);
  while (!absl::StrContains(dev.out(), "Press Ctrl-C") && dev.running() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(absl::StrContains(dev.out(), "Press Ctrl-C")) << dev.out() << dev.err();

  // s3.env: private, the four settings, and the keys printed on the terminal.
  const std::string env_file = dir + "/s3.env";
  struct stat st {};
  ASSERT_EQ(::stat(env_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::map<std::string, std::string> vars;
  std::vector<std::string> env = base_env;
  for (absl::string_view line : absl::StrSplit(ReadAll(env_file), '\n', absl::SkipEmpty())) {
    if (!absl::StrContains(line, '=') || absl::StartsWith(line, "#") ||
        absl::StrContains(line, "()")) {
      continue;  // the comment and the aws() shim for shells
    }
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    vars[kv.first] = kv.second;
    env.push_back(std::string(line));
  }
  ASSERT_TRUE(absl::StartsWith(vars["AWS_ENDPOINT_URL"], "http://127.0.0.1:"));
  EXPECT_EQ(vars["AWS_DEFAULT_REGION"], "us-east-1");
  ASSERT_GE(vars["AWS_ACCESS_KEY_ID"].size(), 16u);
  ASSERT_GE(vars["AWS_SECRET_ACCESS_KEY"].size(), 16u);
  EXPECT_TRUE(absl::StrContains(dev.out(), vars["AWS_ACCESS_KEY_ID"])) << dev.out();
  EXPECT_TRUE(absl::StrContains(dev.out(), vars["AWS_SECRET_ACCESS_KEY"]));
  EXPECT_TRUE(absl::StrContains(dev.out(), vars["AWS_ENDPOINT_URL"])) << dev.out();
  env.push_back("AWS_EC2_METADATA_DISABLED=true");
  env.push_back("AWS_CONFIG_FILE=" + TmpDir() + "/no-aws-config");
  env.push_back("AWS_SHARED_CREDENTIALS_FILE=" + TmpDir() + "/no-aws-credentials");

  auto aws = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {kAws, "--endpoint-url", vars["AWS_ENDPOINT_URL"]});
    return RunCommand(std::move(args), env);
  };
  Result r = aws({"s3", "mb", "s3://envcheck"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const std::string src = TmpDir() + "/upload.bin";
  const std::string data = TestBytes(700 << 10, 3);  // 3 stripes of 256 KiB
  { std::ofstream(src, std::ios::binary) << data; }
  r = aws({"s3", "cp", src, "s3://envcheck/docs/upload.bin"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  r = aws({"s3", "ls", "s3://envcheck/docs/"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, absl::StrCat(data.size(), " upload.bin"))) << r.out;
  r = aws({"s3", "ls"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "envcheck")) << r.out;
  const std::string dst = TmpDir() + "/download.bin";
  r = aws({"s3", "cp", "s3://envcheck/docs/upload.bin", dst});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(ReadAll(dst) == data) << "downloaded bytes differ";

  // Exactly what the README promises: a shell sources s3.env and runs `aws s3 ls`, no flags.
  std::vector<std::string> shell_env = env;
  shell_env.push_back("PATH=/usr/bin:/bin");
  r = RunCommand({"/bin/bash", "-c", absl::StrCat("set -a; . '", env_file, "'; aws s3 ls")},
                 shell_env);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "envcheck")) << r.out;

  // A wrong secret is refused (the endpoint checks signatures).
  std::vector<std::string> bad_env;
  for (const std::string& e : env) {
    bad_env.push_back(absl::StartsWith(e, "AWS_SECRET_ACCESS_KEY=")
                          ? "AWS_SECRET_ACCESS_KEY=wrongwrongwrongwrongwrongwrong"
                          : e);
  }
  r = RunCommand({kAws, "--endpoint-url", vars["AWS_ENDPOINT_URL"], "s3", "ls"}, bad_env);
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_TRUE(absl::StrContains(r.err, "SignatureDoesNotMatch")) << r.err;

  // The gRPC gateway (tessera CLI) sees what S3 wrote: one data path, metadata on the nodes.
  r = RunCommand({Runfile("services/cli/tessera"), "ls", "envcheck/docs/"}, base_env);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "docs/upload.bin")) << r.out;

  const int status = dev.Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << dev.err();

  // `tessera dev` again on the same directory: the cluster comes back with its data. Before, the
  // nodes took new ports, the metadata layout still named the old ones, and the gateway failed
  // "loading the metadata layout record ... Connection refused".
  Process again("dev-again",
                {Runfile("services/cli/tessera"), "dev", "--dir=" + dir, "--port=0", "--s3_port=0",
                 "--stripe_size=262144"},
                base_env);
  const absl::Time again_deadline = absl::Now() + absl::Seconds(120);
  while (!absl::StrContains(again.out(), "Press Ctrl-C") && again.running() &&
         absl::Now() < again_deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(absl::StrContains(again.out(), "Press Ctrl-C")) << again.out() << again.err();
  r = RunCommand(
      {Runfile("services/cli/tessera"), "get", "envcheck/docs/upload.bin", TmpDir() + "/again.bin"},
      base_env);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(ReadAll(TmpDir() + "/again.bin") == data) << "bytes differ after the restart";
  const int again_status = again.Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(again_status) && WEXITSTATUS(again_status) == 0) << again.err();
}

}  // namespace
}  // namespace tessera::testing
