// Throughput of the S3 checksum algorithms against memcpy, in GB/s (10^9 bytes per second).
//   bazel run -c opt //services/s3:checksum_bench [-- --mib=64 --rounds=5]
// Prints one line per algorithm. Single-threaded; numbers are indicative, not assertions.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "services/s3/checksum/checksum.h"
#include "services/s3/checksum/crc64nvme.h"

namespace {

using tessera::services::s3::ChecksumAlgorithm;

double Measure(const std::string& buf, int rounds, const std::function<void()>& fn) {
  fn();  // warm-up
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < rounds; ++i) fn();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(buf.size()) * rounds / secs / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  int mib = 64;
  int rounds = 5;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::StartsWith(arg, "--mib=")) (void)absl::SimpleAtoi(arg.substr(6), &mib);
    if (absl::StartsWith(arg, "--rounds=")) (void)absl::SimpleAtoi(arg.substr(9), &rounds);
  }
  std::string buf(static_cast<size_t>(mib) << 20, '\0');
  std::mt19937_64 rng(42);
  for (size_t i = 0; i + 8 <= buf.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(&buf[i], &v, 8);
  }
  std::vector<char> dst(buf.size());
  volatile uint64_t sink = 0;

  std::printf("buffer %d MiB, %d rounds, PCLMULQDQ for CRC64NVME: %s\n", mib, rounds,
              tessera::services::s3::internal::Crc64NvmeHasClmul() ? "yes" : "no");
  std::printf("%-22s %8.2f GB/s\n", "memcpy", Measure(buf, rounds, [&] {
                std::memcpy(dst.data(), buf.data(), buf.size());
                sink = sink + static_cast<unsigned char>(dst[dst.size() / 2]);
              }));
  std::printf("%-22s %8.2f GB/s\n", "crc64nvme (table)", Measure(buf, rounds, [&] {
                sink = sink +
                       tessera::services::s3::internal::Crc64NvmeTable(0, buf.data(), buf.size());
              }));
  const ChecksumAlgorithm algs[] = {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c,
                                    ChecksumAlgorithm::kCrc64Nvme, ChecksumAlgorithm::kSha1,
                                    ChecksumAlgorithm::kSha256};
  for (ChecksumAlgorithm alg : algs) {
    std::string name(tessera::services::s3::ChecksumAlgorithmName(alg));
    std::printf("%-22s %8.2f GB/s\n", name.c_str(), Measure(buf, rounds, [&] {
                  auto h = tessera::services::s3::NewHasher(alg);
                  h->Update(buf);
                  sink = sink + static_cast<unsigned char>(h->Finish()[0]);
                }));
  }
  std::printf("%-22s %8.2f GB/s\n", "MD5", Measure(buf, rounds, [&] {
                sink = sink + static_cast<unsigned char>(tessera::services::s3::Md5(buf)[0]);
              }));
  return sink == 0xdeadbeef ? 1 : 0;
}
