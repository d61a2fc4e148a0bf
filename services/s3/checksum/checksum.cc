#include "services/s3/checksum/checksum.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "isa-l/crc.h"
#include "services/s3/checksum/crc64nvme.h"
#include "services/s3/errors/errors.h"

namespace tessera::services::s3 {
namespace {

struct AlgorithmInfo {
  ChecksumAlgorithm algorithm;
  absl::string_view name;
  absl::string_view header;
  size_t size;
};

constexpr AlgorithmInfo kAlgorithms[] = {
    {ChecksumAlgorithm::kCrc32, "CRC32", "x-amz-checksum-crc32", 4},
    {ChecksumAlgorithm::kCrc32c, "CRC32C", "x-amz-checksum-crc32c", 4},
    {ChecksumAlgorithm::kCrc64Nvme, "CRC64NVME", "x-amz-checksum-crc64nvme", 8},
    {ChecksumAlgorithm::kSha1, "SHA1", "x-amz-checksum-sha1", 20},
    {ChecksumAlgorithm::kSha256, "SHA256", "x-amz-checksum-sha256", 32},
};

const AlgorithmInfo& Info(ChecksumAlgorithm a) { return kAlgorithms[static_cast<int>(a)]; }

std::string BigEndian(uint64_t v, int bytes) {
  std::string out(bytes, '\0');
  for (int i = bytes - 1; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

class Crc32Hasher final : public Hasher {
 public:
  explicit Crc32Hasher(bool castagnoli) : castagnoli_(castagnoli) {}
  void Update(absl::string_view data) override {
    crc_ = castagnoli_ ? Crc32c(crc_, data) : Crc32(crc_, data);
  }
  std::string Finish() override { return BigEndian(crc_, 4); }

 private:
  bool castagnoli_;
  uint32_t crc_ = 0;
};

class Crc64Hasher final : public Hasher {
 public:
  void Update(absl::string_view data) override { crc_ = Crc64Nvme(crc_, data.data(), data.size()); }
  std::string Finish() override { return BigEndian(crc_, 8); }

 private:
  uint64_t crc_ = 0;
};

class EvpHasher final : public Hasher {
 public:
  explicit EvpHasher(const EVP_MD* md) : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, md, nullptr) != 1) abort();
  }
  ~EvpHasher() override { EVP_MD_CTX_free(ctx_); }
  void Update(absl::string_view data) override {
    if (EVP_DigestUpdate(ctx_, data.data(), data.size()) != 1) abort();
  }
  std::string Finish() override {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_, out, &len) != 1) abort();
    return std::string(reinterpret_cast<char*>(out), len);
  }

 private:
  EVP_MD_CTX* ctx_;
};

// Strict standard base64 (with padding) of exactly `size` bytes.
bool DecodeBase64Exact(absl::string_view value, size_t size, std::string* out) {
  if (value.size() != 4 * ((size + 2) / 3)) return false;
  if (!absl::Base64Unescape(value, out)) return false;
  return out->size() == size && absl::Base64Escape(*out) == value;
}

bool ConstantTimeEqual(absl::string_view a, absl::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

absl::string_view ChecksumAlgorithmName(ChecksumAlgorithm a) { return Info(a).name; }
absl::string_view ChecksumHeaderName(ChecksumAlgorithm a) { return Info(a).header; }
size_t ChecksumSize(ChecksumAlgorithm a) { return Info(a).size; }

std::optional<ChecksumAlgorithm> ChecksumAlgorithmFromName(absl::string_view name) {
  for (const AlgorithmInfo& info : kAlgorithms) {
    if (absl::EqualsIgnoreCase(info.name, name)) return info.algorithm;
  }
  return std::nullopt;
}

std::optional<ChecksumAlgorithm> ChecksumAlgorithmFromHeader(absl::string_view header) {
  for (const AlgorithmInfo& info : kAlgorithms) {
    if (absl::EqualsIgnoreCase(info.header, header)) return info.algorithm;
  }
  return std::nullopt;
}

std::string Hasher::FinishBase64() { return absl::Base64Escape(Finish()); }
std::string Hasher::FinishHex() { return absl::BytesToHexString(Finish()); }

std::unique_ptr<Hasher> NewHasher(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32:
      return std::make_unique<Crc32Hasher>(false);
    case ChecksumAlgorithm::kCrc32c:
      return std::make_unique<Crc32Hasher>(true);
    case ChecksumAlgorithm::kCrc64Nvme:
      return std::make_unique<Crc64Hasher>();
    case ChecksumAlgorithm::kSha1:
      return std::make_unique<EvpHasher>(EVP_sha1());
    case ChecksumAlgorithm::kSha256:
      break;
  }
  return std::make_unique<EvpHasher>(EVP_sha256());
}

