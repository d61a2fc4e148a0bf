// Helpers shared by the slice store tests.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/env.h"
#include "base/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "storage/store/slice_store.h"

namespace tessera::storage::testing {

// A fresh, empty directory under TEST_TMPDIR named after the running test (plus `suffix`, slashes
// flattened) and a random tail: unique per call, so --gtest_repeat never reopens an earlier run's
// store.
inline std::string FreshDir(const std::string& suffix = "") {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return ::tessera::testing::UniqueTestDir(
      absl::StrCat(info->test_suite_name(), ".", info->name(), suffix));
}

// Deterministic pseudo-random bytes.
inline std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8 && i + j < n; ++j) out[i + j] = static_cast<char>(v >> (8 * j));
  }
  return out;
}

inline SliceId MakeId(uint64_t n, uint32_t index = 0) {
  SliceId id;
  id.version_id = std::string(SliceId::kVersionIdSize, '\0');
  for (int i = 0; i < 8; ++i) id.version_id[15 - i] = static_cast<char>((n >> (8 * i)) & 0xff);
  id.version_id[0] = 'v';
  id.part = 1;
  id.stripe = static_cast<uint32_t>(n % 7);
  id.index = index;
  return id;
}

// All regular files (recursively) below `dir` whose name contains `needle`.
inline std::vector<std::string> FilesContaining(Env* env, const std::string& dir,
                                                const std::string& needle) {
  std::vector<std::string> out;
  auto names = env->ListDir(dir);
  if (!names.ok()) return out;
  for (const std::string& name : *names) {
    const std::string path = absl::StrCat(dir, "/", name);
    auto sub = env->ListDir(path);
    if (sub.ok()) {
      for (std::string& p : FilesContaining(env, path, needle)) out.push_back(std::move(p));
    } else if (name.find(needle) != std::string::npos) {
      out.push_back(path);
    }
  }
  return out;
}

}  // namespace tessera::storage::testing
