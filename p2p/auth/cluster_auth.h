// ClusterAuth: per-call tokens that prove a gRPC caller holds the cluster secret.
//
// Every RPC to a storage node carries gRPC metadata `x-tessera-auth` with a token minted for
// that call's method:
//
//   t1.<caller_id>.<issued_unix_micros>.<nonce: 32 hex>.<mac: 64 hex>
//   mac = HMAC-SHA256(K, "tessera.v1.rpc-token\0t1\0" caller "\0" issued "\0" method "\0" nonce)
//   K   = ClusterSecret::DeriveKey("rpc-token")
//
// `method` is the full gRPC method name, e.g. "/tessera.v1.SliceService/PutSlice", so a token
// minted for GetSlice is refused by PutSlice. The server accepts a token whose MAC verifies
// (constant time) and whose issue time is within max_skew of its own clock (either way).
// Tokens are not bound to the request body and nodes keep no nonce cache; what stops a captured
// token from being replayed is the transport: by default a ClusterAuth also carries the
// cluster's mutual TLS (cluster_tls.h), nodes listen only with it, and CreateNodeChannel dials
// with it, so no token is ever seen by anyone outside the cluster (docs/design/security.md).
//
// Client side (gateways, CLI, tests). Either attach per call:
//
//   #include "p2p/auth/cluster_auth.h"
//   ASSIGN_OR_RETURN(auto auth, p2p::ClusterAuth::FromSecretFile(path, "gateway-1"));
//   grpc::ClientContext ctx;
//   auth->Attach(&ctx, p2p::kPutSliceMethod);   // before starting the call
//   auto writer = stub->PutSlice(&ctx, &response);
//
// or (what every client of a node does) build the channel with the one factory: mutual TLS
// with the cluster's certificates, and an interceptor that attaches a fresh token, for the
// right method, to every call made on the channel:
//
//   std::shared_ptr<grpc::Channel> ch = p2p::CreateNodeChannel(
//       "10.0.0.5:7400", grpc::ChannelArguments(), auth, node_id);   // node_id: "" = any member
//   auto stub = v1::SliceService::NewStub(ch);
//
// Server side: Verify(context, method) before touching anything; a failure is UNAUTHENTICATED.
//
// Thread-safety: immutable after creation; all methods are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "grpcpp/grpcpp.h"
#include "p2p/auth/cluster_secret.h"
#include "p2p/auth/cluster_tls.h"
#include "p2p/identity/node_identity.h"

namespace tessera::p2p {

// The gRPC metadata key that carries the token.
inline constexpr char kAuthMetadataKey[] = "x-tessera-auth";

// Full method names of tessera.v1.SliceService, for Attach() and Verify().
inline constexpr char kPutSliceMethod[] = "/tessera.v1.SliceService/PutSlice";
inline constexpr char kGetSliceMethod[] = "/tessera.v1.SliceService/GetSlice";
inline constexpr char kDeleteSliceMethod[] = "/tessera.v1.SliceService/DeleteSlice";
inline constexpr char kStatSliceMethod[] = "/tessera.v1.SliceService/StatSlice";
inline constexpr char kListSlicesMethod[] = "/tessera.v1.SliceService/ListSlices";
inline constexpr char kNodeInfoMethod[] = "/tessera.v1.SliceService/NodeInfo";
inline constexpr char kClusterMembersMethod[] = "/tessera.v1.SliceService/ClusterMembers";
inline constexpr char kSetDrainingMethod[] = "/tessera.v1.SliceService/SetDraining";

// Why a token was refused (for metrics labels).
enum class AuthFailure { kNone, kMissing, kMalformed, kBadMac, kExpired };
const char* AuthFailureName(AuthFailure failure);  // "none", "missing", "malformed", ...

struct ClusterAuthOptions {
  // Who is calling, put in every token this object mints (node id, "gateway-1", ...):
  // 1..64 characters of [A-Za-z0-9_-]. Required to mint; may be empty for a verify-only object.
  std::string caller_id;
  // Largest accepted difference between a token's issue time and the verifier's clock.
  absl::Duration max_skew = absl::Minutes(5);
  // Time source; null = Clock::Real(). Not owned.
  Clock* clock = nullptr;
  // Mutual TLS for node traffic (cluster_tls.h), derived from the same secret. When false,
  // tls() is null and CreateNodeChannel dials in plaintext (tokens only): for tests of the
  // token layer; a node and its clients must agree.
  bool transport_tls = true;
  // The key this process presents in TLS: a node's identity; null = a fresh ephemeral key
  // (gateways, tools). Not owned; only read during Create.
  const NodeIdentity* identity = nullptr;

