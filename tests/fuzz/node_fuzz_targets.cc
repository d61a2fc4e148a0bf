#include "tests/fuzz/node_fuzz_targets.h"

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "api/membership.pb.h"
#include "base/fake_clock.h"
#include "p2p/auth/cluster_secret.h"
#include "p2p/auth/gossip_auth.h"
#include "p2p/identity/node_identity.h"
#include "p2p/membership/protocol.h"
#include "storage/index/index_entry.h"
#include "storage/slice/slice_format.h"
#include "tests/fuzz/fuzz_util.h"

namespace tessera::fuzz {
namespace {

const p2p::NodeIdentity& Identity() {
  static const p2p::NodeIdentity* identity = [] {
    auto id = p2p::NodeIdentity::Generate();
    Check(id.ok());
    return id->release();
  }();
  return *identity;
}

// The gossip MAC layer a node puts before the protocol (p2p/auth/gossip_auth.h), with a fixed key
// and clock so the fuzzer can seal its inputs and still reach the decoder.
constexpr int64_t kFuzzNowSeconds = 1800000000;

std::unique_ptr<p2p::GossipAuth> FuzzGossipAuth(FakeClock* clock) {
  auto secret = p2p::ClusterSecret::FromBytes(std::string(p2p::ClusterSecret::kSize, '\x42'));
  Check(secret.ok());
  p2p::GossipAuthOptions o;
  o.clock = clock;
  auto auth = p2p::GossipAuth::Create(*secret, o);
  Check(auth.ok());
  return *std::move(auth);
}

}  // namespace

int FuzzGossipDatagram(const uint8_t* data, size_t size) {
  static FakeClock* clock = new FakeClock(absl::FromUnixSeconds(kFuzzNowSeconds));
  static p2p::GossipAuth* sealer = FuzzGossipAuth(clock).release();
  // The raw bytes as a datagram off the wire: the frame parser and MAC check must refuse them
  // without crashing (a random input never carries a valid MAC).
  {
    auto receiver = FuzzGossipAuth(clock);
    Check(!receiver->Open(Bytes(data, size)).ok());
  }
  // The bytes as the payload of a properly sealed datagram: through Open to the protocol decoder.
  auto receiver = FuzzGossipAuth(clock);
  absl::StatusOr<std::string> opened = receiver->Open(sealer->Seal(Bytes(data, size)));
  Check(opened.ok() && *opened == Bytes(data, size));

  p2p::MembershipOptions options;
  options.random_seed = 7;
  p2p::LocalMember self;
  self.gossip_address = "127.0.0.1:7000";
  self.grpc_address = "127.0.0.1:7100";
  const absl::Time now = absl::FromUnixSeconds(kFuzzNowSeconds);
  auto protocol =
      p2p::MembershipProtocol::Create(options, &Identity(), self, {"127.0.0.1:7001"}, now);
  Check(protocol.ok());
  std::vector<p2p::Outgoing> out = (*protocol)->HandleMessage(now, "127.0.0.1:7001", *opened);
  std::vector<p2p::Outgoing> later = (*protocol)->Tick(now + absl::Seconds(2));
  out.insert(out.end(), later.begin(), later.end());
  for (const p2p::Outgoing& o : out) {
    Check(o.payload.size() <= options.max_message_bytes);
    tessera::v1::GossipMessage parsed;
    Check(parsed.ParseFromString(o.payload));
  }
  return 0;
}

int FuzzSliceRecords(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view record = Bytes(data + 1, size - 1);
  if ((data[0] & 1) == 0) {
    absl::StatusOr<storage::slice::SliceHeader> h = storage::slice::DecodeHeader(record);
    if (!h.ok()) return 0;
    absl::StatusOr<storage::slice::SliceHeader> again =
        storage::slice::DecodeHeader(storage::slice::EncodeHeader(*h));
    Check(again.ok());
    Check(again->version == h->version && again->block_size == h->block_size &&
          again->length == h->length && again->id == h->id);
  } else {
    absl::StatusOr<storage::IndexEntry> e = storage::DecodeIndexEntry(record);
    if (!e.ok()) return 0;
    absl::StatusOr<storage::IndexEntry> again =
        storage::DecodeIndexEntry(storage::EncodeIndexEntry(*e));
    Check(again.ok());
    Check(*again == *e);
  }
  return 0;
}

}  // namespace tessera::fuzz
