#include "api/sdk/embedded_client.h"

#include <sodium.h>
#include <sys/stat.h>

#include <cstdlib>
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
#include "api/sdk/sealing.h"
#include "base/sodium.h"
#include "base/testing/status_matchers.h"
#include "base/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "services/gatewayd/gateway_server.h"
#include "services/object/object_backend.h"
#include "services/object/replicated_test_cluster.h"
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
  SecureRandomBytes(data.data(), data.size());
  const size_t marker = sizeof(kMarker) - 1;
  for (size_t pos = 0; pos + marker <= size; pos += 4096) data.replace(pos, marker, kMarker);
  return data;
}

struct User {
  std::string key, secret, id;
};
const User kAlice{"ALICEACCESSKEY000001", "alice-secret-key-000000000001", "alice"};
const User kBob{"BOBACCESSKEY00000001", "bob-secret-key-00000000000001", "bob"};

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

// A real tessera-gateway (GatewayServer, in process, gRPC over loopback) over a 6-node secured
// ReplicatedTestCluster. The embedded client only knows the gateway's address and a user's
// credentials: no cluster secret, no node address.
class EmbeddedClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    services::testing::ReplicatedClusterOptions o;
    o.nodes = 6;
    o.data.stripe_size = 64 << 10;
    o.data.inline_threshold = 1 << 10;
    cluster_ = new services::testing::ReplicatedTestCluster(o);
    ASSERT_OK(cluster_->status());
    const std::string master = TmpDir() + "/e2e_master.key";
    ASSERT_OK(storage::GenerateMasterKeyFile(master, 1));
    const std::string users = TmpDir() + "/e2e_users.ini";
    {
      std::ofstream out(users);
      for (const User& u : {kAlice, kBob}) {
        out << "[" << u.id << "]\naccess_key = " << u.key << "\nsecret_key = " << u.secret << "\n";
      }
    }
    ASSERT_EQ(::chmod(users.c_str(), 0600), 0);
    registry_ = new Registry();
    services::GatewayServerOptions g;
    for (int i = 0; i < cluster_->size(); ++i) g.seeds.push_back(cluster_->address(i));
    g.cluster_secret_file = cluster_->secret_file();
    g.master_key_file = master;
    g.credentials_file = users;
    g.data.stripe_size = 64 << 10;
    g.data.inline_threshold = 1 << 10;
    g.gc_interval = absl::ZeroDuration();
    g.orphan_interval = absl::ZeroDuration();
    g.registry = registry_;
    ASSERT_OK_AND_ASSIGN(auto server, services::GatewayServer::Start(g));
    server_ = server.release();
    endpoint_ = new std::string(absl::StrCat("127.0.0.1:", server_->port()));
  }
  static void TearDownTestSuite() {
    delete server_;
    delete registry_;
    delete endpoint_;
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override { ASSERT_OK(cluster_->status()); }

  static ClientOptions Credentials(const User& user) {
    ClientOptions c;
    c.access_key_id = user.key;
    c.secret_access_key = user.secret;
    return c;
  }

  static EmbeddedClientOptions Options(const std::string& key_file, const User& user = kAlice) {
    EmbeddedClientOptions o;
    o.endpoint = *endpoint_;
    o.client = Credentials(user);
    o.client_key_file = key_file;
    o.stripe_size = 64 << 10;
    return o;
  }

  static std::unique_ptr<Client> PlainClient(const User& user) {
    auto c = Client::Connect(*endpoint_, Credentials(user));
    EXPECT_OK(c.status());
    return c.ok() ? *std::move(c) : nullptr;
  }

  static services::testing::ReplicatedTestCluster* cluster_;
  static Registry* registry_;
  static services::GatewayServer* server_;
  static std::string* endpoint_;
};

services::testing::ReplicatedTestCluster* EmbeddedClientTest::cluster_ = nullptr;
Registry* EmbeddedClientTest::registry_ = nullptr;
services::GatewayServer* EmbeddedClientTest::server_ = nullptr;
std::string* EmbeddedClientTest::endpoint_ = nullptr;

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

