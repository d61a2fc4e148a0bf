// The one place Tessera initialises libsodium and draws secret-grade randomness.
//
// Every caller that uses libsodium (AEAD, signatures, key derivation) calls
// EnsureSodiumInitialized() first; every caller that needs unpredictable bytes (keys, nonces,
// identifiers that must not collide across processes) uses the SecureRandom* functions below,
// which initialise libsodium themselves. For reproducible test randomness use base/random.h.
//
// Failure policy (the only one in the tree): if libsodium cannot initialise, the process logs
// `event=sodium_init_failed` to stderr and aborts. No key, nonce or identifier could be generated
// safely after that, and sodium_init() fails only when the OS has no usable entropy source, so
// there is nothing a caller could do with an error status.
//
// Thread safety: every function is thread-safe. Initialisation happens exactly once per process
// (a function-local static); later calls cost one atomic load.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tessera {

// Initialises libsodium once per process; aborts on failure (see above). Idempotent.
void EnsureSodiumInitialized();

// Fills out[0, n) with cryptographically secure random bytes (libsodium randombytes_buf).
void SecureRandomBytes(void* out, size_t n);

// `n` cryptographically secure random bytes.
std::string SecureRandomString(size_t n);

// 64 cryptographically secure random bits.
uint64_t SecureRandomU64();

// Uniform in [0, upper_bound) without modulo bias; 0 when upper_bound < 2
// (libsodium randombytes_uniform).
uint32_t SecureRandomUniform(uint32_t upper_bound);

}  // namespace tessera
