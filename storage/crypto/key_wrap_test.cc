#include "storage/crypto/key_wrap.h"

#include <atomic>
#include <thread>
#include <vector>

#include "base/status_reasons.h"
#include "gtest/gtest.h"

namespace tessera::storage {
namespace {

TEST(WrappedKeyTest, SerializeParseRoundTrip) {
  MasterKeyring ring;
  ASSERT_TRUE(ring.Add(0x01020304, SecretKey::Generate()).ok());
  absl::StatusOr<WrappedKey> wrapped = ring.Wrap(SecretKey::Generate());
  ASSERT_TRUE(wrapped.ok());
  const std::string bytes = wrapped->Serialize();
  ASSERT_EQ(bytes.size(), WrappedKey::kSerializedSize);
  EXPECT_EQ(bytes[0], 1);
  EXPECT_EQ(bytes.substr(1, 4), std::string("\x01\x02\x03\x04"));
  absl::StatusOr<WrappedKey> parsed = WrappedKey::Parse(bytes);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, *wrapped);
  EXPECT_EQ(WrappedKey::Parse(bytes.substr(1)).status().code(), absl::StatusCode::kDataLoss);
  std::string bad_version = bytes;
  bad_version[0] = 0;
  EXPECT_EQ(WrappedKey::Parse(bad_version).status().code(), absl::StatusCode::kDataLoss);
  // A newer format (whatever its size) is refused as such, not reported as corruption.
  std::string newer = bytes;
  newer[0] = 2;
  for (const std::string& b : {newer, newer + "longer"}) {
    absl::Status s = WrappedKey::Parse(b).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_TRUE(IsNewerFormat(s)) << s;
  }
}

TEST(MasterKeyringTest, WrapUnwrapRoundTrip) {
  MasterKeyring ring;
  ASSERT_TRUE(ring.Add(7, SecretKey::Generate()).ok());
  SecretKey data_key = SecretKey::Generate();
  absl::StatusOr<WrappedKey> wrapped = ring.Wrap(data_key, "version-id-0001");
  ASSERT_TRUE(wrapped.ok());
  EXPECT_EQ(wrapped->key_id, 7u);
  absl::StatusOr<SecretKey> unwrapped = ring.Unwrap(*wrapped, "version-id-0001");
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status();
  EXPECT_TRUE(unwrapped->Equals(data_key));
  // Two wraps of one key differ (fresh nonce).
  absl::StatusOr<WrappedKey> again = ring.Wrap(data_key, "version-id-0001");
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->nonce, wrapped->nonce);
  EXPECT_NE(again->ciphertext, wrapped->ciphertext);
}

TEST(MasterKeyringTest, WrongMasterKeyFails) {
  MasterKeyring ring;
  ASSERT_TRUE(ring.Add(1, SecretKey::Generate()).ok());
  MasterKeyring impostor;  // same id, different key bytes
  ASSERT_TRUE(impostor.Add(1, SecretKey::Generate()).ok());
  absl::StatusOr<WrappedKey> wrapped = ring.Wrap(SecretKey::Generate());
  ASSERT_TRUE(wrapped.ok());
  EXPECT_EQ(impostor.Unwrap(*wrapped).status().code(), absl::StatusCode::kDataLoss);
}

TEST(MasterKeyringTest, UnknownKeyIdIsNotFound) {
  MasterKeyring ring;
  ASSERT_TRUE(ring.Add(1, SecretKey::Generate()).ok());
  absl::StatusOr<WrappedKey> wrapped = ring.Wrap(SecretKey::Generate());
  ASSERT_TRUE(wrapped.ok());
  MasterKeyring other;
  ASSERT_TRUE(other.Add(2, SecretKey::Generate()).ok());
  absl::StatusOr<SecretKey> result = other.Unwrap(*wrapped);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(result.status().message().find("master key id 1"), absl::string_view::npos);
}

