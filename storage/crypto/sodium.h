// One-time libsodium initialization shared by everything in storage/crypto.
#pragma once

namespace tessera::storage {

// Calls sodium_init() exactly once per process (thread-safe). Aborts the process if libsodium
// cannot initialize, since no key or nonce could then be generated safely. Cheap after the first
// call; every public entry point of storage/crypto calls it, so callers need not.
void EnsureSodiumInitialized();

}  // namespace tessera::storage
