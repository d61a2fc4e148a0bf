#include "services/s3/http_server/connection_table.h"

#include <vector>

#include "gtest/gtest.h"

namespace tessera::services::s3 {
namespace {

using Ids = std::vector<ConnectionTable::Id>;

TEST(ConnectionTableTest, FullTableEvictsTheOldestSilentConnection) {
  ConnectionTable t(/*max_connections=*/3, /*max_handshakes=*/10);
  Ids evicted;
  ASSERT_TRUE(t.Admit(1, false, &evicted));
  ASSERT_TRUE(t.Admit(2, false, &evicted));
  ASSERT_TRUE(t.Admit(3, false, &evicted));
  EXPECT_TRUE(t.FirstRequest(2));  // 2 is served: not evictable
  EXPECT_TRUE(t.Admit(4, false, &evicted));
  EXPECT_EQ(evicted, Ids({1}));
  EXPECT_TRUE(t.Admit(5, false, &evicted));
  EXPECT_EQ(evicted, Ids({1, 3}));
  EXPECT_EQ(t.open(), 3u);
  // The evicted ones are gone: their late events are refused, their release is a no-op.
  EXPECT_FALSE(t.FirstRequest(1));
  t.Release(3);
  EXPECT_EQ(t.open(), 3u);
}

TEST(ConnectionTableTest, RefusesWhenEveryConnectionHasSentARequest) {
  ConnectionTable t(2, 10);
  Ids evicted;
  ASSERT_TRUE(t.Admit(1, false, &evicted));
  ASSERT_TRUE(t.Admit(2, false, &evicted));
  ASSERT_TRUE(t.FirstRequest(1));
  ASSERT_TRUE(t.FirstRequest(2));
  EXPECT_FALSE(t.Admit(3, false, &evicted));
  EXPECT_TRUE(evicted.empty());
  EXPECT_EQ(t.open(), 2u);
  t.Release(1);
  EXPECT_TRUE(t.Admit(4, false, &evicted));
  EXPECT_TRUE(evicted.empty());
}

TEST(ConnectionTableTest, HandshakesAreBoundedOldestFirst) {
  ConnectionTable t(100, /*max_handshakes=*/2);
  Ids evicted;
  ASSERT_TRUE(t.Admit(1, true, &evicted));
  ASSERT_TRUE(t.Admit(2, true, &evicted));
  ASSERT_TRUE(t.Admit(3, true, &evicted));
  EXPECT_EQ(evicted, Ids({1}));
  EXPECT_EQ(t.handshakes(), 2u);
  EXPECT_FALSE(t.HandshakeDone(1));
  EXPECT_TRUE(t.HandshakeDone(2));  // now awaiting its request: not counted as a handshake
  EXPECT_EQ(t.handshakes(), 1u);
  ASSERT_TRUE(t.Admit(4, true, &evicted));
  EXPECT_EQ(evicted, Ids({1}));
  EXPECT_FALSE(t.FirstRequest(3));  // still handshaking
  EXPECT_TRUE(t.FirstRequest(2));
  EXPECT_EQ(t.embryonic(), 2u);  // 3 and 4
}

TEST(ConnectionTableTest, EvictOldestEmbryonicPicksTheOldestAcrossPhases) {
  ConnectionTable t(100, 100);
  Ids evicted;
  ASSERT_TRUE(t.Admit(1, true, &evicted));
  ASSERT_TRUE(t.Admit(2, true, &evicted));
  ASSERT_TRUE(t.HandshakeDone(1));
  EXPECT_EQ(t.EvictOldestEmbryonic(), 1u);
  EXPECT_EQ(t.EvictOldestEmbryonic(), 2u);
  EXPECT_EQ(t.EvictOldestEmbryonic(), std::nullopt);
  EXPECT_EQ(t.open(), 0u);
}

}  // namespace
}  // namespace tessera::services::s3