TEST(MasterKeyringTest, ContextAndKeyIdAreBound) {
  MasterKeyring ring;
  ASSERT_TRUE(ring.Add(1, SecretKey::Generate()).ok());
  absl::StatusOr<WrappedKey> wrapped = ring.Wrap(SecretKey::Generate(), "object-a");
  ASSERT_TRUE(wrapped.ok());
  EXPECT_EQ(ring.Unwrap(*wrapped, "object-b").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ring.Unwrap(*wrapped).status().code(), absl::StatusCode::kDataLoss);

  // Relabelling to another key id that holds the same key bytes still fails: the id is in the AD.
  MasterKeyring twin;
  SecretKey master = SecretKey::Generate();
  ASSERT_TRUE(twin.Add(1, master.Clone()).ok());
  ASSERT_TRUE(twin.Add(2, master.Clone()).ok());
  absl::StatusOr<WrappedKey> w1 = twin.Wrap(SecretKey::Generate());
  ASSERT_TRUE(w1.ok());
  WrappedKey relabelled = *w1;
  relabelled.key_id = 2;
  EXPECT_EQ(twin.Unwrap(relabelled).status().code(), absl::StatusCode::kDataLoss);

  WrappedKey flipped = *w1;
  flipped.ciphertext[40] ^= 1;  // in the tag
  EXPECT_EQ(twin.Unwrap(flipped).status().code(), absl::StatusCode::kDataLoss);
  flipped = *w1;
  flipped.nonce[0] ^= 0x80;
  EXPECT_EQ(twin.Unwrap(flipped).status().code(), absl::StatusCode::kDataLoss);
}

TEST(MasterKeyringTest, RotationKeepsOldKeysUnwrappable) {
  MasterKeyring ring;
  ASSERT_TRUE(ring.Add(1, SecretKey::Generate()).ok());
  SecretKey old_data = SecretKey::Generate();
  absl::StatusOr<WrappedKey> old_wrapped = ring.Wrap(old_data);
  ASSERT_TRUE(old_wrapped.ok());

  ASSERT_TRUE(ring.Add(2, SecretKey::Generate()).ok());
  EXPECT_EQ(ring.active_key_id(), 1u);  // adding does not activate
  ASSERT_TRUE(ring.SetActive(2).ok());
  EXPECT_EQ(ring.active_key_id(), 2u);
  EXPECT_EQ(ring.key_ids(), (std::vector<MasterKeyId>{1, 2}));

  SecretKey new_data = SecretKey::Generate();
  absl::StatusOr<WrappedKey> new_wrapped = ring.Wrap(new_data);
  ASSERT_TRUE(new_wrapped.ok());
  EXPECT_EQ(new_wrapped->key_id, 2u);

  absl::StatusOr<SecretKey> a = ring.Unwrap(*old_wrapped);
  absl::StatusOr<SecretKey> b = ring.Unwrap(*new_wrapped);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(a->Equals(old_data));
  EXPECT_TRUE(b->Equals(new_data));
}

TEST(MasterKeyringTest, Errors) {
  MasterKeyring ring;
  EXPECT_EQ(ring.Wrap(SecretKey::Generate()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ring.Add(0, SecretKey::Generate()).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(ring.Add(3, SecretKey::Generate()).ok());
  EXPECT_EQ(ring.Add(3, SecretKey::Generate()).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ring.SetActive(4).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(ring.Contains(3));
  EXPECT_FALSE(ring.Contains(4));
}

TEST(MasterKeyringTest, ConcurrentWrapDuringRotation) {
  MasterKeyring ring;
  ASSERT_TRUE(ring.Add(1, SecretKey::Generate()).ok());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 300; ++i) {
        SecretKey k = SecretKey::Generate();
        absl::StatusOr<WrappedKey> w = ring.Wrap(k);
        if (!w.ok()) {
          ++failures;
          continue;
        }
        absl::StatusOr<SecretKey> u = ring.Unwrap(*w);
        if (!u.ok() || !u->Equals(k)) ++failures;
      }
    });
  }
  for (MasterKeyId id = 2; id <= 20; ++id) {
    ASSERT_TRUE(ring.Add(id, SecretKey::Generate()).ok());
    ASSERT_TRUE(ring.SetActive(id).ok());
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace tessera::storage
