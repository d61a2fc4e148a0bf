// Master-key rotation and metadata backup with the production binaries and the `tessera` CLI:
// objects written under key 1, `tessera keys add` + gateway restart, `tessera admin
// rotate-master-key` (and its dry run), `tessera keys retire 1` + restart, and every object still
// reads byte-exact; then `tessera admin backup-meta` / `restore-meta` on a stopped node, and the
// keyring restored from a backup.
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/cluster/process_cluster.h"

namespace tessera::testing {
namespace {

CommandResult Tessera(std::vector<std::string> args) { return RunTesseraCli(std::move(args)); }

TEST(KeyRotationClusterTest, RotateRetireAndBackUpMetadata) {
  ProcessClusterOptions o;
  o.stripe_size = 256 << 10;
  ProcessCluster cluster(o);
  ASSERT_TRUE(cluster.client().CreateBucket("data").ok());
  const std::string small = "a small object, stored inline";
  const std::string big = TestBytes(600 << 10, 7);  // three stripes on the nodes
  ASSERT_TRUE(cluster.client().PutObject("data", "small", small).ok());
  ASSERT_TRUE(cluster.client().PutObject("data", "big", big).ok());

  // Step 1: a new active key in the gateway's key file, and the gateway restarted on it.
  CommandResult r = Tessera({"keys", "add", cluster.key_file()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "added master key 2")) << r.out;
  cluster.RestartGateway(0);
  const std::string newer = TestBytes(300 << 10, 8);
  ASSERT_TRUE(cluster.client().PutObject("data", "newer", newer).ok());

  // Step 2: rewrap. The objects written under key 1 are rewrapped, the new one is current.
  const std::vector<std::string> rotate = {
      "admin",
      "rotate-master-key",
      "--seeds=" + absl::StrJoin(cluster.node_addresses(), ","),
      "--cluster_secret_file=" + cluster.secret_file(),
      "--master_key_file=" + cluster.key_file(),
      "--k=4",
      "--m=2"};
  std::vector<std::string> dry = rotate;
  dry.push_back("--dry_run");
  r = Tessera(dry);
  EXPECT_EQ(r.code, 1) << r.out << r.err;  // work remains
  EXPECT_TRUE(absl::StrContains(r.out, "2 to rewrap (dry run)")) << r.out;
  r = Tessera(rotate);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "2 rewrapped, 1 already current")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "0 failed")) << r.out;
  r = Tessera(dry);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "0 rewrapped, 3 already current")) << r.out;

  // Step 3: key 1 retired; a gateway holding only key 2 reads everything.
  r = Tessera({"keys", "retire", cluster.key_file(), "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  cluster.RestartGateway(0);
  for (const auto& [key, data] : std::vector<std::pair<std::string, std::string>>{
           {"small", small}, {"big", big}, {"newer", newer}}) {
    auto got = cluster.client().GetObject("data", key);
    ASSERT_TRUE(got.ok()) << key << ": " << got.status();
    EXPECT_TRUE(*got == data) << key << ": bytes differ";
  }

  // Metadata backup and restore of a stopped node with the CLI.
  const std::string meta = cluster.root() + "/node5/meta";
  cluster.KillNode(5);
  const std::string backup = cluster.root() + "/node5-meta-backup";
  r = Tessera({"admin", "backup-meta", "--meta_dir=" + meta, "--to=" + backup});
  ASSERT_EQ(r.code, 0) << r.err;
  r = Tessera({"admin", "restore-meta", "--from=" + backup, "--meta_dir=" + meta});
  EXPECT_EQ(r.code, 1);  // the store is still there
  EXPECT_TRUE(absl::StrContains(r.err, "move it aside")) << r.err;
  std::filesystem::rename(meta, meta + ".old");
  r = Tessera({"admin", "restore-meta", "--from=" + backup, "--meta_dir=" + meta});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(cluster.RestartNode(5));
  ASSERT_TRUE(cluster.WaitAlive(6));
  auto got = cluster.client().GetObject("data", "big");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == big);

  // Keyring backup and restore (docs/operations.md section 7): the master key file is the only
  // copy of the keys. Backed up after the rotation, lost, and put back from the backup (mode
  // 0600), a restarted gateway reads every object.
  const std::string keyring_backup = cluster.root() + "/master.key.backup";
  std::filesystem::copy_file(cluster.key_file(), keyring_backup);
  ASSERT_EQ(::chmod(keyring_backup.c_str(), 0600), 0);
  std::filesystem::remove(cluster.key_file());
  std::filesystem::copy_file(keyring_backup, cluster.key_file());
  ASSERT_EQ(::chmod(cluster.key_file().c_str(), 0600), 0);
  cluster.RestartGateway(0);
  for (const auto& [key, data] : std::vector<std::pair<std::string, std::string>>{
           {"small", small}, {"big", big}, {"newer", newer}}) {
    auto restored = cluster.client().GetObject("data", key);
    ASSERT_TRUE(restored.ok()) << key << ": " << restored.status();
    EXPECT_TRUE(*restored == data) << key << ": bytes differ after the keyring restore";
  }
}

}  // namespace
}  // namespace tessera::testing
