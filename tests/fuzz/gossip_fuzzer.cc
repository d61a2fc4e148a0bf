// libFuzzer entry point; see run_fuzzers.sh.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/node_fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return tessera::fuzz::FuzzGossipDatagram(data, size);
}
