// A one-line transfer progress bar on stderr (bytes, percent, rate, ETA), redrawn at most every
// 100 ms. Inactive unless enabled (the CLI enables it only when stderr is a terminal).
#pragma once

#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace tessera::cli {

class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled), start_(absl::Now()) {}
  ~ProgressBar() { Done(); }

  // `total` -1 = unknown.
  void Update(uint64_t done, int64_t total);
  // Clears the line (idempotent).
  void Done();

 private:
  bool enabled_;
  bool drawn_ = false;
  absl::Time start_;
  absl::Time last_draw_ = absl::InfinitePast();
};

}  // namespace tessera::cli
