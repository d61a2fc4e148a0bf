// Guards the wire contract of the slice service: generated code builds, and a request
// round-trips through its serialized form unchanged.
#include "api/node.grpc.pb.h"
#include "api/node.pb.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

TEST(NodeProtoTest, PutSliceRequestRoundTrips) {
  v1::PutSliceRequest request;
  request.mutable_id()->set_version_id(std::string(16, '\x7f'));
  request.mutable_id()->set_stripe(3);
  request.mutable_id()->set_index(5);
  request.set_length(1 << 20);
  request.set_crc32c(0xdeadbeef);
  std::string wire = request.SerializeAsString();

  v1::PutSliceRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  EXPECT_EQ(parsed.id().stripe(), 3u);
  EXPECT_EQ(parsed.id().index(), 5u);
  EXPECT_EQ(parsed.crc32c(), 0xdeadbeefu);
  EXPECT_EQ(parsed.id().version_id(), std::string(16, '\x7f'));
}

TEST(NodeProtoTest, ServiceDeclaresAllMethods) {
  const auto* service =
      v1::PutSliceRequest::descriptor()->file()->FindServiceByName("SliceService");
  ASSERT_NE(service, nullptr);
  for (const char* method :
       {"PutSlice", "GetSlice", "DeleteSlice", "StatSlice", "ListSlices", "NodeInfo"}) {
    EXPECT_NE(service->FindMethodByName(method), nullptr) << method;
  }
}

}  // namespace
}  // namespace tessera
