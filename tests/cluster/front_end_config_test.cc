// A bad setting stops tessera-s3 and tessera-gateway at start (issue 15, Operations): exit code 2
// and one line on stderr naming the setting and where it came from (command line, environment
// variable), before anything listens. tessera-node has the same test in tests/node.
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/cluster/process_cluster.h"

namespace tessera::testing {
namespace {

struct Case {
  std::string binary;  // runfile path
  std::vector<std::string> args;
  std::string message;  // expected in the one line
  std::vector<std::string> env = {};
};

TEST(FrontEndConfigTest, BadSettingsExitTwoWithOneLineNamingThem) {
  const std::string users = TmpDir() + "/users.ini";
  {
    std::ofstream out(users);
    out << "[t]\naccess_key = TESTERACCESSKEY00001\nsecret_key = tester-secret-key-0000001\n";
  }
  ASSERT_EQ(::chmod(users.c_str(), 0600), 0);
  const std::string s3 = Runfile("services/s3/tessera-s3");
  const std::string gw = Runfile("services/gatewayd/tessera-gateway");
  // Enough to get past the required settings (nothing is reached: the bad one stops it first).
  const std::vector<std::string> base = {
      "--credentials_file=" + users, "--master_key_file=m",  "--seeds=127.0.0.1:1",
      "--insecure_no_auth",          "--listen=127.0.0.1:0", "--admin_listen=127.0.0.1:0"};
  const Case cases[] = {
      {s3, {"--bogus_flag=1"}, "command line: unknown flag --bogus_flag"},
      {s3, {"--max_connections=0"}, "--max_connections must be positive"},
      {s3, {"--shutdown_grace=-1s"}, "--shutdown_grace must not be negative"},
      {s3, {"--k=0"}, "data_shards (k)"},
      // Before: accepted, and then nothing guarded writers against the orphan reclaimer (a GET
      // right after an acknowledged PUT found its slices deleted).
      {s3, {"--orphan_grace=0s"}, "--orphan_grace must be positive"},
      {gw, {"--orphan_grace=0s"}, "--orphan_grace must be positive"},
      {s3, {"--max_handshakes=x"}, "bad value \"x\" for --max_handshakes"},
      {s3, {}, "environment variable TESSERA_WORKER_THREADS", {"TESSERA_WORKER_THREADS=abc"}},
      {s3, {"--tls_cert_file=c.pem"}, "tls"},
      {gw, {"--bogus_flag=1"}, "command line: unknown flag --bogus_flag"},
      {gw, {"--shutdown_grace=-1s"}, "--shutdown_grace must not be negative"},
      {gw,
       {"--tls_cert_file=c", "--tls_key_file=k", "--tls_refresh_interval=0s"},
       "--tls_refresh_interval"},
      {gw, {"--k=0"}, "data_shards (k)"},
      {gw, {}, "environment variable TESSERA_LOG_LEVEL", {"TESSERA_LOG_LEVEL=loud"}},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {c.binary};
    argv.insert(argv.end(), base.begin(), base.end());
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    Process p("bad_config", argv, c.env);
    const int status = p.Wait(absl::Seconds(60));
    const std::string what = absl::StrCat(c.binary, " ", absl::StrJoin(c.args, " "));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << what << ": status " << status;
    const std::string err = p.err();
    EXPECT_TRUE(absl::StrContains(err, c.message)) << what << ": " << err;
    const std::vector<std::string> lines = absl::StrSplit(err, '\n', absl::SkipEmpty());
    EXPECT_EQ(lines.size(), 1u) << what << ": " << err;
    EXPECT_TRUE(p.out().empty()) << what << " printed: " << p.out();
  }
}

}  // namespace
}  // namespace tessera::testing
