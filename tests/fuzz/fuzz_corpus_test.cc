// Runs every fuzz entry point over its seed corpus (tests/fuzz/corpus/<name>/) and over
// deterministic mutations of each seed (truncations, bit flips, byte insertions), so the normal
// test suite exercises the fuzz targets and their invariants without libFuzzer.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/fuzz/fuzz_targets.h"
#include "tests/fuzz/node_fuzz_targets.h"

namespace tessera::fuzz {
namespace {

using Entry = int (*)(const uint8_t*, size_t);

std::vector<std::string> ReadCorpus(const std::string& name) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  std::filesystem::path dir =
      std::filesystem::path(srcdir ? srcdir : ".") / "tessera/tests/fuzz/corpus" / name;
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    out.push_back(ss.str());
  }
  return out;
}

void Run(Entry entry, const std::string& input) {
  EXPECT_EQ(entry(reinterpret_cast<const uint8_t*>(input.data()), input.size()), 0);
}

void RunCorpus(const std::string& name, Entry entry) {
  std::vector<std::string> seeds = ReadCorpus(name);
  ASSERT_GE(seeds.size(), 3u) << name;
  std::mt19937 rng(1234);
  int runs = 0;
  for (const std::string& seed : seeds) {
    Run(entry, seed);
    ++runs;
    for (int i = 0; i < 300; ++i) {
      std::string m = seed;
      switch (rng() % 3) {
        case 0:
          m.resize(rng() % (m.size() + 1));
          break;
        case 1:
          if (!m.empty()) m[rng() % m.size()] ^= static_cast<char>(1 << (rng() % 8));
          break;
        default:
          m.insert(m.begin() + static_cast<long>(rng() % (m.size() + 1)),
                   "\r\n;:=%?&/<>0\0"[rng() % 14]);
          break;
      }
      Run(entry, m);
      ++runs;
    }
  }
  Run(entry, "");
  EXPECT_GT(runs, 900);
}

TEST(FuzzCorpusTest, S3Request) { RunCorpus("s3_request", &FuzzS3Request); }
TEST(FuzzCorpusTest, SigV4) { RunCorpus("sigv4", &FuzzSigV4); }
TEST(FuzzCorpusTest, ChunkedDecoder) { RunCorpus("chunked_decoder", &FuzzChunkedDecoder); }
TEST(FuzzCorpusTest, PayloadVerifier) { RunCorpus("payload_verifier", &FuzzPayloadVerifier); }
TEST(FuzzCorpusTest, S3Xml) { RunCorpus("s3_xml", &FuzzS3Xml); }
TEST(FuzzCorpusTest, GossipDatagram) { RunCorpus("gossip", &FuzzGossipDatagram); }
TEST(FuzzCorpusTest, SliceRecords) { RunCorpus("slice_records", &FuzzSliceRecords); }
TEST(FuzzCorpusTest, NodeRpc) { RunCorpus("node_rpc", &FuzzNodeRpc); }

}  // namespace
}  // namespace tessera::fuzz
