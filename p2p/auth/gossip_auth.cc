#include "p2p/auth/gossip_auth.h"

#include <sodium.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/sodium.h"

namespace tessera::p2p {
namespace {

constexpr char kMagic[] = {'T', 'G', '\x01'};
constexpr char kMacDomain[] = "tessera.v1.gossip";
constexpr size_t kMagicBytes = sizeof(kMagic);
constexpr size_t kSessionBytes = 8;
constexpr size_t kHeaderBytes = kMagicBytes + kSessionBytes + 8 + 8;
constexpr size_t kMacBytes = crypto_auth_hmacsha256_BYTES;  // 32
constexpr uint64_t kWindow = 64;

void PutU64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

uint64_t GetU64(absl::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

absl::Status Refuse(GossipRejection reason, GossipRejection* why, absl::string_view detail) {
  if (why != nullptr) *why = reason;
  return absl::UnauthenticatedError(absl::StrCat("gossip datagram refused: ", detail));
}

}  // namespace

const char* GossipRejectionName(GossipRejection r) {
  switch (r) {
    case GossipRejection::kNone:
      return "none";
    case GossipRejection::kMalformed:
      return "malformed";
    case GossipRejection::kBadMac:
      return "bad_mac";
    case GossipRejection::kStale:
      return "stale";
    case GossipRejection::kReplayed:
      return "replayed";
    case GossipRejection::kTooManySessions:
      return "too_many_sessions";
  }
  return "unknown";
}

absl::Status GossipAuthOptions::Validate() const {
  if (max_skew <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("GossipAuthOptions.max_skew must be positive");
  }
  if (max_sessions < 1) {
    return absl::InvalidArgumentError("GossipAuthOptions.max_sessions must be >= 1");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<GossipAuth>> GossipAuth::Create(const ClusterSecret& secret,
                                                               GossipAuthOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  return std::unique_ptr<GossipAuth>(new GossipAuth(secret.DeriveKey("gossip"), options));
}

GossipAuth::GossipAuth(std::string key, GossipAuthOptions options)
    : key_(std::move(key)),
      options_(options),
      clock_(options_.clock != nullptr ? options_.clock : Clock::Real()),
      session_(kSessionBytes, '\0') {
  SecureRandomBytes(session_.data(), session_.size());
}

GossipAuth::~GossipAuth() { sodium_memzero(key_.data(), key_.size()); }

std::string GossipAuth::Mac(absl::string_view framed) const {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key_.data()),
                              key_.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(kMacDomain),
                                sizeof(kMacDomain));  // with its terminating NUL
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(framed.data()),
                                framed.size());
  std::string mac(kMacBytes, '\0');
  crypto_auth_hmacsha256_final(&st, reinterpret_cast<unsigned char*>(mac.data()));
  return mac;
}

std::string GossipAuth::Seal(absl::string_view payload) {
  return SealAt(payload, next_seq_.fetch_add(1), clock_->Now());
}

std::string GossipAuth::SealAt(absl::string_view payload, uint64_t seq, absl::Time sent) const {
  std::string out;
  out.reserve(kHeaderBytes + payload.size() + kMacBytes);
  out.append(kMagic, kMagicBytes);
  out.append(session_);
  PutU64(&out, seq);
  PutU64(&out, static_cast<uint64_t>(absl::ToUnixMicros(sent)));
  out.append(payload.data(), payload.size());
  out.append(Mac(out));
  return out;
}

absl::StatusOr<std::string> GossipAuth::Open(absl::string_view datagram, GossipRejection* why) {
  if (why != nullptr) *why = GossipRejection::kNone;
  if (datagram.size() < kHeaderBytes + kMacBytes ||
      absl::string_view(datagram.data(), kMagicBytes) != absl::string_view(kMagic, kMagicBytes)) {
    return Refuse(GossipRejection::kMalformed, why, "not a sealed gossip frame");
  }
  const absl::string_view framed = datagram.substr(0, datagram.size() - kMacBytes);
  const absl::string_view mac = datagram.substr(datagram.size() - kMacBytes);
  // Constant time: recompute and compare with sodium_memcmp (not a byte-wise early exit).
  const std::string expected = Mac(framed);
  if (sodium_memcmp(expected.data(), mac.data(), kMacBytes) != 0) {
    return Refuse(GossipRejection::kBadMac, why, "bad MAC");
  }
  const std::string session(framed.substr(kMagicBytes, kSessionBytes));
  const uint64_t seq = GetU64(framed.substr(kMagicBytes + kSessionBytes, 8));
  const absl::Time sent = absl::FromUnixMicros(
      static_cast<int64_t>(GetU64(framed.substr(kMagicBytes + kSessionBytes + 8, 8))));
  const absl::Time now = clock_->Now();
  if (absl::AbsDuration(now - sent) > options_.max_skew) {
    return Refuse(GossipRejection::kStale, why, "send time outside the accepted skew");
  }
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(session);
  if (it == sessions_.end()) {
    if (sessions_.size() >= options_.max_sessions) {
      // Forget sessions whose datagrams can no longer be fresh; never a live one.
      const absl::Time horizon = now - 2 * options_.max_skew;
      absl::erase_if(sessions_, [&](const auto& kv) { return kv.second.last_seen < horizon; });
      if (sessions_.size() >= options_.max_sessions) {
        return Refuse(GossipRejection::kTooManySessions, why, "too many sending sessions");
      }
    }
    Session fresh;
    fresh.highest = seq;
    fresh.window = 1;
    fresh.last_seen = now;
    sessions_.emplace(session, fresh);
  } else {
    Session& s = it->second;
    if (seq > s.highest) {
      const uint64_t shift = seq - s.highest;
      s.window = shift >= kWindow ? 1 : (s.window << shift) | 1;
      s.highest = seq;
    } else {
      const uint64_t back = s.highest - seq;
      if (back >= kWindow || (s.window >> back) & 1) {
        return Refuse(GossipRejection::kReplayed, why, "replayed or too old");
      }
      s.window |= uint64_t{1} << back;
    }
    s.last_seen = now;
  }
  return std::string(framed.substr(kHeaderBytes));
}

}  // namespace tessera::p2p
