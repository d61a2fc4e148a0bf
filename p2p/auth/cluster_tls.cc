#include "p2p/auth/cluster_tls.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace tessera::p2p {
namespace {

constexpr char kCaPurpose[] = "tls-ca";
constexpr char kCaCommonName[] = "tessera cluster CA";
// RFC 5280 4.1.2.5: 99991231235959Z means "no well-defined expiration date".
constexpr char kNotBefore[] = "20200101000000Z";
constexpr char kNotAfter[] = "99991231235959Z";

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct NamesDeleter {
  void operator()(GENERAL_NAMES* n) const { GENERAL_NAMES_free(n); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

absl::Status OpenSslError(absl::string_view what) {
  return absl::InternalError(absl::StrCat("OpenSSL: ", what, " failed"));
}

void Wipe(std::string* s) {
  if (!s->empty()) OPENSSL_cleanse(s->data(), s->size());
  s->clear();
}

PkeyPtr KeyFromSeed(absl::string_view seed) {
  if (seed.size() != 32) return nullptr;
  return PkeyPtr(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), seed.size()));
}

absl::StatusOr<std::string> BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  if (n <= 0 || data == nullptr) return OpenSslError("BIO_get_mem_data");
  return std::string(data, static_cast<size_t>(n));
}

absl::StatusOr<std::string> KeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (bio == nullptr ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("PEM_write_bio_PrivateKey");
  }
  return BioText(bio.get());
}

absl::StatusOr<std::string> CertPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return OpenSslError("PEM_write_bio_X509");
  }
  return BioText(bio.get());
}

bool AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A certificate for `subject_key` named `subject_cn`, signed by `issuer_key`. `issuer` is the
// issuer's certificate, or null for a self-signed one. CA certificates may sign certificates;
// member certificates carry `san_dns` as their only subject alternative name.
absl::StatusOr<X509Ptr> MakeCertificate(EVP_PKEY* subject_key, absl::string_view subject_cn,
                                        X509* issuer, EVP_PKEY* issuer_key, bool ca,
                                        uint64_t serial) {
  X509Ptr cert(X509_new());
  if (cert == nullptr) return OpenSslError("X509_new");
  const std::string cn(subject_cn);
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_set_version(cert.get(), 2) != 1 ||
      ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial) != 1 ||
      ASN1_TIME_set_string_X509(X509_getm_notBefore(cert.get()), kNotBefore) != 1 ||
      ASN1_TIME_set_string_X509(X509_getm_notAfter(cert.get()), kNotAfter) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name) !=
          1 ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    return OpenSslError("building a certificate");
  }
  X509* const signer = issuer != nullptr ? issuer : cert.get();
  bool ok = AddExtension(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (ca) {
    ok = ok && AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE") &&
         AddExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    const std::string san = absl::StrCat("DNS:", cn);
    ok = ok && AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE") &&
         AddExtension(cert.get(), signer, NID_key_usage, "critical,digitalSignature") &&
         AddExtension(cert.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth") &&
         AddExtension(cert.get(), signer, NID_authority_key_identifier, "keyid:always") &&
         AddExtension(cert.get(), signer, NID_subject_alt_name, san.c_str());
  }
  if (!ok) return OpenSslError("adding certificate extensions");
  // Ed25519 signs the message itself: no digest (nullptr).
  if (X509_sign(cert.get(), issuer_key, nullptr) <= 0) return OpenSslError("X509_sign");
  return cert;
}

absl::StatusOr<X509Ptr> MakeCa(absl::string_view ca_seed, PkeyPtr* ca_key) {
  *ca_key = KeyFromSeed(ca_seed);
  if (*ca_key == nullptr) return OpenSslError("EVP_PKEY_new_raw_private_key");
  // Fixed serial and dates: every holder of the secret builds the same bytes.
  return MakeCertificate(ca_key->get(), kCaCommonName, nullptr, ca_key->get(), /*ca=*/true, 1);
}

absl::StatusOr<std::pair<std::string, std::string>> Issue(absl::string_view ca_seed,
                                                          absl::string_view seed,
                                                          absl::string_view claimed_id) {
  PkeyPtr ca_key;
  absl::StatusOr<X509Ptr> ca = MakeCa(ca_seed, &ca_key);
  if (!ca.ok()) return ca.status();
  PkeyPtr key = KeyFromSeed(seed);
  if (key == nullptr) return OpenSslError("EVP_PKEY_new_raw_private_key");
  uint64_t serial = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof(serial)) != 1) {
    return OpenSslError("RAND_bytes");
  }
  serial = (serial >> 1) | 1;  // positive and non-zero
  absl::StatusOr<X509Ptr> cert =
      MakeCertificate(key.get(), claimed_id, ca->get(), ca_key.get(), /*ca=*/false, serial);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key_pem = KeyPem(key.get());
  if (!key_pem.ok()) return key_pem.status();
  absl::StatusOr<std::string> cert_pem = CertPem(cert->get());
  if (!cert_pem.ok()) return cert_pem.status();
  return std::make_pair(*std::move(key_pem), *std::move(cert_pem));
}

