#include "api/sdk/embedded_client.h"

#include <sodium.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/testing/status_matchers.h"
#include "base/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "services/gateway/gateway_backend.h"
#include "services/gateway/replicated_test_cluster.h"
#include "storage/crypto/key_file.h"

namespace tessera::sdk {
namespace {

using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kMarker[] = "E2E-PLAINTEXT-MARKER-7f3a9c";

std::string TmpDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return tmp != nullptr ? tmp : "/tmp";
}

std::string NewKeyFile(const std::string& name) {
  // A fresh directory per key: "never overwrites" would refuse a previous repetition's file.
  return absl::StrCat(::tessera::testing::UniqueTestDir("keys"), "/", name);
}

// The raw 32 key bytes in a freshly generated key file (one "<id> <base64>" line).
std::string RawKey(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || absl::StartsWith(line, "active")) continue;
    std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    std::string raw;
    if (parts.size() == 2 && absl::Base64Unescape(parts[1], &raw)) return raw;
  }
  return "";
}

// Random bytes (incompressible) with the marker every 4 KiB.
std::string MarkedData(size_t size) {
  std::string data(size, '\0');
  randombytes_buf(data.data(), data.size());
  const size_t marker = sizeof(kMarker) - 1;
  for (size_t pos = 0; pos + marker <= size; pos += 4096) data.replace(pos, marker, kMarker);
  return data;
}

// Every file under the cluster's directories (node data dirs, RocksDB, metadata) that contains
// one of `needles`.
std::vector<std::string> FilesContaining(const std::vector<std::string>& needles) {
  std::vector<std::string> hits;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(TmpDir())) {
    if (!entry.is_regular_file()) continue;
    const std::string path = entry.path().string();
    if (!absl::StrContains(path, "/rcluster_")) continue;
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string contents = ss.str();
    for (const std::string& n : needles) {
      if (!n.empty() && absl::StrContains(contents, n)) hits.push_back(path);
    }
  }
  return hits;
}

class EmbeddedClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_EQ(sodium_init() >= 0, true);
    services::testing::ReplicatedClusterOptions o;
    o.nodes = 6;
    o.data.stripe_size = 64 << 10;
    o.data.inline_threshold = 1 << 10;
    cluster_ = new services::testing::ReplicatedTestCluster(o);
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override { ASSERT_OK(cluster_->status()); }

  EmbeddedClientOptions Options(const std::string& key_file) const {
    EmbeddedClientOptions o;
    for (int i = 0; i < cluster_->size(); ++i) o.seeds.push_back(cluster_->address(i));
    o.auth = cluster_->auth();
    o.client_key_file = key_file;
    o.data.stripe_size = 64 << 10;
    o.data.inline_threshold = 1 << 10;
    o.threads = 4;
    o.membership_refresh = absl::Milliseconds(200);
    return o;
  }

  static services::testing::ReplicatedTestCluster* cluster_;
};

services::testing::ReplicatedTestCluster* EmbeddedClientTest::cluster_ = nullptr;

