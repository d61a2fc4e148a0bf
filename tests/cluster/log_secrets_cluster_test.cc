// Logs never carry a secret (issue 15, Operations): 6 tessera-node, one tessera-gateway and one
// tessera-s3, all at --log_level=debug with --log_format=json, serve real traffic (S3 and gRPC
// writes and reads, a request with a wrong signature, an unknown access key, a SIGHUP reload of
// the S3 credentials, a node restart). Then no process's log contains the cluster secret, a
// master key, or an S3 secret key (right or wrong), in hex or in base64, and every log line is
// one JSON object.
#include <signal.h>

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/cluster/process_cluster.h"
#include "tests/cluster/s3_test_client.h"

namespace tessera::testing {
namespace {

// The 32-byte secrets of a key file (64 hex digits, or 44 characters of base64: the formats of
// storage/crypto/key_file.h and p2p/auth/cluster_secret.h), raw.
std::vector<std::string> RawSecrets(const std::string& text) {
  std::vector<std::string> out;
  for (absl::string_view token :
       absl::StrSplit(text, absl::ByAnyChar(" \n\t"), absl::SkipEmpty())) {
    if (token.size() == 64 &&
        token.find_first_not_of("0123456789abcdefABCDEF") == absl::string_view::npos) {
      out.push_back(absl::HexStringToBytes(token));
      continue;
    }
    std::string raw;
    if (token.size() == 44 && absl::Base64Unescape(token, &raw) && raw.size() == 32) {
      out.push_back(raw);
    }
  }
  return out;
}

TEST(LogSecretsClusterTest, NoLogLineCarriesASecret) {
  ProcessClusterOptions o;
  o.gateways = 1;
  o.s3_gateways = 1;
  o.front_end_log_level = "debug";
  o.s3_flags = {"--log_format=json"};
  o.gateway_flags = {"--log_format=json"};
  o.node_args.assign(o.nodes, {"--log_level=debug", "--log_format=json"});
  ProcessCluster cluster(o);

  const std::string wrong_secret = "wrong-secret-key-for-the-tester-00";
  // Traffic: S3 bucket, objects, reads; a wrong signature and an unknown key.
  S3TestClient s3(cluster.s3_port(), ProcessCluster::access_key(), ProcessCluster::secret_key());
  auto made = s3.Request("PUT", "/logbucket");
  ASSERT_TRUE(made.ok() && made->status == 200) << (made.ok() ? made->body : "");
  for (int i = 0; i < 5; ++i) {
    const std::string key = absl::StrCat("obj", i);
    auto put = s3.Put("logbucket", key, std::string(300 << 10, static_cast<char>('a' + i)));
    ASSERT_TRUE(put.ok() && put->status == 200) << key;
    auto got = s3.Get("logbucket", key);
    ASSERT_TRUE(got.ok() && got->status == 200) << key;
  }
  S3TestClient forger(cluster.s3_port(), ProcessCluster::access_key(), wrong_secret);
  auto forged = forger.Get("logbucket", "obj0");
  ASSERT_TRUE(forged.ok());
  EXPECT_EQ(forged->status, 403);
  S3TestClient stranger(cluster.s3_port(), "UNKNOWNACCESSKEY0001", wrong_secret);
  auto unknown = stranger.Get("logbucket", "obj0");
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->status, 403);
  // gRPC through the gateway (SDK-signed calls).
  ASSERT_TRUE(cluster.client().PutObject("logbucket", "grpc", std::string(200 << 10, 'g')).ok());
  ASSERT_TRUE(cluster.client().GetObject("logbucket", "grpc").ok());
  // A credentials reload and a node restart (rejoin, hand-offs).
  cluster.SignalS3(0, SIGHUP);
  cluster.RestartNode(5);
  ASSERT_TRUE(cluster.WaitAlive(6));
  absl::SleepFor(absl::Seconds(2));  // let the reload and the rejoin be logged

  std::vector<std::string> secrets = {ProcessCluster::secret_key(), wrong_secret};
  for (const std::string& file : {cluster.secret_file(), cluster.key_file()}) {
    std::vector<std::string> raw = RawSecrets(ReadAll(file));
    ASSERT_FALSE(raw.empty()) << file << " has no 32-byte secret";
    for (const std::string& r : raw) {
      const std::string hex = absl::BytesToHexString(r);
      secrets.push_back(hex);
      secrets.push_back(absl::AsciiStrToUpper(hex));
      secrets.push_back(absl::Base64Escape(r));
      secrets.push_back(absl::WebSafeBase64Escape(r));
    }
  }
  std::vector<std::pair<std::string, std::string>> logs = {{"s3", cluster.s3_stderr(0)},
                                                           {"gateway", cluster.gateway_stderr(0)}};
  for (int i = 0; i < o.nodes; ++i) {
    logs.emplace_back(absl::StrCat("node", i), cluster.node_stderr(i));
  }
  size_t lines = 0;
  for (const auto& [name, text] : logs) {
    for (const std::string& secret : secrets) {
      EXPECT_FALSE(absl::StrContains(text, secret)) << name << "'s log contains a secret";
    }
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
      ++lines;
      EXPECT_TRUE(absl::StartsWith(line, "{\"") && absl::EndsWith(line, "}"))
          << name << ": not a JSON log line: " << line;
    }
  }
  // Debug logging of all that traffic is not silent: the check looked at real output.
  EXPECT_GT(lines, 50u);
  std::printf("log secrets: %zu log lines of 8 processes checked for %zu secret encodings\n", lines,
              secrets.size());
}

}  // namespace
}  // namespace tessera::testing
