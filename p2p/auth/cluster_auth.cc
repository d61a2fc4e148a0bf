#include "p2p/auth/cluster_auth.h"

#include <sodium.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/sodium.h"
#include "base/status_reasons.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/support/client_interceptor.h"

namespace tessera::p2p {
namespace {

constexpr char kVersion[] = "t1";
constexpr char kMacDomain[] = "tessera.v1.rpc-token";
constexpr size_t kNonceBytes = 16;
constexpr size_t kMacBytes = crypto_auth_hmacsha256_BYTES;  // 32
constexpr size_t kMaxCallerChars = 64;
constexpr size_t kMaxTokenChars = 256;

bool ValidCaller(absl::string_view caller) {
  if (caller.empty() || caller.size() > kMaxCallerChars) return false;
  for (char c : caller) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsLowerHex(absl::string_view s, size_t chars) {
  if (s.size() != chars) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string Hex(const unsigned char* data, size_t n) {
  std::string out(2 * n + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, n);
  out.resize(2 * n);
  return out;
}

absl::Status Fail(AuthFailure reason, AuthFailure* failure, absl::string_view message) {
  if (failure != nullptr) *failure = reason;
  return absl::UnauthenticatedError(message);
}

// Adds the protocol version and, with `auth`, a token for the call's method.
class AuthInterceptor final : public grpc::experimental::Interceptor {
 public:
  AuthInterceptor(const ClusterAuth* auth, std::string method)
      : auth_(auth), method_(std::move(method)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      auto* metadata = methods->GetSendInitialMetadata();
      metadata->insert({kProtocolMetadataKey, std::to_string(kNodeProtocolVersion)});
      if (auth_ != nullptr) metadata->insert({kAuthMetadataKey, auth_->Mint(method_)});
    }
    methods->Proceed();
  }

 private:
  const ClusterAuth* const auth_;
  const std::string method_;
};

class AuthInterceptorFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit AuthInterceptorFactory(std::shared_ptr<const ClusterAuth> auth)
      : auth_(std::move(auth)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    return new AuthInterceptor(auth_.get(), info->method() != nullptr ? info->method() : "");
  }

 private:
  std::shared_ptr<const ClusterAuth> auth_;
};

}  // namespace

const char* AuthFailureName(AuthFailure failure) {
  switch (failure) {
    case AuthFailure::kNone:
      return "none";
    case AuthFailure::kMissing:
      return "missing";
    case AuthFailure::kMalformed:
      return "malformed";
    case AuthFailure::kBadMac:
      return "bad_mac";
    case AuthFailure::kExpired:
      return "expired";
  }
  return "unknown";
}

absl::Status ClusterAuthOptions::Validate() const {
  if (!caller_id.empty() && !ValidCaller(caller_id)) {
    return absl::InvalidArgumentError(
        "caller_id must be 1..64 characters of [A-Za-z0-9_-] (or empty for verify-only)");
  }
  if (max_skew <= absl::ZeroDuration() || max_skew > absl::Hours(1)) {
    return absl::InvalidArgumentError("max_skew must be in (0, 1h]");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ClusterAuth>> ClusterAuth::Create(const ClusterSecret& secret,
                                                                 ClusterAuthOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  std::shared_ptr<const ClusterTls> tls;
  if (options.transport_tls) {
    absl::StatusOr<std::unique_ptr<ClusterTls>> made = ClusterTls::Create(secret, options.identity);
    if (!made.ok()) return made.status();
    tls = *std::move(made);
  }
  options.identity = nullptr;  // only read here; not kept
  return std::unique_ptr<ClusterAuth>(
      new ClusterAuth(secret.DeriveKey("rpc-token"), std::move(options), std::move(tls)));
}

absl::StatusOr<std::unique_ptr<ClusterAuth>> ClusterAuth::FromSecretFile(
    const std::string& path, absl::string_view caller_id) {
  absl::StatusOr<ClusterSecret> secret = ClusterSecret::Load(path);
  if (!secret.ok()) return secret.status();
  ClusterAuthOptions options;
  options.caller_id = std::string(caller_id);
  return Create(*secret, std::move(options));
}

ClusterAuth::ClusterAuth(std::string key, ClusterAuthOptions options,
                         std::shared_ptr<const ClusterTls> tls)
    : key_(std::move(key)),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : Clock::Real()),
      tls_(std::move(tls)) {}

ClusterAuth::~ClusterAuth() { sodium_memzero(key_.data(), key_.size()); }

std::string ClusterAuth::Mac(absl::string_view caller, absl::string_view issued,
                             absl::string_view method, absl::string_view nonce) const {
  const absl::string_view nul("\0", 1);
  const std::string input =
      absl::StrCat(kMacDomain, nul, kVersion, nul, caller, nul, issued, nul, method, nul, nonce);
  unsigned char mac[kMacBytes];
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(key_.data()),
                              key_.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(input.data()),
                                input.size());
  crypto_auth_hmacsha256_final(&state, mac);
  sodium_memzero(&state, sizeof(state));
  return std::string(reinterpret_cast<const char*>(mac), kMacBytes);
}

std::string ClusterAuth::MintAt(absl::string_view method, absl::Time issued,
                                absl::string_view nonce) const {
  const std::string issued_text = absl::StrCat(absl::ToUnixMicros(issued));
  const std::string mac = Mac(options_.caller_id, issued_text, method, nonce);
  return absl::StrCat(kVersion, ".", options_.caller_id, ".", issued_text, ".", nonce, ".",
                      Hex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size()));
}

