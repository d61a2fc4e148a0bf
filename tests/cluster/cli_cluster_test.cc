// The `tessera` CLI end to end against `tessera dev` (6 nodes in 3 sites + gateway, started by
// the CLI itself): no endpoint flag (found through ~/.tessera/dev.env, HOME = TEST_TMPDIR), exit
// codes, one-line errors, and a clean stop on SIGTERM.
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "tests/cluster/process_cluster.h"

namespace tessera::testing {
namespace {

struct Result {
  int code = -1;
  std::string out, err;
};

std::vector<std::string> Env() { return {absl::StrCat("HOME=", TmpDir(), "/home")}; }

Result Tessera(std::vector<std::string> args, const std::vector<std::string>& env = Env()) {
  args.insert(args.begin(), Runfile("services/cli/tessera"));
  Process p("tessera", args, env);
  const int status = p.Wait(absl::Seconds(60));
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = p.out();
  r.err = p.err();
  return r;
}

bool OneLine(const std::string& s) {
  return !s.empty() && s.back() == '\n' && s.find('\n') == s.size() - 1;
}

TEST(CliClusterTest, DevClusterAndEveryCommand) {
  // A fresh directory each run (a second --gtest_repeat repetition must not find the first's
  // cluster there).
  const std::string dir = ::tessera::testing::UniqueTestDir("dev");
  Process dev("dev",
              {Runfile("services/cli/tessera"), "dev", "--dir=" + dir, "--port=0", "--s3_port=0",
               "--stripe_size=262144"},
              Env());
  const absl::Time deadline = absl::Now() + absl::Seconds(90);
  while (!absl::StrContains(dev.out(), "Press Ctrl-C") && dev.running() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(absl::StrContains(dev.out(), "Press Ctrl-C")) << dev.out() << dev.err();
  EXPECT_TRUE(absl::StrContains(dev.out(), "6 nodes in 3 sites")) << dev.out();
  // Secrets exist and are private.
  for (const char* f : {"/master.key", "/cluster.secret"}) {
    struct stat st {};
    ASSERT_EQ(::stat((dir + f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }

  Result r = Tessera({"cluster", "status"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "6 of 6 nodes alive")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "site2")) << r.out;
  {
    // Capacity is the sum of the nodes' reports, each the statvfs size of its data dir (all six
    // share this file system; `tessera dev` sets no cap). Before: "capacity 0 B".
    struct statvfs vfs {};
    ASSERT_EQ(::statvfs(dir.c_str(), &vfs), 0);
    const unsigned long long disk = static_cast<unsigned long long>(vfs.f_blocks) * vfs.f_frsize;
    unsigned long long capacity = 0, free = 0;
    const size_t at = r.out.find("capacity ");
    ASSERT_NE(at, std::string::npos) << r.out;
    const size_t paren = r.out.find('(', at);
    ASSERT_NE(paren, std::string::npos) << r.out;
    ASSERT_EQ(std::sscanf(r.out.c_str() + paren, "(%llu / %llu bytes)", &capacity, &free), 2)
        << r.out;
    EXPECT_GT(disk, 0u);
    EXPECT_EQ(capacity, 6 * disk) << r.out;
    EXPECT_GT(free, 0u) << r.out;
    EXPECT_LE(free, capacity) << r.out;
  }

  // The nodes' own reports: every node answers with its repair scheduler and scrubber figures.
  EXPECT_TRUE(absl::StrContains(r.out, "repair: every stripe at full redundancy")) << r.out;
  r = Tessera({"cluster", "status", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(OneLine(r.out)) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "\"nodes_reported\":6,\"nodes_repairing\":6")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "\"degraded_total\":0")) << r.out;

  r = Tessera({"mb", "demo"});
  ASSERT_EQ(r.code, 0) << r.err;
  r = Tessera({"mb", "demo"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(OneLine(r.err) && absl::StrContains(r.err, "demo")) << r.err;
  // Canned ACLs (CreateBucketRequest.acl): the gateway reports the one it stored.
  r = Tessera({"mb", "demo-public", "--acl=public-read"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "(public-read)")) << r.out;
  r = Tessera({"mb", "demo-rw", "--acl=public-read-write"});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(OneLine(r.err) && absl::StrContains(r.err, "not supported")) << r.err;

  const std::string src = TmpDir() + "/src.bin";
  const std::string data = TestBytes(3 * 262144 + 17, 9);
  std::ofstream(src, std::ios::binary) << data;
  r = Tessera({"put", src, "demo/dir/file.bin"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << "no progress bar when stderr is not a terminal: " << r.err;

  r = Tessera({"ls"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "demo")) << r.out;
  r = Tessera({"ls", "demo"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "PRE") && absl::StrContains(r.out, "dir/")) << r.out;
  r = Tessera({"ls", "demo/dir/"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, absl::StrCat(data.size(), "  dir/file.bin"))) << r.out;

  // Issue 8: with an empty HOME and the endpoint alone, `tessera ls` listed the dev user's
  // buckets. Now the gateway refuses a caller without credentials, or with a wrong secret.
  std::string endpoint;
  for (absl::string_view line :
       absl::StrSplit(ReadAll(TmpDir() + "/home/.tessera/dev.env"), '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "TESSERA_ENDPOINT=")) endpoint = std::string(line);
  }
  ASSERT_FALSE(endpoint.empty());
  const std::string empty_home = TmpDir() + "/empty-home";
  ::mkdir(empty_home.c_str(), 0700);
  r = Tessera({"--endpoint", endpoint, "ls"}, {"HOME=" + empty_home});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_FALSE(absl::StrContains(r.out, "demo")) << r.out;
  EXPECT_TRUE(OneLine(r.err) && absl::StrContains(r.err, "not authenticated") &&
              absl::StrContains(r.err, "TESSERA_ACCESS_KEY_ID"))
      << r.err;
  const std::map<std::string, std::string> s3env = [&] {
    std::map<std::string, std::string> m;
    for (absl::string_view line : absl::StrSplit(ReadAll(dir + "/s3.env"), '\n')) {
      std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
      m[kv.first] = kv.second;
    }
    return m;
  }();
  r = Tessera({"--endpoint", endpoint, "ls"},
              {"HOME=" + empty_home, "TESSERA_ACCESS_KEY_ID=" + s3env.at("AWS_ACCESS_KEY_ID"),
               "TESSERA_SECRET_ACCESS_KEY=wrong-secret-wrong-secret-000"});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(absl::StrContains(r.err, "signature does not match")) << r.err;
  // The dev user's keys work from anywhere: a credentials file, or the environment.
  r = Tessera({"--endpoint", endpoint, "--credentials_file", dir + "/s3.env", "ls"},
              {"HOME=" + empty_home});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "demo")) << r.out;
  r = Tessera({"--endpoint", endpoint, "ls"},
              {"HOME=" + empty_home, "TESSERA_ACCESS_KEY_ID=" + s3env.at("AWS_ACCESS_KEY_ID"),
               "TESSERA_SECRET_ACCESS_KEY=" + s3env.at("AWS_SECRET_ACCESS_KEY")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "demo")) << r.out;

  const std::string dst = TmpDir() + "/dst.bin";
  r = Tessera({"get", "demo/dir/file.bin", dst});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(ReadAll(dst) == data);

  r = Tessera({"stat", "demo/dir/file.bin"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, absl::StrCat("size:          ", data.size()))) << r.out;

  // End-to-end sealing (--client_key_file, sdk::EmbeddedClient behind the same commands): the
  // object reads back with the key, is refused without it or with another key, and lists and
  // deletes like any other.
  const std::string client_key = TmpDir() + "/client.key";
  const std::string other_key = TmpDir() + "/other.key";
  ::unlink(client_key.c_str());
  ::unlink(other_key.c_str());
  r = Tessera({"keys", "new-client", client_key});
  ASSERT_EQ(r.code, 0) << r.err;
  {
    struct stat st {};
    ASSERT_EQ(::stat(client_key.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  r = Tessera({"keys", "new-client", client_key});  // never overwrites a key
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(OneLine(r.err)) << r.err;
  ASSERT_EQ(Tessera({"keys", "new-client", other_key}).code, 0);
  r = Tessera({"--client_key_file=" + client_key, "put", src, "demo/sealed.bin"});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string opened = TmpDir() + "/opened.bin";
  r = Tessera({"--client_key_file=" + client_key, "get", "demo/sealed.bin", opened});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(ReadAll(opened) == data);
  r = Tessera({"--client_key_file=" + client_key, "get", "demo/sealed.bin", "-"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.out == data);
  const std::string refused = TmpDir() + "/refused.bin";
  r = Tessera({"get", "demo/sealed.bin", refused});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(OneLine(r.err) && absl::StrContains(r.err, "sealed end to end")) << r.err;
  EXPECT_NE(::access(refused.c_str(), F_OK), 0);
  r = Tessera({"--client_key_file=" + other_key, "get", "demo/sealed.bin", refused});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(OneLine(r.err)) << r.err;
  EXPECT_NE(::access(refused.c_str(), F_OK), 0);
  r = Tessera({"--client_key_file=" + client_key, "ls", "demo"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "sealed.bin")) << r.out;
  r = Tessera({"--client_key_file=" + client_key, "rm", "demo/sealed.bin"});
  ASSERT_EQ(r.code, 0) << r.err;
  r = Tessera({"--client_key_file=/nonexistent/key", "ls"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(OneLine(r.err) && absl::StrContains(r.err, "/nonexistent/key")) << r.err;

  // A missing key: exit 1, one clear line, no file left behind.
  const std::string missing = TmpDir() + "/missing.bin";
  r = Tessera({"get", "demo/nope", missing});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(OneLine(r.err)) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "no such key: demo/nope")) << r.err;
  EXPECT_NE(::access(missing.c_str(), F_OK), 0);

  r = Tessera({"rb", "demo"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(OneLine(r.err) && absl::StrContains(r.err, "not empty")) << r.err;
  r = Tessera({"rm", "demo/dir/file.bin"});
  ASSERT_EQ(r.code, 0) << r.err;
  r = Tessera({"stat", "demo/dir/file.bin"});
  EXPECT_EQ(r.code, 1);
  r = Tessera({"rb", "demo"});
  ASSERT_EQ(r.code, 0) << r.err;

  // Usage errors: exit 2.
  r = Tessera({"put", src});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(OneLine(r.err)) << r.err;
  r = Tessera({"frobnicate"});
  EXPECT_EQ(r.code, 2);

  // A second dev cluster on the same directory is refused.
  r = Tessera({"dev", "--dir=" + dir, "--port=0", "--s3_port=0"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(absl::StrContains(r.err, "another `tessera dev`")) << r.err;

  // SIGTERM stops everything cleanly (exit 0).
  const int status = dev.Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << dev.err();
  EXPECT_TRUE(absl::StrContains(dev.out(), "stopped")) << dev.out();
  // ...and the gateway is gone.
  r = Tessera({"--endpoint", "127.0.0.1:1", "ls"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(absl::StrContains(r.err, "cannot connect")) << r.err;
}

}  // namespace
}  // namespace tessera::testing
