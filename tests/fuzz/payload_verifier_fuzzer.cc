// libFuzzer entry point; see run_fuzzers.sh.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return tessera::fuzz::FuzzPayloadVerifier(data, size);
}
