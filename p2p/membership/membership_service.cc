#include "p2p/membership/membership_service.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace tessera::p2p {

absl::Status MembershipServiceOptions::Validate() const {
  if (absl::Status s = protocol.Validate(); !s.ok()) return s;
  if (gossip_listen.empty()) return absl::InvalidArgumentError("gossip_listen is empty");
  if (poll_interval <= absl::ZeroDuration() || poll_interval >= protocol.probe_timeout) {
    return absl::InvalidArgumentError(
        "poll_interval must be positive and below protocol.probe_timeout");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<MembershipService>> MembershipService::Start(
    MembershipServiceOptions options, const NodeIdentity* identity) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  if (identity == nullptr) return absl::InvalidArgumentError("identity is null");
  Clock* clock = options.clock != nullptr ? options.clock : Clock::Real();
  options.clock = clock;

  std::vector<std::string> seeds;
  for (const std::string& seed : options.seeds) {
    absl::StatusOr<std::string> resolved = ResolveUdpAddress(seed);
    if (!resolved.ok()) return resolved.status();
    seeds.push_back(*std::move(resolved));
  }
  absl::StatusOr<std::unique_ptr<UdpSocket>> socket = UdpSocket::Bind(options.gossip_listen);
  if (!socket.ok()) return socket.status();
  std::string address =
      options.advertise_address.empty() ? (*socket)->local_address() : options.advertise_address;

  LocalMember self;
  self.gossip_address = address;
  self.grpc_address = options.grpc_address;
  self.location = options.location;
  self.capacity_bytes = options.capacity_bytes;
  self.free_bytes = options.free_bytes;
  self.incarnation = options.incarnation != 0
                         ? options.incarnation
                         : static_cast<uint64_t>(absl::ToUnixMicros(clock->Now()));
  absl::StatusOr<std::unique_ptr<MembershipProtocol>> protocol = MembershipProtocol::Create(
      options.protocol, identity, std::move(self), std::move(seeds), clock->Now());
  if (!protocol.ok()) return protocol.status();
  std::unique_ptr<MembershipService> service(new MembershipService(
      std::move(options), identity, *std::move(socket), std::move(address), *std::move(protocol)));
  service->thread_ = std::thread([s = service.get()] { s->Run(); });
  return service;
}

MembershipService::MembershipService(MembershipServiceOptions options, const NodeIdentity* identity,
                                     std::unique_ptr<UdpSocket> socket, std::string gossip_address,
                                     std::unique_ptr<MembershipProtocol> protocol)
    : options_(std::move(options)),
      identity_(identity),
      clock_(options_.clock),
      socket_(std::move(socket)),
      gossip_address_(std::move(gossip_address)),
      protocol_(std::move(protocol)) {
  view_ = protocol_->Snapshot();
}

MembershipService::~MembershipService() { Stop(); }

void MembershipService::Stop() {
  absl::MutexLock lock(&stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
  socket_->Close();
}

std::shared_ptr<const MembershipView> MembershipService::view() const {
  absl::MutexLock lock(&mu_);
  return view_;
}

MembershipCounters MembershipService::counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}

void MembershipService::SetState(MemberState state) {
  absl::MutexLock lock(&mu_);
  commands_.push_back([state](MembershipProtocol& p) { p.SetState(state); });
}

void MembershipService::SetCapacity(uint64_t capacity_bytes, uint64_t free_bytes) {
  absl::MutexLock lock(&mu_);
  commands_.push_back([capacity_bytes, free_bytes](MembershipProtocol& p) {
    p.SetCapacity(capacity_bytes, free_bytes);
  });
}

void MembershipService::SetBandwidth(const BandwidthSummary& summary) {
  absl::MutexLock lock(&mu_);
  commands_.push_back([summary](MembershipProtocol& p) { p.SetBandwidth(summary); });
}

void MembershipService::SendAll(const std::vector<Outgoing>& out) {
  for (const Outgoing& o : out) {
    // A datagram that cannot be sent is as good as lost; SWIM copes with loss.
    if (options_.datagram_auth != nullptr) {
      (void)socket_->SendTo(o.address, options_.datagram_auth->Seal(o.payload));
    } else {
      (void)socket_->SendTo(o.address, o.payload);
    }
  }
}

void MembershipService::Publish() {
  std::shared_ptr<const MembershipView> fresh;
  {
    absl::MutexLock lock(&mu_);
    counters_ = protocol_->counters();
    counters_.datagrams_unauthenticated = dropped_unauthenticated_;
    counters_.datagrams_replayed = dropped_replayed_;
    if (view_->generation() == protocol_->generation()) return;
    fresh = protocol_->Snapshot();
    view_ = fresh;
  }
  if (options_.on_change) options_.on_change(fresh);
}

void MembershipService::Run() {
  constexpr int kMaxBurst = 256;  // datagrams handled between two ticks
  std::string payload, from;
  while (!stopping_.load()) {
    std::vector<std::function<void(MembershipProtocol&)>> commands;
    {
      absl::MutexLock lock(&mu_);
      commands.swap(commands_);
    }
    for (auto& command : commands) command(*protocol_);

    SendAll(protocol_->Tick(clock_->Now()));
    absl::Duration wait = options_.poll_interval;
    for (int i = 0; i < kMaxBurst && !stopping_.load(); ++i) {
      absl::StatusOr<bool> got = socket_->Receive(wait, &payload, &from);
      if (!got.ok() || !*got) break;
      wait = absl::ZeroDuration();
      if (options_.datagram_auth != nullptr) {
        GossipRejection why = GossipRejection::kNone;
        absl::StatusOr<std::string> opened = options_.datagram_auth->Open(payload, &why);
        if (!opened.ok()) {
          // Dropped before the protocol: no state changes, no answer (an answer would let an
          // outsider use us as a reflector).
          if (why == GossipRejection::kMalformed || why == GossipRejection::kBadMac) {
            ++dropped_unauthenticated_;
          } else {
            ++dropped_replayed_;
          }
          continue;
        }
        payload = *std::move(opened);
      }
      SendAll(protocol_->HandleMessage(clock_->Now(), from, payload));
      wait = absl::ZeroDuration();
    }
    Publish();
  }
}

}  // namespace tessera::p2p
