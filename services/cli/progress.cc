#include "services/cli/progress.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/sdk/client.h"

namespace tessera::cli {

void ProgressBar::Update(uint64_t done, int64_t total) {
  if (!enabled_) return;
  const absl::Time now = absl::Now();
  const bool finished = total >= 0 && done >= static_cast<uint64_t>(total);
  if (!finished && now - last_draw_ < absl::Milliseconds(100)) return;
  last_draw_ = now;
  const double secs = absl::ToDoubleSeconds(now - start_);
  const double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
  std::string line = sdk::FormatBytes(done);
  if (total >= 0) {
    const double pct = total == 0 ? 100.0 : 100.0 * static_cast<double>(done) / total;
    absl::StrAppend(&line, " / ", sdk::FormatBytes(static_cast<uint64_t>(total)),
                    absl::StrFormat("  %3.0f%%", pct));
  }
  absl::StrAppend(&line, "  ", sdk::FormatBytes(static_cast<uint64_t>(rate)), "/s");
  if (total >= 0 && rate > 0 && !finished) {
    const int64_t eta = static_cast<int64_t>((static_cast<double>(total) - done) / rate);
    absl::StrAppend(&line, absl::StrFormat("  ETA %d:%02d", eta / 60, eta % 60));
  }
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::Done() {
  if (drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
  }
}

}  // namespace tessera::cli
