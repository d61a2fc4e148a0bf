// SIGHUP reloads tessera-s3's credentials (issue 15, Operations): 6 tessera-node and one
// tessera-s3. The credentials file is replaced (a new key pair for the user), SIGHUP is sent, and
// from then on the old access key is refused (InvalidAccessKeyId) and the new one accepted,
// without a restart (same process, same port, the bucket still there). A replacement that does
// not load (readable by others) is logged and changes nothing. The TLS half of the reload is
// tested at the server (services/s3/http_server:http_server_test, ReloadTls).
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/cluster/process_cluster.h"
#include "tests/cluster/s3_test_client.h"

namespace tessera::testing {
namespace {

constexpr char kNewAccessKey[] = "ROTATEDACCESSKEY0001";
constexpr char kNewSecretKey[] = "rotated-secret-key-000000000001";

// Replaces `path` atomically (write + rename), with `mode`.
void ReplaceFile(const std::string& path, const std::string& contents, mode_t mode) {
  const std::string tmp = path + ".new";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << contents;
  }
  ASSERT_EQ(::chmod(tmp.c_str(), mode), 0);
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0);
}

// The HTTP status of listing the buckets as `access_key`/`secret_key`; -1 on transport failure.
int ListStatus(int port, const std::string& access_key, const std::string& secret_key,
               std::string* body = nullptr) {
  S3TestClient s3(port, access_key, secret_key);
  auto r = s3.Request("GET", "/");
  if (!r.ok()) return -1;
  if (body != nullptr) *body = r->body;
  return r->status;
}

TEST(S3ReloadClusterTest, SighupSwapsTheCredentials) {
  ProcessClusterOptions o;
  o.gateways = 0;
  o.s3_gateways = 1;
  ProcessCluster cluster(o);
  const int port = cluster.s3_port();
  S3TestClient old_client(port, ProcessCluster::access_key(), ProcessCluster::secret_key());
  auto made = old_client.Request("PUT", "/reload-bucket");
  ASSERT_TRUE(made.ok() && made->status == 200) << (made.ok() ? made->body : "");
  EXPECT_EQ(ListStatus(port, kNewAccessKey, kNewSecretKey), 403);  // not a user yet

  // The same user with a new key pair; the old one is gone from the file.
  ReplaceFile(cluster.credentials_file(),
              absl::StrCat("[tester]\naccess_key = ", kNewAccessKey,
                           "\nsecret_key = ", kNewSecretKey, "\n"),
              0600);
  // Nothing changes before the signal.
  EXPECT_EQ(ListStatus(port, ProcessCluster::access_key(), ProcessCluster::secret_key()), 200);
  cluster.SignalS3(0, SIGHUP);
  std::string body;
  int old_status = 0;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(30); absl::Now() < deadline;
       absl::SleepFor(absl::Milliseconds(50))) {
    old_status =
        ListStatus(port, ProcessCluster::access_key(), ProcessCluster::secret_key(), &body);
    if (old_status == 403) break;
  }
  EXPECT_EQ(old_status, 403) << "the old key is still accepted after SIGHUP";
  EXPECT_TRUE(absl::StrContains(body, "InvalidAccessKeyId")) << body;
  ASSERT_EQ(ListStatus(port, kNewAccessKey, kNewSecretKey, &body), 200) << body;
  EXPECT_TRUE(absl::StrContains(body, "reload-bucket")) << body;  // same data, same process

  // A replacement that does not load (group/other-readable) is refused: the new key stays valid
  // and the failure is logged.
  ReplaceFile(cluster.credentials_file(),
              "[tester]\naccess_key = SOMEOTHERACCESSKEY01\nsecret_key = other-secret-0000000001\n",
              0644);
  cluster.SignalS3(0, SIGHUP);
  std::string err;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
       !absl::StrContains(err, "s3_credentials_reload_failed") && absl::Now() < deadline;
       err = cluster.s3_stderr(0)) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(absl::StrContains(err, "s3_credentials_reload_failed")) << err;
  EXPECT_FALSE(absl::StrContains(err, "other-secret")) << err;  // never a secret
  EXPECT_EQ(ListStatus(port, kNewAccessKey, kNewSecretKey), 200);
  EXPECT_EQ(ListStatus(port, "SOMEOTHERACCESSKEY01", "other-secret-0000000001"), 403);

  // SIGTERM still stops it cleanly.
  const int status = cluster.KillS3(0, SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace tessera::testing
