// Unique scratch directories for tests.
//
//   const std::string dir = tessera::testing::UniqueTestDir("paxos");  // $TEST_TMPDIR/paxos.AbC123
//
// Every call creates a NEW, empty directory (mkdtemp) under $TEST_TMPDIR (or /tmp), so no two
// tests, no two repetitions under --gtest_repeat and no two shards ever share state left on disk
// by another run. A fixed name would let repetition 2 open repetition 1's RocksDB or secret file.
//
// Thread safety: safe to call from any thread (mkdtemp is atomic). Failure: fails the current test
// (ADD_FAILURE) and returns a path that does not exist, so the caller's own open fails loudly.
// Test-only: link into cc_test targets.
#pragma once

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace tessera::testing {

// A fresh empty directory named `<prefix>.<random>` (slashes in `prefix` become '_').
inline std::string UniqueTestDir(absl::string_view prefix) {
  const char* root = std::getenv("TEST_TMPDIR");
  std::string tmpl = absl::StrCat(root != nullptr ? root : "/tmp", "/",
                                  absl::StrReplaceAll(prefix, {{"/", "_"}}), ".XXXXXX");
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp(" << tmpl << "): " << std::strerror(errno);
    return tmpl;
  }
  return std::string(buf.data());
}

}  // namespace tessera::testing