// Runs in grpc's handshake, after grpc verified the chain to the cluster CA.
class MemberVerifier : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit MemberVerifier(std::string expected_node_id)
      : expected_node_id_(std::move(expected_node_id)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/, grpc::Status* sync_status) override {
    const grpc::string_ref pem = request->peer_cert();
    const absl::Status s = ClusterTls::CheckMemberCertificate(
        absl::string_view(pem.data(), pem.size()), expected_node_id_);
    *sync_status = s.ok()
                       ? grpc::Status::OK
                       : grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(s.message()));
    return true;  // synchronous
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest* /*request*/) override {}

 private:
  const std::string expected_node_id_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ClusterTls>> ClusterTls::Create(const ClusterSecret& secret,
                                                               const NodeIdentity* identity) {
  std::unique_ptr<NodeIdentity> ephemeral;
  if (identity == nullptr) {
    absl::StatusOr<std::unique_ptr<NodeIdentity>> generated = NodeIdentity::Generate();
    if (!generated.ok()) return generated.status();
    ephemeral = *std::move(generated);
    identity = ephemeral.get();
  }
  std::unique_ptr<ClusterTls> tls(new ClusterTls());
  tls->ca_seed_ = secret.DeriveKey(kCaPurpose);
  tls->node_id_ = identity->node_id();
  PkeyPtr ca_key;
  absl::StatusOr<X509Ptr> ca = MakeCa(tls->ca_seed_, &ca_key);
  if (!ca.ok()) return ca.status();
  absl::StatusOr<std::string> ca_pem = CertPem(ca->get());
  if (!ca_pem.ok()) return ca_pem.status();
  tls->ca_cert_pem_ = *std::move(ca_pem);
  std::string seed = identity->SecretSeed();
  absl::StatusOr<std::pair<std::string, std::string>> issued =
      Issue(tls->ca_seed_, seed, tls->node_id_);
  Wipe(&seed);
  if (!issued.ok()) return issued.status();
  tls->key_pem_ = std::move(issued->first);
  tls->cert_pem_ = std::move(issued->second);
  tls->provider_ = std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
      tls->ca_cert_pem_,
      std::vector<grpc::experimental::IdentityKeyCertPair>{{tls->key_pem_, tls->cert_pem_}});
  return tls;
}

ClusterTls::~ClusterTls() {
  Wipe(&ca_seed_);
  Wipe(&key_pem_);
}

std::shared_ptr<grpc::ServerCredentials> ClusterTls::MakeServerCredentials(
    std::shared_ptr<grpc::experimental::StaticDataCertificateProvider> provider) const {
  grpc::experimental::TlsServerCredentialsOptions options(std::move(provider));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<MemberVerifier>(std::string()));
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> ClusterTls::MakeChannelCredentials(
    std::shared_ptr<grpc::experimental::StaticDataCertificateProvider> provider,
    absl::string_view expected_node_id) const {
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(std::move(provider));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);  // the chain to the cluster CA
  // The id check replaces grpc's host name check (nodes are dialled by IP address).
  options.set_check_call_host(false);
  options.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<MemberVerifier>(
          std::string(expected_node_id)));
  return grpc::experimental::TlsCredentials(options);
}

