#include "storage/store/scrubber.h"

#include <algorithm>
#include <utility>

namespace tessera::storage {

absl::Status ScrubberOptions::Validate() const {
  if (list_batch == 0) return absl::InvalidArgumentError("ScrubberOptions.list_batch must be > 0");
  if (pass_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("ScrubberOptions.pass_interval must be >= 0");
  }
  return absl::OkStatus();
}

Scrubber::Scrubber(SliceStore* store, ScrubberOptions options)
    : store_(store),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : Clock::Real()) {}

Scrubber::~Scrubber() { Stop(); }

bool Scrubber::SleepUnlessStopped(absl::Duration d) {
  constexpr absl::Duration kSlice = absl::Milliseconds(100);
  while (d > absl::ZeroDuration()) {
    if (stop_.load(std::memory_order_acquire)) return false;
    const absl::Duration step = std::min(d, kSlice);
    clock_->SleepFor(step);
    d -= step;
  }
  return !stop_.load(std::memory_order_acquire);
}

bool Scrubber::Throttle(uint64_t bytes) {
  if (options_.bytes_per_second == 0) return true;
  const absl::Time now = clock_->Now();
  // Idle time does not accumulate into a burst.
  absl::Time start = std::max(now, next_allowed_.value_or(now));
  if (start > now && !SleepUnlessStopped(start - now)) return false;
  next_allowed_ = start + absl::Seconds(static_cast<double>(bytes) /
                                        static_cast<double>(options_.bytes_per_second));
  return true;
}

bool Scrubber::Work() {
  absl::MutexLock lock(&work_mu_);
  if (batch_pos_ >= batch_.size()) {
    absl::StatusOr<std::vector<SliceInfo>> page = store_->List(cursor_, options_.list_batch);
    if (!page.ok()) {
      absl::MutexLock s(&stats_mu_);
      ++stats_.errors;
      return false;
    }
    batch_ = std::move(page).value();
    batch_pos_ = 0;
    if (batch_.empty()) {
      cursor_.reset();
      absl::MutexLock s(&stats_mu_);
      ++stats_.passes;
      stats_.pass_slices_checked = 0;
      return false;
    }
  }
  const SliceInfo info = batch_[batch_pos_++];
  cursor_ = info.id;
  if (info.state != SliceState::kLive) {
    absl::MutexLock s(&stats_mu_);
    ++stats_.skipped;
    return true;
  }
  // Charge the budget before reading: the read is what the budget limits.
  if (!Throttle(info.length)) {
    --batch_pos_;  // stopped: retry this slice next time
    return true;
  }
  absl::Status status = store_->Verify(info.id);
  bool corrupt = false;
  {
    absl::MutexLock s(&stats_mu_);
    if (absl::IsNotFound(status)) return true;  // deleted meanwhile
    ++stats_.slices_checked;
    ++stats_.pass_slices_checked;
    stats_.bytes_checked += info.length;
    if (absl::IsDataLoss(status)) {
      ++stats_.corrupt_found;
      corrupt = true;
    } else if (!status.ok()) {
      ++stats_.errors;
    }
  }
  if (corrupt && options_.on_corrupt) options_.on_corrupt(info.id, status);
  return true;
}

void Scrubber::RunOnce() {
  while (Work()) {
    if (stop_.load(std::memory_order_acquire)) return;
  }
}

void Scrubber::Loop() {
  while (!stop_.load(std::memory_order_acquire)) {
    RunOnce();
    if (!SleepUnlessStopped(options_.pass_interval)) return;
  }
}

void Scrubber::Start() {
  absl::MutexLock lock(&thread_mu_);
  if (thread_.joinable()) return;
  stop_.store(false, std::memory_order_release);
  thread_ = std::thread([this] { Loop(); });
}

void Scrubber::Stop() {
  absl::MutexLock lock(&thread_mu_);
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
}

void Scrubber::WaitForPasses(uint64_t n) const {
  absl::MutexLock lock(&stats_mu_);
  auto done = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(stats_mu_) { return stats_.passes >= n; };
  stats_mu_.Await(absl::Condition(&done));
}

ScrubberStats Scrubber::stats() const {
  absl::MutexLock lock(&stats_mu_);
  return stats_;
}

}  // namespace tessera::storage
