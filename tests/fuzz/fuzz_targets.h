// Fuzz entry points over the S3 gateway's untrusted-input parsers. Each returns 0 and aborts on
// a broken invariant (sanitizers catch memory errors). Used by the libFuzzer binaries
// (*_fuzzer.cc, built by run_fuzzers.sh with clang) and by fuzz_corpus_test (every build).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessera::fuzz {

// Request routing, Range, conditional headers, copy source, bucket names. Input: "METHOD\n
// TARGET\nName: value\n..." (free-form bytes are fine).
int FuzzS3Request(const uint8_t* data, size_t size);
// SigV4 canonicalisation, Authorization parsing and full verification (same input shape).
int FuzzSigV4(const uint8_t* data, size_t size);
// aws-chunked decoder. data[0]: mode (low 2 bits) and options; data[1]: feed step; rest: body.
int FuzzChunkedDecoder(const uint8_t* data, size_t size);
// Request body verifier (PayloadVerifier). data[0]: payload mode (low 3 bits) and headers;
// data[1]: feed step; data[2]: x-amz-decoded-content-length when declared; rest: body.
int FuzzPayloadVerifier(const uint8_t* data, size_t size);
// S3 XML request parsers.
int FuzzS3Xml(const uint8_t* data, size_t size);

}  // namespace tessera::fuzz
