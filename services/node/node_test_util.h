// Test helpers for talking to a tessera-node over gRPC: streaming PutSlice/GetSlice with
// control over chunking, declared length and checksum, and deterministic test data.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "api/node.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "p2p/auth/cluster_auth.h"
#include "storage/slice/crc32c.h"

namespace tessera::services::testing {

inline std::string TestBytes(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x);
  }
  return s;
}

inline v1::SliceId TestId(uint64_t n) {
  v1::SliceId id;
  std::string version(16, '\0');
  for (int i = 0; i < 8; ++i) version[15 - i] = static_cast<char>(n >> (8 * i));
  version[0] = 'T';
  id.set_version_id(version);
  id.set_part(0);
  id.set_stripe(static_cast<uint32_t>(n % 7));
  id.set_index(static_cast<uint32_t>(n % 5));
  return id;
}

// A stub for 127.0.0.1:port; with `auth`, every call carries a token (p2p/auth).
inline std::unique_ptr<v1::SliceService::Stub> NewStub(
    uint16_t port, std::shared_ptr<const p2p::ClusterAuth> auth = nullptr) {
  const std::string target = absl::StrCat("127.0.0.1:", port);
  if (auth != nullptr) {
    return v1::SliceService::NewStub(
        p2p::CreateNodeChannel(target, grpc::ChannelArguments(), std::move(auth)));
  }
  return v1::SliceService::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
}

// A channel to 127.0.0.1:port over the transport `auth` selects (the cluster's mutual TLS by
// default; plaintext when `auth` is null or has no TLS) that adds NO token: for tests of the
// token check, which add their own (or none).
inline std::shared_ptr<grpc::Channel> NewChannelWithoutTokens(
    uint16_t port, const std::shared_ptr<const p2p::ClusterAuth>& auth) {
  const std::string target = absl::StrCat("127.0.0.1:", port);
  return grpc::CreateChannel(target, auth != nullptr && auth->tls() != nullptr
                                         ? auth->tls()->ChannelCredentials("")
                                         : grpc::InsecureChannelCredentials());
}

// Adjusts a context before the call starts (e.g. adds a hand-made x-tessera-auth token).
using PrepareContext = std::function<void(grpc::ClientContext*)>;

struct PutParams {
  size_t chunk = 1 << 20;
  std::optional<uint64_t> declared_length = std::nullopt;  // default: data.size()
  std::optional<uint32_t> crc32c = std::nullopt;           // default: the right one
  size_t send_bytes = SIZE_MAX;                            // send only a prefix (truncated stream)
  absl::Duration deadline = absl::Seconds(30);
  PrepareContext prepare = nullptr;
};

inline grpc::Status PutSlice(v1::SliceService::Stub* stub, const v1::SliceId& id,
                             const std::string& data, const PutParams& p = {}) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(p.deadline));
  if (p.prepare) p.prepare(&ctx);
  v1::PutSliceResponse response;
  auto writer = stub->PutSlice(&ctx, &response);
  const size_t send = std::min(p.send_bytes, data.size());
  v1::PutSliceRequest first;
  *first.mutable_id() = id;
  first.set_length(p.declared_length.value_or(data.size()));
  first.set_crc32c(p.crc32c.value_or(storage::crc32c::Value(data)));
  size_t pos = std::min(p.chunk, send);
  first.set_data(data.substr(0, pos));
  bool ok = writer->Write(first);
  while (ok && pos < send) {
    v1::PutSliceRequest next;
    const size_t n = std::min(p.chunk, send - pos);
    next.set_data(data.substr(pos, n));
    pos += n;
    ok = writer->Write(next);
  }
  writer->WritesDone();
  return writer->Finish();
}

struct GetResult {
  grpc::Status status;
  std::string data;
  uint64_t total_length = 0;
  int messages = 0;
  size_t largest_message = 0;
};

inline GetResult GetSlice(v1::SliceService::Stub* stub, const v1::SliceId& id, uint64_t offset = 0,
                          uint64_t length = 0, const PrepareContext& prepare = nullptr) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  if (prepare) prepare(&ctx);
  v1::GetSliceRequest request;
  *request.mutable_id() = id;
  request.set_offset(offset);
  request.set_length(length);
  auto reader = stub->GetSlice(&ctx, request);
  GetResult result;
  v1::GetSliceResponse message;
  while (reader->Read(&message)) {
    if (result.messages == 0) result.total_length = message.total_length();
    result.data += message.data();
    result.largest_message = std::max(result.largest_message, message.data().size());
    ++result.messages;
  }
  result.status = reader->Finish();
  return result;
}

}  // namespace tessera::services::testing