TEST(EmbeddedClientOptionsTest, NeedsAGatewayAndAKeyNotTheCluster) {
  EmbeddedClientOptions o;
  EXPECT_THAT(o.Validate(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("endpoint")));
  o.endpoint = "127.0.0.1:1";
  EXPECT_THAT(o.Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("client_key_file")));
  o.client_key_file = "/nonexistent.key";
  EXPECT_OK(o.Validate());
  o.stripe_size = kMaxSealedStripePlaintext + 1;
  EXPECT_THAT(o.Validate(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("stripe_size")));
  o.stripe_size = 1 << 16;
  EXPECT_THAT(EmbeddedClient::Open(o), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(EmbeddedClientTest, RoundTripThroughTheGatewayWhichNeverSeesPlaintextOrKey) {
  const std::string key_file = NewKeyFile("roundtrip.key");
  ASSERT_OK(GenerateClientKeyFile(key_file));
  const std::string raw_key = RawKey(key_file);
  ASSERT_EQ(raw_key.size(), 32u);
  ASSERT_OK_AND_ASSIGN(auto client, EmbeddedClient::Open(Options(key_file)));
  ASSERT_OK(client->CreateBucket("secrets").status());

  const std::string big = MarkedData(5 * (64 << 10) + 12345);  // 6 stripes
  const std::string small = absl::StrCat(kMarker, " small object");
  ASSERT_OK_AND_ASSIGN(ObjectInfo info, client->PutObject("secrets", "big.bin", big));
  EXPECT_EQ(info.size, big.size());
  ASSERT_OK(client->PutObject("secrets", "small.txt", small).status());
  ASSERT_OK(client->PutObject("secrets", "empty", "").status());

  ASSERT_OK_AND_ASSIGN(std::string back, client->GetObject("secrets", "big.bin"));
  EXPECT_TRUE(back == big);
  ASSERT_OK_AND_ASSIGN(std::string back_small, client->GetObject("secrets", "small.txt"));
  EXPECT_EQ(back_small, small);
  ASSERT_OK_AND_ASSIGN(std::string back_empty, client->GetObject("secrets", "empty"));
  EXPECT_EQ(back_empty, "");
  for (const auto& [offset, length] : std::vector<std::pair<uint64_t, uint64_t>>{
           {(64 << 10) - 10, 100}, {0, 1}, {big.size() - 5, 0}, {3 * (64 << 10), 64 << 10}}) {
    GetOptions range;
    range.offset = offset;
    range.length = length;
    ASSERT_OK_AND_ASSIGN(std::string part, client->GetObject("secrets", "big.bin", range));
    EXPECT_TRUE(part == big.substr(offset, length == 0 ? std::string::npos : length))
        << offset << "+" << length;
  }

  // The manifest says the object is client-sealed, under this client's key id.
  ASSERT_OK_AND_ASSIGN(auto ring, storage::LoadMasterKeyFile(key_file));
  ASSERT_OK_AND_ASSIGN(auto backend, cluster_->OpenGateway());
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest m, backend->store().GetLatest("secrets", "big.bin"));
  EXPECT_EQ(m.encryption().key_source(), v1::EncryptionParams::CLIENT_SEALED);
  EXPECT_EQ(m.encryption().key_id(), ring->key_ids()[0]);
  EXPECT_EQ(m.encryption().client_upload_nonce().size(), kUploadNonceSize);
  EXPECT_EQ(m.parts(0).stripes_size(), 6);

  ASSERT_OK_AND_ASSIGN(ListPage page, client->ListObjects("secrets"));
  EXPECT_EQ(page.objects.size(), 3u);

  // Nothing on any node (slices, RocksDB, metadata) holds the plaintext or the key, in raw,
  // base64 or hex form.
  std::string b64_key;
  absl::Base64Escape(raw_key, &b64_key);
  EXPECT_TRUE(
      FilesContaining({kMarker, raw_key, b64_key, absl::BytesToHexString(raw_key)}).empty());
  // Sanity: the scan sees the manifests (the object key is stored in clear).
  EXPECT_FALSE(FilesContaining({"small.txt"}).empty());
}