TEST(GenerateClientKeyFileTest, Mode0600RandomIdNeverOverwrites) {
  const std::string a = NewKeyFile("gen_a.key");
  const std::string b = NewKeyFile("gen_b.key");
  ASSERT_OK(GenerateClientKeyFile(a));
  ASSERT_OK(GenerateClientKeyFile(b));
  struct stat st;
  ASSERT_EQ(stat(a.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_THAT(GenerateClientKeyFile(a), StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_OK_AND_ASSIGN(auto ring_a, storage::LoadMasterKeyFile(a));
  ASSERT_OK_AND_ASSIGN(auto ring_b, storage::LoadMasterKeyFile(b));
  ASSERT_EQ(ring_a->key_ids().size(), 1u);
  EXPECT_NE(ring_a->key_ids()[0], 0u);
  EXPECT_NE(RawKey(a), RawKey(b));
  EXPECT_EQ(RawKey(a).size(), 32u);
}

TEST(EmbeddedClientOptionsTest, RequiresKeyAndTransport) {
  EmbeddedClientOptions o;
  EXPECT_THAT(o.Validate(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("seeds")));
  o.seeds = {"127.0.0.1:1"};
  EXPECT_THAT(o.Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cluster_secret_file")));
  o.cluster_secret_file = "/nonexistent";
  EXPECT_THAT(o.Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("client_key_file")));
  o.client_key_file = "/nonexistent.key";
  EXPECT_OK(o.Validate());
  EXPECT_THAT(EmbeddedClient::Open(o), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(EmbeddedClientTest, RoundTripIsByteExactAndNoServerSeesPlaintextOrKey) {
  const std::string key_file = NewKeyFile("roundtrip.key");
  ASSERT_OK(GenerateClientKeyFile(key_file));
  const std::string raw_key = RawKey(key_file);
  ASSERT_EQ(raw_key.size(), 32u);
  ASSERT_OK_AND_ASSIGN(auto client, EmbeddedClient::Open(Options(key_file)));
  ASSERT_OK(client->CreateBucket("secrets").status());

  const std::string big = MarkedData(5 * (64 << 10) + 12345);  // 6 stripes
  const std::string small = absl::StrCat(kMarker, " inline object");
  ASSERT_OK_AND_ASSIGN(ObjectInfo info, client->PutObject("secrets", "big.bin", big));
  EXPECT_EQ(info.size, big.size());
  ASSERT_OK(client->PutObject("secrets", "small.txt", small).status());

  ASSERT_OK_AND_ASSIGN(std::string back, client->GetObject("secrets", "big.bin"));
  EXPECT_TRUE(back == big);
  ASSERT_OK_AND_ASSIGN(std::string back_small, client->GetObject("secrets", "small.txt"));
  EXPECT_EQ(back_small, small);
  GetOptions range;
  range.offset = (64 << 10) - 10;
  range.length = 100;
  ASSERT_OK_AND_ASSIGN(std::string part, client->GetObject("secrets", "big.bin", range));
  EXPECT_EQ(part, big.substr(range.offset, 100));

  // Manifests record the client key.
  ASSERT_OK_AND_ASSIGN(auto ring, storage::LoadMasterKeyFile(key_file));
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest m,
                       client->backend().store().GetLatest("secrets", "big.bin"));
  EXPECT_EQ(m.encryption().key_source(), v1::EncryptionParams::CLIENT_KEY);
  EXPECT_EQ(m.encryption().key_id(), ring->key_ids()[0]);
  EXPECT_GE(m.parts(0).stripes_size(), 6);

  ASSERT_OK_AND_ASSIGN(ListPage page, client->ListObjects("secrets"));
  EXPECT_EQ(page.objects.size(), 2u);

  // Nothing on any node (slices, RocksDB, metadata) holds the plaintext or the key, in raw,
  // base64 or hex form. The scan has to be able to find things: the data dirs are non-empty.
  std::string b64_key;
  absl::Base64Escape(raw_key, &b64_key);
  EXPECT_TRUE(
      FilesContaining({kMarker, raw_key, b64_key, absl::BytesToHexString(raw_key)}).empty());
  // Sanity: the scan sees the manifests (the object key is stored in clear).
  EXPECT_FALSE(FilesContaining({"small.txt"}).empty());
}

TEST_F(EmbeddedClientTest, GatewayRefusesClearlyAndNeverUnwraps) {
  const std::string key_file = NewKeyFile("gw.key");
  ASSERT_OK(GenerateClientKeyFile(key_file));
  ASSERT_OK_AND_ASSIGN(auto client, EmbeddedClient::Open(Options(key_file)));
  ASSERT_OK(client->CreateBucket("e2e-gw").status());
  const std::string data = MarkedData(3 * (64 << 10));
  ASSERT_OK(client->PutObject("e2e-gw", "obj", data).status());
  ASSERT_OK(client->PutObject("e2e-gw", "tiny", "hi").status());

  // A gateway whose master keyring even holds a key under the client key's id: it must refuse
  // before unwrapping (an unwrap attempt would give DATA_LOSS).
  ASSERT_OK_AND_ASSIGN(auto client_ring, storage::LoadMasterKeyFile(key_file));
  storage::MasterKeyring master;
  ASSERT_OK(master.Add(client_ring->key_ids()[0], storage::SecretKey::Generate()));
  services::GatewayBackendOptions go = cluster_->GatewayOptions();
  go.keyring = &master;
  ASSERT_OK_AND_ASSIGN(auto gateway, services::OpenGatewayBackend(go));
  for (const char* key : {"obj", "tiny"}) {
    int sunk = 0;
    auto got = gateway->objects().GetObject("e2e-gw", key, {}, [&](absl::string_view) {
      ++sunk;
      return absl::OkStatus();
    });
    EXPECT_THAT(got, StatusIs(absl::StatusCode::kFailedPrecondition,
                              HasSubstr("end-to-end encrypted with a client key")));
    EXPECT_THAT(got.status().message(), HasSubstr("read it with the SDK's embedded client"));
    EXPECT_EQ(sunk, 0);
  }
  // Metadata stays visible to the gateway.
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest head, gateway->objects().HeadObject("e2e-gw", "obj"));
  EXPECT_EQ(head.size(), data.size());

  // And the embedded client refuses gateway-written objects.
  ASSERT_OK(gateway->objects().PutObject("e2e-gw", "plain", std::string(5000, 'p')).status());
  EXPECT_THAT(client->GetObject("e2e-gw", "plain"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("cluster master key")));
}

TEST_F(EmbeddedClientTest, WrongClientKeyIsRefused) {
  const std::string key_file = NewKeyFile("right.key");
  const std::string other_file = NewKeyFile("other.key");
  ASSERT_OK(GenerateClientKeyFile(key_file));
  ASSERT_OK(GenerateClientKeyFile(other_file));
  ASSERT_OK_AND_ASSIGN(auto client, EmbeddedClient::Open(Options(key_file)));
  ASSERT_OK(client->CreateBucket("e2e-wrong").status());
  ASSERT_OK(client->PutObject("e2e-wrong", "big", MarkedData(2 * (64 << 10) + 7)).status());
  ASSERT_OK(client->PutObject("e2e-wrong", "tiny", "x").status());

  // A different key (different id).
  ASSERT_OK_AND_ASSIGN(auto other, EmbeddedClient::Open(Options(other_file)));
  for (const char* key : {"big", "tiny"}) {
    EXPECT_THAT(other->GetObject("e2e-wrong", key),
                StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("does not hold")));
  }

  // Same id, different key bytes.
  ASSERT_OK_AND_ASSIGN(auto ring, storage::LoadMasterKeyFile(key_file));
  storage::MasterKeyring impostor;
  ASSERT_OK(impostor.Add(ring->key_ids()[0], storage::SecretKey::Generate()));
  EmbeddedClientOptions o = Options("");
  o.client_keyring = &impostor;
  ASSERT_OK_AND_ASSIGN(auto same_id, EmbeddedClient::Open(o));
  for (const char* key : {"big", "tiny"}) {
    EXPECT_THAT(same_id->GetObject("e2e-wrong", key),
                StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("does not open it")));
  }
  // The right key still reads.
  ASSERT_OK_AND_ASSIGN(std::string tiny, client->GetObject("e2e-wrong", "tiny"));
  EXPECT_EQ(tiny, "x");
}

}  // namespace
}  // namespace tessera::sdk
