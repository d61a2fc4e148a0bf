#include "p2p/transport/udp_socket.h"

#include <string>

#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::p2p {
namespace {

TEST(UdpSocketTest, SendsAndReceivesDatagramsOnLoopback) {
  ASSERT_OK_AND_ASSIGN(auto a, UdpSocket::Bind("127.0.0.1:0"));
  ASSERT_OK_AND_ASSIGN(auto b, UdpSocket::Bind("127.0.0.1:0"));
  EXPECT_THAT(a->local_address(), ::testing::StartsWith("127.0.0.1:"));
  EXPECT_NE(a->local_address(), "127.0.0.1:0");
  ASSERT_OK(a->SendTo(b->local_address(), "hello"));
  std::string payload, from;
  ASSERT_OK_AND_ASSIGN(bool got, b->Receive(absl::Seconds(5), &payload, &from));
  ASSERT_TRUE(got);
  EXPECT_EQ(payload, "hello");
  EXPECT_EQ(from, a->local_address());
}

TEST(UdpSocketTest, ReceiveTimesOutWhenNothingArrives) {
  ASSERT_OK_AND_ASSIGN(auto a, UdpSocket::Bind("127.0.0.1:0"));
  std::string payload, from;
  ASSERT_OK_AND_ASSIGN(bool got, a->Receive(absl::Milliseconds(10), &payload, &from));
  EXPECT_FALSE(got);
}

TEST(UdpSocketTest, RejectsBadAddressesAndUseAfterClose) {
  EXPECT_THAT(UdpSocket::Bind("nonsense").status(),
              testing::StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK_AND_ASSIGN(auto a, UdpSocket::Bind("127.0.0.1:0"));
  EXPECT_THAT(a->SendTo("127.0.0.1", "x"), testing::StatusIs(absl::StatusCode::kInvalidArgument));
  a->Close();
  EXPECT_THAT(a->SendTo("127.0.0.1:9", "x"),
              testing::StatusIs(absl::StatusCode::kFailedPrecondition));
  std::string payload, from;
  EXPECT_FALSE(a->Receive(absl::Milliseconds(1), &payload, &from).ok());
}

TEST(UdpSocketTest, ResolvesNumericAndLocalhostAddresses) {
  EXPECT_THAT(ResolveUdpAddress("127.0.0.1:7946"), testing::IsOkAndHolds("127.0.0.1:7946"));
  EXPECT_THAT(ResolveUdpAddress("localhost:7946"), testing::IsOkAndHolds("127.0.0.1:7946"));
  EXPECT_FALSE(ResolveUdpAddress("no-port").ok());
}

}  // namespace
}  // namespace tessera::p2p