// The default stripe size: the largest sealed stripe still fits one gateway message.
TEST_F(EmbeddedClientTest, DefaultStripeSizeFitsTheGatewaysMessages) {
  const std::string key_file = NewKeyFile("default.key");
  ASSERT_OK(GenerateClientKeyFile(key_file));
  EmbeddedClientOptions o = Options(key_file);
  o.stripe_size = EmbeddedClientOptions().stripe_size;
  ASSERT_OK_AND_ASSIGN(auto client, EmbeddedClient::Open(o));
  ASSERT_OK(client->CreateBucket("e2e-default").status());
  const std::string data = MarkedData(2 * kMaxSealedStripePlaintext + 4321);  // 3 stripes
  ASSERT_OK(client->PutObject("e2e-default", "k", data).status());
  ASSERT_OK_AND_ASSIGN(std::string back, client->GetObject("e2e-default", "k"));
  EXPECT_TRUE(back == data);
}

TEST_F(EmbeddedClientTest, PlainApiRefusesSealedObjectsAndViceVersa) {
  const std::string key_file = NewKeyFile("plain.key");
  ASSERT_OK(GenerateClientKeyFile(key_file));
  ASSERT_OK_AND_ASSIGN(auto client, EmbeddedClient::Open(Options(key_file)));
  std::unique_ptr<Client> plain = PlainClient(kAlice);
  ASSERT_NE(plain, nullptr);
  ASSERT_OK(client->CreateBucket("e2e-plain").status());
  ASSERT_OK(client->PutObject("e2e-plain", "sealed", MarkedData(3 * (64 << 10))).status());
  // Through the plain API: a clear error, never the ciphertext as data.
  size_t sunk = 0;
  EXPECT_THAT(plain->GetObjectToSink("e2e-plain", "sealed",
                                     [&](absl::string_view d) {
                                       sunk += d.size();
                                       return absl::OkStatus();
                                     }),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("sealed end to end")));
  EXPECT_EQ(sunk, 0u);
  // Metadata stays visible.
  ASSERT_OK_AND_ASSIGN(ObjectInfo head, plain->HeadObject("e2e-plain", "sealed"));
  EXPECT_EQ(head.size, 3u * (64 << 10));
  // And the sealing client refuses a plain object.
  ASSERT_OK(plain->PutObject("e2e-plain", "plain", std::string(5000, 'p')).status());
  EXPECT_THAT(client->GetObject("e2e-plain", "plain"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not sealed")));
}

TEST_F(EmbeddedClientTest, OtherUsersAndOtherKeysAreRefused) {
  const std::string key_file = NewKeyFile("right.key");
  const std::string other_file = NewKeyFile("other.key");
  ASSERT_OK(GenerateClientKeyFile(key_file));
  ASSERT_OK(GenerateClientKeyFile(other_file));
  ASSERT_OK_AND_ASSIGN(auto client, EmbeddedClient::Open(Options(key_file)));
  ASSERT_OK(client->CreateBucket("e2e-wrong").status());
  ASSERT_OK(client->PutObject("e2e-wrong", "big", MarkedData(2 * (64 << 10) + 7)).status());
  ASSERT_OK(client->PutObject("e2e-wrong", "tiny", "x").status());

  // Another user holding the very same key is still stopped by the bucket's ACL.
  ASSERT_OK_AND_ASSIGN(auto bob, EmbeddedClient::Open(Options(key_file, kBob)));
  EXPECT_THAT(bob->GetObject("e2e-wrong", "tiny"), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(bob->PutObject("e2e-wrong", "bobs", "b"),
              StatusIs(absl::StatusCode::kPermissionDenied));

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
  ASSERT_OK_AND_ASSIGN(std::string tiny, client->GetObject("e2e-wrong", "tiny"));
  EXPECT_EQ(tiny, "x");
}

// What a hostile gateway or node could store instead of what the client sent: stripes altered,
// swapped, or the object cut short. The gateway accepts them (it cannot tell); the client's open
// refuses, and no byte of a bad stripe reaches the sink.
TEST_F(EmbeddedClientTest, TamperedReorderedOrTruncatedObjectsFailToOpen) {
  const std::string key_file = NewKeyFile("tamper.key");
  ASSERT_OK(GenerateClientKeyFile(key_file));
  ASSERT_OK_AND_ASSIGN(auto ring, storage::LoadMasterKeyFile(key_file));
  ASSERT_OK_AND_ASSIGN(auto client, EmbeddedClient::Open(Options(key_file)));
  std::unique_ptr<Client> raw = PlainClient(kAlice);
  ASSERT_NE(raw, nullptr);
  ASSERT_OK(client->CreateBucket("e2e-tamper").status());
  const std::string a(1000, 'a'), b(1000, 'b'), c(500, 'c');

  // Uploads `stripes` for bucket/key exactly as given (positions as the gateway will record them).
  auto upload = [&](const std::string& key, const ClientSealing& sealing,
                    std::vector<SealedStripe> stripes) {
    size_t i = 0;
    return raw->PutSealedObject("e2e-tamper", key, sealing,
                                [&]() -> absl::StatusOr<SealedStripe> { return stripes[i++]; });
  };
  auto seal3 = [&](const std::string& key) {
    auto sealer = StripeSealer::Create(*ring, "e2e-tamper", key);
    EXPECT_OK(sealer.status());
    std::vector<SealedStripe> s;
    s.push_back(*(*sealer)->Seal(0, 0, a, false));
    s.push_back(*(*sealer)->Seal(1, 1000, b, false));
    s.push_back(*(*sealer)->Seal(2, 2000, c, true));
    return std::make_pair((*sealer)->sealing(), s);
  };
  auto get = [&](const std::string& key, std::string* got) {
    return client->GetObjectToSink("e2e-tamper", key, [got](absl::string_view d) {
      got->append(d.data(), d.size());
      return absl::OkStatus();
    });
  };
  const auto lost = StatusIs(absl::StatusCode::kDataLoss);

  {  // Untouched: reads back.
    auto [sealing, s] = seal3("good");
    ASSERT_OK(upload("good", sealing, s).status());
    std::string got;
    ASSERT_OK(get("good", &got).status());
    EXPECT_EQ(got, a + b + c);
  }
  {  // Tampered: one bit of stripe 1.
    auto [sealing, s] = seal3("tampered");
    s[1].sealed[s[1].sealed.size() / 2] ^= 1;
    ASSERT_OK(upload("tampered", sealing, s).status());
    std::string got;
    EXPECT_THAT(get("tampered", &got), lost);
    EXPECT_EQ(got, a);  // stripe 0 only: nothing of the bad stripe
  }
  {  // Reordered: stripes 0 and 1 swapped (positions relabelled to look consistent).
    auto [sealing, s] = seal3("reordered");
    std::swap(s[0].sealed, s[1].sealed);
    ASSERT_OK(upload("reordered", sealing, s).status());
    std::string got;
    EXPECT_THAT(get("reordered", &got), lost);
    EXPECT_EQ(got, "");
  }
  {  // Truncated: the final stripe dropped, stripe 1 claimed last.
    auto [sealing, s] = seal3("truncated");
    s.pop_back();
    s[1].last = true;
    ASSERT_OK(upload("truncated", sealing, s).status());
    std::string got;
    EXPECT_THAT(get("truncated", &got), lost);
    EXPECT_EQ(got, a);
  }
  {  // Moved: another object's stripes and sealing stored under this key.
    auto [sealing, s] = seal3("original");
    ASSERT_OK(upload("moved", sealing, s).status());
    std::string got;
    EXPECT_THAT(get("moved", &got), StatusIs(absl::StatusCode::kPermissionDenied));
    EXPECT_EQ(got, "");
  }
}

}  // namespace
}  // namespace tessera::sdk
