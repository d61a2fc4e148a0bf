// CRC-64/NVME, the checksum S3 calls CRC64NVME (x-amz-checksum-crc64nvme).
//
// Parameters (Rocksoft model): width 64, poly 0xad93d23594c93659, init 0xffffffffffffffff,
// refin/refout true, xorout 0xffffffffffffffff; check("123456789") = 0xae8b14860a799888.
// Debian's ISA-L 2.30 lacks this polynomial, so it lives here: slicing-by-16 tables everywhere,
// and PCLMULQDQ folding (eight 128-bit lanes) on x86-64 CPUs that have it, chosen at run time.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessera::services::s3 {

// Continues a CRC-64/NVME over `n` bytes at `data`. Start with crc = 0 (the CRC of nothing);
// feeding pieces in order gives the same value as feeding their concatenation:
//   Crc64Nvme(Crc64Nvme(0, a, na), b, nb) == Crc64Nvme(0, a || b, na + nb).
uint64_t Crc64Nvme(uint64_t crc, const void* data, size_t n);

namespace internal {
// The same function computed one bit at a time: the reference the fast paths are tested against.
uint64_t Crc64NvmeBitwise(uint64_t crc, const void* data, size_t n);
// Slicing-by-16 only (never PCLMULQDQ).
uint64_t Crc64NvmeTable(uint64_t crc, const void* data, size_t n);
// True if Crc64Nvme uses the PCLMULQDQ path on this CPU.
bool Crc64NvmeHasClmul();
}  // namespace internal

}  // namespace tessera::services::s3