std::string ClusterAuth::Mint(absl::string_view method) const {
  unsigned char nonce[kNonceBytes];
  SecureRandomBytes(nonce, sizeof(nonce));
  return MintAt(method, clock_->Now(), Hex(nonce, sizeof(nonce)));
}

absl::Status ClusterAuth::VerifyToken(absl::string_view token, absl::string_view method,
                                      std::string* caller, AuthFailure* failure) const {
  if (failure != nullptr) *failure = AuthFailure::kNone;
  if (token.empty()) return Fail(AuthFailure::kMissing, failure, "missing x-tessera-auth token");
  if (token.size() > kMaxTokenChars) {
    return Fail(AuthFailure::kMalformed, failure, "malformed x-tessera-auth token");
  }
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  int64_t issued_micros = 0;
  if (parts.size() != 5 || parts[0] != kVersion || !ValidCaller(parts[1]) ||
      !absl::SimpleAtoi(parts[2], &issued_micros) || !IsLowerHex(parts[3], 2 * kNonceBytes) ||
      !IsLowerHex(parts[4], 2 * kMacBytes)) {
    return Fail(AuthFailure::kMalformed, failure, "malformed x-tessera-auth token");
  }
  unsigned char given[kMacBytes];
  size_t decoded = 0;
  if (sodium_hex2bin(given, sizeof(given), parts[4].data(), parts[4].size(), nullptr, &decoded,
                     nullptr) != 0 ||
      decoded != kMacBytes) {
    return Fail(AuthFailure::kMalformed, failure, "malformed x-tessera-auth token");
  }
  const std::string expected = Mac(parts[1], parts[2], method, parts[3]);
  if (sodium_memcmp(given, expected.data(), kMacBytes) != 0) {
    return Fail(AuthFailure::kBadMac, failure,
                "x-tessera-auth token does not verify (wrong cluster secret or method)");
  }
  const absl::Duration age = clock_->Now() - absl::FromUnixMicros(issued_micros);
  if (age > options_.max_skew || age < -options_.max_skew) {
    return Fail(AuthFailure::kExpired, failure,
                "x-tessera-auth token expired or issued in the future (check clocks)");
  }
  if (caller != nullptr) *caller = std::string(parts[1]);
  return absl::OkStatus();
}

absl::Status CheckProtocolVersion(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(kProtocolMetadataKey);
  if (it == metadata.end()) return absl::OkStatus();  // a client from before the header
  uint32_t version = 0;
  if (!absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()), &version) ||
      version == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed ", kProtocolMetadataKey, " metadata (expected a version >= 1)"));
  }
  if (version <= kNodeProtocolVersion) return absl::OkStatus();
  return WithReason(
      absl::FailedPreconditionError(absl::StrCat(
          "the caller speaks Tessera node protocol ", version, "; this node knows up to ",
          kNodeProtocolVersion, ": upgrade this node (tessera-node) before its clients")),
      StatusReason::kNewerFormat);
}

void ClusterAuth::Attach(grpc::ClientContext* context, absl::string_view method) const {
  context->AddMetadata(kAuthMetadataKey, Mint(method));
}

absl::Status ClusterAuth::Verify(const grpc::ServerContextBase& context, absl::string_view method,
                                 std::string* caller, AuthFailure* failure) const {
  const auto& metadata = context.client_metadata();
  auto range = metadata.equal_range(kAuthMetadataKey);
  if (range.first == range.second) {
    return Fail(AuthFailure::kMissing, failure, "missing x-tessera-auth token");
  }
  if (std::next(range.first) != range.second) {
    return Fail(AuthFailure::kMalformed, failure, "more than one x-tessera-auth token");
  }
  const grpc::string_ref value = range.first->second;
  return VerifyToken(absl::string_view(value.data(), value.size()), method, caller, failure);
}

std::shared_ptr<grpc::Channel> CreateAuthenticatedChannel(
    const std::string& target, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const grpc::ChannelArguments& args, std::shared_ptr<const ClusterAuth> auth) {
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<AuthInterceptorFactory>(std::move(auth)));
  return grpc::experimental::CreateCustomChannelWithInterceptors(target, credentials, args,
                                                                 std::move(factories));
}

std::shared_ptr<grpc::Channel> CreateNodeChannel(const std::string& address,
                                                 const grpc::ChannelArguments& args,
                                                 std::shared_ptr<const ClusterAuth> auth,
                                                 absl::string_view expected_node_id) {
  if (auth == nullptr) {
    // No tokens, but the protocol version all the same.
    return CreateAuthenticatedChannel(address, grpc::InsecureChannelCredentials(), args, nullptr);
  }
  if (auth->tls() == nullptr) {
    return CreateAuthenticatedChannel(address, grpc::InsecureChannelCredentials(), args,
                                      std::move(auth));
  }
  // Ask for the node by its id (its certificate's DNS name) rather than the IP address dialled:
  // the id is what the verifier checks, and a server name the certificate lacks makes gRPC
  // log an error on the server for every connection.
  grpc::ChannelArguments named = args;
  if (!expected_node_id.empty()) named.SetSslTargetNameOverride(std::string(expected_node_id));
  std::shared_ptr<grpc::ChannelCredentials> transport =
      auth->tls()->ChannelCredentials(expected_node_id);
  return CreateAuthenticatedChannel(address, transport, named, std::move(auth));
}

}  // namespace tessera::p2p
