#include "services/meta/hlc.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/status_reasons.h"

namespace tessera::services {

absl::Status HybridClockOptions::Validate() const {
  if (max_offset <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("HybridClockOptions.max_offset must be > 0");
  }
  if (sample_ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("HybridClockOptions.sample_ttl must be > 0");
  }
  return absl::OkStatus();
}

namespace {
HybridClockOptions Sanitize(HybridClockOptions options) {
  if (!options.Validate().ok()) return HybridClockOptions{};
  return options;
}
}  // namespace

HybridClock::HybridClock(Clock* clock, HybridClockOptions options)
    : clock_(clock), options_(Sanitize(options)) {}

int64_t HybridClock::PhysicalMicros() const { return absl::ToUnixMicros(clock_->Now()); }

HlcTimestamp HybridClock::Now() {
  const int64_t pt = PhysicalMicros();
  absl::MutexLock lock(&mu_);
  if (pt > last_.wall_micros) {
    last_ = HlcTimestamp{pt, 0};
  } else {
    ++last_.logical;
  }
  return last_;
}

HlcTimestamp HybridClock::Update(const HlcTimestamp& remote) {
  const int64_t pt = PhysicalMicros();
  absl::MutexLock lock(&mu_);
  const int64_t wall = std::max({pt, last_.wall_micros, remote.wall_micros});
  uint32_t logical = 0;
  if (wall == last_.wall_micros && wall == remote.wall_micros) {
    logical = std::max(last_.logical, remote.logical) + 1;
  } else if (wall == last_.wall_micros) {
    logical = last_.logical + 1;
  } else if (wall == remote.wall_micros) {
    logical = remote.logical + 1;
  }
  last_ = HlcTimestamp{wall, logical};
  return last_;
}

void HybridClock::ObservePeerClock(absl::string_view peer, absl::Time peer_wall,
                                   absl::Time local_send, absl::Time local_recv) {
  const absl::Duration half_round_trip = absl::AbsDuration(local_recv - local_send) / 2;
  const absl::Duration estimate = peer_wall - (local_send + (local_recv - local_send) / 2);
  // Shrink toward zero by the uncertainty, never past it.
  absl::Duration certain = absl::ZeroDuration();
  if (estimate > half_round_trip) certain = estimate - half_round_trip;
  if (estimate < -half_round_trip) certain = estimate + half_round_trip;
  RecordPeerOffset(peer, certain);
}

void HybridClock::RecordPeerOffset(absl::string_view peer, absl::Duration offset) {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  samples_[peer] = Sample{offset, now};
}

absl::Status HybridClock::CheckOffset() {
  const absl::Time now = clock_->Now();
  std::vector<absl::Duration> offsets;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = samples_.begin(); it != samples_.end();) {
      if (now - it->second.observed_at > options_.sample_ttl) {
        samples_.erase(it++);
        continue;
      }
      offsets.push_back(it->second.offset);
      ++it;
    }
  }
  if (offsets.empty()) return absl::OkStatus();
  size_t beyond = 0;
  for (absl::Duration d : offsets) {
    if (absl::AbsDuration(d) > options_.max_offset) ++beyond;
  }
  if (beyond * 2 <= offsets.size()) return absl::OkStatus();
  std::sort(offsets.begin(), offsets.end());
  // Peers' clocks minus ours: our own offset from the peers is the negation.
  const absl::Duration ours = -offsets[offsets.size() / 2];
  TESSERA_LOG(WARNING, "meta_clock_offset_exceeded")
      .Field("offset", ours)
      .Field("max_offset", options_.max_offset)
      .Field("peers", offsets.size())
      .Field("peers_beyond", beyond);
  return MarkClockOffset(absl::FailedPreconditionError(
      absl::StrCat("clock offset ", absl::FormatDuration(ours), " from ", beyond, " of ",
                   offsets.size(), " peers exceeds max_offset ",
                   absl::FormatDuration(options_.max_offset), "; refusing metadata writes")));
}

}  // namespace tessera::services
