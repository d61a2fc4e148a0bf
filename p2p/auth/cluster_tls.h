// ClusterTls: mutual TLS between cluster members, bound to their Ed25519 identities.
//
// Trust anchor. A cluster CA keypair (Ed25519) is derived from the cluster secret,
//   CA seed = ClusterSecret::DeriveKey("tls-ca"),
// and its self-signed certificate is built deterministically (fixed name, serial and validity;
// Ed25519 signatures are deterministic), so every holder of the secret computes the same CA with
// no file to distribute, and a process with another secret computes another CA.
//
// Member certificates. Each process certifies, in memory at start, the Ed25519 key it presents:
// a node its NodeIdentity (node.key), a gateway / tool a fresh ephemeral key. The certificate's
// subject CN and its only DNS SAN are the key's node id (NodeIdFromPublicKey: 32 hex characters),
// signed by the cluster CA. The id is self-certifying: every handshake (both directions) checks
// that the SAN equals the id of the certificate's own public key, and TLS proves possession of
// the private key, so a member that holds the cluster secret (and thus could issue a certificate
// naming any id) still cannot present another node's id without that node's private key.
//
// Checks per handshake:
//   server (tessera-node): the client's certificate is required and must chain to the cluster
//     CA, and be self-certifying; PeerNodeId() then gives handlers the caller's id.
//   client: the server's certificate must chain to the cluster CA, be self-certifying, and when
//     the caller named the node it meant to call (ChannelCredentials(expected_node_id)), carry
//     exactly that id. With no expected id (a seed address) any member is accepted.
// Host names are not checked (nodes are reached by IP:port; the id is the name).
//
// Validity: certificates are valid from 2020-01-01 to 9999-12-31 (RFC 5280's "no expiry").
// They are re-made at every start and grpc 1.51 has no public hook to swap a static identity
// while running; an expiry would add no revocation either, since any secret holder can issue a
// new one. Revocation is rotating the cluster secret (security.md).
//
// TLS version: grpc 1.51 offers no public minimum-version setting; both ends run OpenSSL 3 with
// TLS 1.3 enabled, so they negotiate 1.3 (and 1.3's downgrade sentinel stops an on-path
// downgrade to 1.2).
//
// Thread-safety: immutable after creation; all methods are thread-safe. The private keys (CA and
// member) live only in this object's memory and in grpc's copies; they are wiped on destruction.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/grpcpp.h"
#include "p2p/auth/cluster_secret.h"
#include "p2p/identity/node_identity.h"

namespace grpc::experimental {
class StaticDataCertificateProvider;
}  // namespace grpc::experimental

namespace tessera::p2p {

class ClusterTls {
 public:
  // Derives the cluster CA from `secret` and certifies `identity`'s key (null: a fresh ephemeral
  // key, for gateways and tools). `identity` is only read during the call. INTERNAL if OpenSSL
  // fails (never expected).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ClusterTls>> Create(
      const ClusterSecret& secret, const NodeIdentity* identity);

  ~ClusterTls();
  ClusterTls(const ClusterTls&) = delete;
  ClusterTls& operator=(const ClusterTls&) = delete;

  // For tessera-node: TLS, client certificate required and verified as described above.
  std::shared_ptr<grpc::ServerCredentials> ServerCredentials() const;
  // For a channel to one node: verifies the server as described above; `expected_node_id`
  // empty = any cluster member (a seed address whose id is not known yet).
  std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(
      absl::string_view expected_node_id) const;

  // The id this process presents (its key's node id).
  const std::string& node_id() const { return node_id_; }
  const std::string& ca_cert_pem() const { return ca_cert_pem_; }
  const std::string& cert_pem() const { return cert_pem_; }

  // Server side: the verified node id of a TLS caller; empty when the call is not over TLS
  // (or carries no certificate).
  static std::string PeerNodeId(const grpc::ServerContextBase& context);

  // OK when `cert_pem` is a self-certifying member certificate (Ed25519 key, CN and single DNS
  // SAN equal to the key's node id) and, if `expected_node_id` is not empty, names that id;
  // UNAUTHENTICATED otherwise (the message says why). Does not check the chain: grpc does that
  // against the cluster CA before calling this. On success *node_id (if not null) is the id.
  [[nodiscard]] static absl::Status CheckMemberCertificate(absl::string_view cert_pem,
                                                           absl::string_view expected_node_id,
                                                           std::string* node_id = nullptr);

  // Issues a member certificate for the Ed25519 private `seed` with `claimed_id` in CN/SAN (any
  // string: tests use it to forge a certificate that is not self-certifying), signed by this
  // cluster's CA. Returns {key PEM, certificate PEM}. For tests.
  [[nodiscard]] absl::StatusOr<std::pair<std::string, std::string>> IssueForTest(
      absl::string_view seed, absl::string_view claimed_id) const;
  // Credentials presenting an arbitrary key/certificate pair (from IssueForTest). For tests.
  std::shared_ptr<grpc::ServerCredentials> ServerCredentialsForTest(
      const std::string& key_pem, const std::string& cert_pem) const;
  std::shared_ptr<grpc::ChannelCredentials> ChannelCredentialsForTest(
      const std::string& key_pem, const std::string& cert_pem,
      absl::string_view expected_node_id) const;

 private:
  ClusterTls() = default;
  std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(
      std::shared_ptr<grpc::experimental::StaticDataCertificateProvider> provider) const;
  std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(
      std::shared_ptr<grpc::experimental::StaticDataCertificateProvider> provider,
      absl::string_view expected_node_id) const;

  std::string ca_seed_;  // secret; wiped on destruction
  std::string ca_cert_pem_;
  std::string key_pem_;  // secret; wiped on destruction
  std::string cert_pem_;
  std::string node_id_;
  std::shared_ptr<grpc::experimental::StaticDataCertificateProvider> provider_;
};

}  // namespace tessera::p2p