std::unique_ptr<Hasher> NewMd5Hasher() { return std::make_unique<EvpHasher>(EVP_md5()); }

std::string ComputeChecksum(ChecksumAlgorithm algorithm, absl::string_view data) {
  std::unique_ptr<Hasher> h = NewHasher(algorithm);
  h->Update(data);
  return h->Finish();
}

std::string Md5(absl::string_view data) {
  std::unique_ptr<Hasher> h = NewMd5Hasher();
  h->Update(data);
  return h->Finish();
}

uint32_t Crc32(uint32_t crc, absl::string_view data) {
  return crc32_gzip_refl(crc, reinterpret_cast<const unsigned char*>(data.data()), data.size());
}

uint32_t Crc32c(uint32_t crc, absl::string_view data) {
  // crc32_iscsi neither inverts on entry nor on exit, and takes an int length.
  uint32_t state = ~crc;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  constexpr size_t kMaxPiece = 1u << 30;
  while (n > 0) {
    size_t piece = n < kMaxPiece ? n : kMaxPiece;
    state = crc32_iscsi(const_cast<unsigned char*>(p), static_cast<int>(piece), state);
    p += piece;
    n -= piece;
  }
  return ~state;
}

absl::Status VerifyContentMd5(absl::string_view header_value, absl::string_view md5_digest) {
  std::string expected;
  if (!DecodeBase64Exact(header_value, 16, &expected)) {
    return S3Status(S3ErrorCode::kInvalidDigest);
  }
  if (!ConstantTimeEqual(expected, md5_digest)) return S3Status(S3ErrorCode::kBadDigest);
  return absl::OkStatus();
}

absl::Status VerifyChecksum(ChecksumAlgorithm algorithm, absl::string_view header_value,
                            absl::string_view digest) {
  std::string expected;
  if (!DecodeBase64Exact(header_value, ChecksumSize(algorithm), &expected)) {
    return S3Status(
        S3ErrorCode::kInvalidRequest,
        absl::StrCat("Value for ", ChecksumHeaderName(algorithm), " header is invalid."));
  }
  if (!ConstantTimeEqual(expected, digest)) {
    return S3Status(S3ErrorCode::kBadDigest,
                    absl::StrCat("The ", ChecksumAlgorithmName(algorithm),
                                 " you specified did not match the calculated checksum."));
  }
  return absl::OkStatus();
}

std::string SinglePartETag(absl::string_view md5_digest) {
  return absl::StrCat("\"", absl::BytesToHexString(md5_digest), "\"");
}

std::string MultipartETag(const std::vector<std::string>& part_md5_digests) {
  std::unique_ptr<Hasher> h = NewMd5Hasher();
  for (const std::string& d : part_md5_digests) h->Update(d);
  return absl::StrCat("\"", h->FinishHex(), "-", part_md5_digests.size(), "\"");
}

absl::StatusOr<std::string> ParsePartETag(absl::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  if (etag.size() != 32) return S3Status(S3ErrorCode::kInvalidPart);
  for (char c : etag) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return S3Status(S3ErrorCode::kInvalidPart);
    }
  }
  return absl::HexStringToBytes(absl::AsciiStrToLower(etag));
}

}  // namespace tessera::services::s3