  [[nodiscard]] absl::Status Validate() const;
};

class ClusterAuth {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ClusterAuth>> Create(
      const ClusterSecret& secret, ClusterAuthOptions options);
  // Loads the secret file (ClusterSecret::Load) and Create()s with default options.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ClusterAuth>> FromSecretFile(
      const std::string& path, absl::string_view caller_id);

  ~ClusterAuth();
  ClusterAuth(const ClusterAuth&) = delete;
  ClusterAuth& operator=(const ClusterAuth&) = delete;

  // A token for one call of `method`, issued now with a random nonce.
  std::string Mint(absl::string_view method) const;
  // The same with a given issue time and nonce (32 hex characters) - for tests.
  std::string MintAt(absl::string_view method, absl::Time issued, absl::string_view nonce) const;

  // OK when `token` is valid for `method` now; UNAUTHENTICATED otherwise (message says why,
  // never echoes secrets). On success *caller (if not null) is the token's caller id; *failure
  // (if not null) is set either way.
  [[nodiscard]] absl::Status VerifyToken(absl::string_view token, absl::string_view method,
                                         std::string* caller = nullptr,
                                         AuthFailure* failure = nullptr) const;

  // Client: adds the x-tessera-auth metadata for `method` to a context not yet used for a call.
  void Attach(grpc::ClientContext* context, absl::string_view method) const;
  // Server: checks the x-tessera-auth metadata of an incoming call of `method`.
  [[nodiscard]] absl::Status Verify(const grpc::ServerContextBase& context,
                                    absl::string_view method, std::string* caller = nullptr,
                                    AuthFailure* failure = nullptr) const;

  const std::string& caller_id() const { return options_.caller_id; }
  // The cluster's mutual TLS; null when created with transport_tls = false.
  const std::shared_ptr<const ClusterTls>& tls() const { return tls_; }

 private:
  ClusterAuth(std::string key, ClusterAuthOptions options, std::shared_ptr<const ClusterTls> tls);
  std::string Mac(absl::string_view caller, absl::string_view issued, absl::string_view method,
                  absl::string_view nonce) const;

  std::string key_;  // HMAC-SHA256 key, 32 bytes
  const ClusterAuthOptions options_;
  Clock* const clock_;
  const std::shared_ptr<const ClusterTls> tls_;
};

// THE way to dial a storage node (SliceService, MetaService): every client of a node uses it.
//  - `auth` set, with TLS (the default): mutual TLS with the cluster's certificates; the server
//    must be `expected_node_id` (empty = any member of the cluster, e.g. a seed address), and
//    every call carries a fresh token for its own method.
//  - `auth` set, transport_tls off: plaintext, tokens only (debugging).
//  - `auth` null (a cluster run without a secret, tests): plaintext, no tokens.
// `args` are the caller's channel settings (message sizes, backoff). Never fails: a refused
// handshake shows as UNAVAILABLE on the calls.
std::shared_ptr<grpc::Channel> CreateNodeChannel(const std::string& address,
                                                 const grpc::ChannelArguments& args,
                                                 std::shared_ptr<const ClusterAuth> auth,
                                                 absl::string_view expected_node_id = "");

// ---- Node RPC protocol version ----
// Every call on a channel made by CreateNodeChannel / CreateAuthenticatedChannel carries the gRPC
// metadata `x-tessera-protocol: <kNodeProtocolVersion>` (also without `auth`). The version is
// raised when requests change in a way an older node would misread (a field it must not ignore);
// additions an older node may safely ignore keep it. Node services (SliceService, MetaService)
// call CheckProtocolVersion before anything else, so a node refuses a newer client clearly
// instead of half-understanding it. A call without the metadata is version 1 (clients from
// before it existed).
inline constexpr char kProtocolMetadataKey[] = "x-tessera-protocol";
inline constexpr uint32_t kNodeProtocolVersion = 1;
// OK for versions up to kNodeProtocolVersion (or none); FAILED_PRECONDITION carrying kNewerFormat
// (base/status_reasons.h) naming both versions for a newer one; INVALID_ARGUMENT if malformed.
[[nodiscard]] absl::Status CheckProtocolVersion(const grpc::ServerContextBase& context);

// A channel with the given transport whose every call carries a fresh token for its own method
// and the protocol version (a client interceptor); CreateNodeChannel is built on it. `auth` is
// shared with the channel and must be able to mint (caller_id set); null: the version only.
std::shared_ptr<grpc::Channel> CreateAuthenticatedChannel(
    const std::string& target, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const grpc::ChannelArguments& args, std::shared_ptr<const ClusterAuth> auth);

}  // namespace tessera::p2p
