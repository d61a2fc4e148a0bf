#include "services/object/listing_assembler.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tessera::services {
namespace {

// The smallest string strictly greater than `s`.
std::string After(const std::string& s) { return s + std::string(1, '\0'); }

}  // namespace

std::string EncodeContinuationToken(bool is_prefix, const std::string& key) {
  return absl::BytesToHexString(absl::StrCat(is_prefix ? "P" : "K", key));
}

absl::Status DecodeContinuationToken(const std::string& token, bool* is_prefix, std::string* key) {
  const absl::Status invalid = absl::InvalidArgumentError("invalid continuation token");
  if (token.empty() || token.size() % 2 != 0) return invalid;
  for (char c : token) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return invalid;
  }
  const std::string raw = absl::HexStringToBytes(token);
  if (raw[0] != 'K' && raw[0] != 'P') return invalid;
  *is_prefix = raw[0] == 'P';
  *key = raw.substr(1);
  return absl::OkStatus();
}

std::string PrefixSuccessor(absl::string_view prefix) {
  std::string s(prefix);
  while (!s.empty()) {
    unsigned char last = static_cast<unsigned char>(s.back());
    if (last != 0xff) {
      s.back() = static_cast<char>(last + 1);
      return s;
    }
    s.pop_back();
  }
  return s;
}

absl::StatusOr<ListingAssembler> ListingAssembler::Start(const ListRequest& request) {
  if (request.max_keys < 1 || request.max_keys > 1000) {
    return absl::InvalidArgumentError("max_keys must be in [1, 1000]");
  }
  ListingAssembler a(request);
  a.lower_ = request.start_after.empty() ? "" : After(request.start_after);
  if (!request.continuation_token.empty()) {
    bool is_prefix = false;
    std::string token_key;
    if (absl::Status s =
            DecodeContinuationToken(request.continuation_token, &is_prefix, &token_key);
        !s.ok()) {
      return s;
    }
    // Compare bounds, not the token's key with start_after: after prefix "b/" is past "b/20".
    std::string token_lower = is_prefix ? PrefixSuccessor(token_key) : After(token_key);
    if (is_prefix && token_lower.empty()) a.done_ = true;  // nothing sorts after that prefix
    a.lower_ = std::max(a.lower_, std::move(token_lower));
  }
  a.lower_ = std::max(a.lower_, request.prefix);
  a.end_ = PrefixSuccessor(request.prefix);
  return a;
}

ListingAssembler::Step ListingAssembler::Full() {
  result_.truncated = true;
  done_ = true;
  return Step::kDone;
}

ListingAssembler::Step ListingAssembler::Add(const std::string& key, v1::ObjectManifest&& latest) {
  if (done_) return Step::kDone;
  if (key < lower_) return Step::kSeek;
  if (!absl::StartsWith(key, request_.prefix)) {  // key >= lower_ >= prefix: past the prefix
    done_ = true;
    return Step::kDone;
  }
  if (latest.delete_marker()) return Step::kNext;
  if (!request_.delimiter.empty()) {
    const size_t pos = key.find(request_.delimiter, request_.prefix.size());
    if (pos != std::string::npos) {
      if (emitted_ == request_.max_keys) return Full();
      std::string cp = key.substr(0, pos + request_.delimiter.size());
      // Reported once: the walk continues after every key under it, on this page and the next.
      lower_ = PrefixSuccessor(cp);
      result_.common_prefixes.push_back(cp);
      last_emitted_ = std::move(cp);
      last_is_prefix_ = true;
      ++emitted_;
      if (lower_.empty()) done_ = true;  // nothing sorts after this prefix
      return done_ ? Step::kDone : Step::kSeek;
    }
  }
  if (emitted_ == request_.max_keys) return Full();
  result_.objects.push_back(std::move(latest));
  last_emitted_ = key;
  last_is_prefix_ = false;
  lower_ = After(key);
  ++emitted_;
  return Step::kNext;
}

ListResult ListingAssembler::Finish() && {
  if (result_.truncated) {
    result_.next_continuation_token = EncodeContinuationToken(last_is_prefix_, last_emitted_);
  }
  return std::move(result_);
}

}  // namespace tessera::services