std::shared_ptr<grpc::ServerCredentials> ClusterTls::ServerCredentials() const {
  return MakeServerCredentials(provider_);
}

std::shared_ptr<grpc::ChannelCredentials> ClusterTls::ChannelCredentials(
    absl::string_view expected_node_id) const {
  return MakeChannelCredentials(provider_, expected_node_id);
}

absl::StatusOr<std::pair<std::string, std::string>> ClusterTls::IssueForTest(
    absl::string_view seed, absl::string_view claimed_id) const {
  return Issue(ca_seed_, seed, claimed_id);
}

std::shared_ptr<grpc::ServerCredentials> ClusterTls::ServerCredentialsForTest(
    const std::string& key_pem, const std::string& cert_pem) const {
  return MakeServerCredentials(std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
      ca_cert_pem_, std::vector<grpc::experimental::IdentityKeyCertPair>{{key_pem, cert_pem}}));
}

std::shared_ptr<grpc::ChannelCredentials> ClusterTls::ChannelCredentialsForTest(
    const std::string& key_pem, const std::string& cert_pem,
    absl::string_view expected_node_id) const {
  return MakeChannelCredentials(
      std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
          ca_cert_pem_, std::vector<grpc::experimental::IdentityKeyCertPair>{{key_pem, cert_pem}}),
      expected_node_id);
}

std::string ClusterTls::PeerNodeId(const grpc::ServerContextBase& context) {
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return "";
  const std::vector<grpc::string_ref> type = auth->FindPropertyValues("transport_security_type");
  // "tls" for the credentials ClusterTls makes ("ssl" for grpc::SslServerCredentials).
  if (type.empty()) return "";
  const absl::string_view transport(type[0].data(), type[0].size());
  if (transport != "tls" && transport != "ssl") return "";
  // The SAN (checked self-certifying in the handshake by MemberVerifier).
  const std::vector<grpc::string_ref> ids = auth->GetPeerIdentity();
  if (ids.size() != 1) return "";
  return std::string(ids[0].data(), ids[0].size());
}

absl::Status ClusterTls::CheckMemberCertificate(absl::string_view cert_pem,
                                                absl::string_view expected_node_id,
                                                std::string* node_id) {
  BioPtr bio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  X509Ptr cert(bio != nullptr ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (cert == nullptr) return absl::UnauthenticatedError("peer certificate is not readable");
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  if (key == nullptr || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    return absl::UnauthenticatedError("peer certificate key is not Ed25519");
  }
  std::string raw(NodeIdentity::kPublicKeySize, '\0');
  size_t raw_size = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &raw_size) !=
          1 ||
      raw_size != raw.size()) {
    return absl::UnauthenticatedError("peer certificate key is not readable");
  }
  const std::string id = NodeIdFromPublicKey(raw);
  // The only DNS SAN must be the key's own id.
  std::unique_ptr<GENERAL_NAMES, NamesDeleter> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  if (names == nullptr || sk_GENERAL_NAME_num(names.get()) != 1) {
    return absl::UnauthenticatedError("peer certificate must name exactly one id");
  }
  const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), 0);
  if (name->type != GEN_DNS) {
    return absl::UnauthenticatedError("peer certificate must name its id as a DNS name");
  }
  const absl::string_view san(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.dNSName)),
                              static_cast<size_t>(ASN1_STRING_length(name->d.dNSName)));
  if (san != id) {
    return absl::UnauthenticatedError(
        absl::StrCat("peer certificate names ", san, " but its key is node ", id));
  }
  if (!expected_node_id.empty() && id != expected_node_id) {
    return absl::UnauthenticatedError(
        absl::StrCat("peer is node ", id, ", expected node ", expected_node_id));
  }
  if (node_id != nullptr) *node_id = id;
  return absl::OkStatus();
}

}  // namespace tessera::p2p
