// MembershipService: runs a MembershipProtocol for real, over a UDP socket, on its own thread.
//
// Start() binds the gossip socket, joins through the seeds and keeps gossiping until Stop() or
// destruction. Readers take view(): an immutable snapshot (std::shared_ptr<const MembershipView>)
// that the service swaps atomically whenever the membership changes, and may register
// on_change to hear of every new snapshot. Datagrams are at most protocol.max_message_bytes.
//
// With datagram_auth (every tessera-node with a cluster secret) each datagram sent is sealed and
// each received one opened by p2p::GossipAuth: MAC keyed from the cluster secret, replay window,
// send-time skew. A datagram that fails is dropped before the protocol sees it and counted
// (counters().datagrams_unauthenticated / datagrams_replayed); nodes with different secrets never
// hear each other. Without it (insecure mode, some tests) datagrams are plain protobufs.
//
// Thread-safety: all public methods are thread-safe. on_change runs on the service thread; it
// must not block for long and must not call Stop().
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "p2p/auth/gossip_auth.h"
#include "p2p/identity/node_identity.h"
#include "p2p/membership/membership_view.h"
#include "p2p/membership/protocol.h"
#include "p2p/transport/udp_socket.h"

namespace tessera::p2p {

struct MembershipServiceOptions {
  // Numeric IPv4 "ip:port" to bind the UDP gossip socket on (tessera-node: --gossip_listen).
  // Port 0 picks a free port. Default "127.0.0.1:0".
  std::string gossip_listen = "127.0.0.1:0";
  // The gossip address other nodes should use; empty: the bound address. Must be set when
  // gossip_listen is a wildcard (0.0.0.0).
  std::string advertise_address;
  // Seed gossip addresses "host:port" (tessera-node: --seeds, comma-separated); resolved to IPv4
  // once at Start. Any node can be a seed; empty for the first node of a cluster.
  std::vector<std::string> seeds;
  // Timing and protocol parameters.
  MembershipOptions protocol;
  // What this node publishes about itself.
  std::string grpc_address;
  MemberLocation location;
  uint64_t capacity_bytes = 0;
  uint64_t free_bytes = 0;
  // First incarnation; 0 (default): the wall clock in microseconds, which exceeds the incarnation
  // of any earlier run of the same identity as long as the clock does not go back.
  uint64_t incarnation = 0;
  // Time source; null means Clock::Real().
  Clock* clock = nullptr;
  // How long the service thread waits for a datagram before it ticks again. Default 10 ms.
  absl::Duration poll_interval = absl::Milliseconds(10);
  // Seals sent and opens received datagrams (see above); null: none (unauthenticated gossip).
  // Shared so the owner may keep using it; each node should have its own (own session).
  std::shared_ptr<GossipAuth> datagram_auth;
  // Called with every new snapshot, on the service thread. May be empty.
  std::function<void(const std::shared_ptr<const MembershipView>&)> on_change;

  // OK, or INVALID_ARGUMENT naming the first bad field.
  [[nodiscard]] absl::Status Validate() const;
};

class MembershipService {
 public:
  // Binds, creates the protocol and starts the service thread. `identity` must outlive the
  // service. INVALID_ARGUMENT for bad options; UNAVAILABLE if the socket cannot be bound;
  // NOT_FOUND if a seed does not resolve.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<MembershipService>> Start(
      MembershipServiceOptions options, const NodeIdentity* identity);

  ~MembershipService();  // Stop()
  MembershipService(const MembershipService&) = delete;
  MembershipService& operator=(const MembershipService&) = delete;

  // The latest snapshot; never null.
  std::shared_ptr<const MembershipView> view() const;
  MembershipCounters counters() const;
  // The address others gossip to (advertised), e.g. "127.0.0.1:40123".
  const std::string& gossip_address() const { return gossip_address_; }
  const std::string& node_id() const { return identity_->node_id(); }

  // Changes this node's own record (e.g. kDraining before a planned removal); disseminated from
  // the next loop iteration on.
  void SetState(MemberState state);
  void SetCapacity(uint64_t capacity_bytes, uint64_t free_bytes);
  // Publishes this node's measured-bandwidth summary (docs/design/bandwidth.md).
  void SetBandwidth(const BandwidthSummary& summary);

  // Stops the thread and closes the socket without a farewell, as a crash would look to the
  // others. Idempotent. (For a graceful leave, SetState(kLeft) and wait a few probe intervals.)
  void Stop();

 private:
  MembershipService(MembershipServiceOptions options, const NodeIdentity* identity,
                    std::unique_ptr<UdpSocket> socket, std::string gossip_address,
                    std::unique_ptr<MembershipProtocol> protocol);
  void Run();
  void SendAll(const std::vector<Outgoing>& out);
  void Publish();

  const MembershipServiceOptions options_;
  const NodeIdentity* const identity_;
  Clock* const clock_;
  std::unique_ptr<UdpSocket> socket_;
  const std::string gossip_address_;
  std::unique_ptr<MembershipProtocol> protocol_;  // used only by the service thread
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  absl::Mutex stop_mu_;  // serializes Stop()
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;

  mutable absl::Mutex mu_;
  std::shared_ptr<const MembershipView> view_ ABSL_GUARDED_BY(mu_);
  MembershipCounters counters_ ABSL_GUARDED_BY(mu_);
  // Datagrams dropped at the seam (service thread only; copied into counters_ by Publish).
  uint64_t dropped_unauthenticated_ = 0;
  uint64_t dropped_replayed_ = 0;
  std::vector<std::function<void(MembershipProtocol&)>> commands_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::p2p
