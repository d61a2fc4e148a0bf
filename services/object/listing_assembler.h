// ListingAssembler: the one implementation of S3 ListObjectsV2 paging (prefix, delimiter,
// max-keys, start-after, continuation tokens, common prefixes) shared by every ManifestStore.
// A store only walks its keys in order and hands the assembler each key's newest version; the
// assembler decides what the page holds, where the walk continues and when it stops, so the
// stores cannot drift apart (listing_conformance_test runs the same cases against each).
//
// S3 rules it implements (docs/design/metadata.md "Listing"):
//   - A page holds at most max_keys items; a common prefix counts as one item.
//   - A key whose newest version is a delete marker is not listed and forms no common prefix.
//   - A common prefix (prefix + everything up to and including the first delimiter after it) is
//     reported once across all pages: once reported, the walk continues after EVERY key under
//     it (seek_to()), and a page ending on it resumes after every key under it.
//   - start_after and continuation_token both give a lower bound; the later bound wins (a token
//     resuming after common prefix "b/" is later than start_after "b/20", though "b/" < "b/20").
//   - truncated is set only when a listable key follows the page.
//
// Usage:
//   absl::StatusOr<ListingAssembler> a = ListingAssembler::Start(request);  // validates
//   if (!a.ok()) return a.status();
//   for (position at a->lower(), keys below a->end() (""= unbounded); !a->done(); ) {
//     switch (a->Add(key, newest_version_of_key)) {
//       case ListingAssembler::Step::kNext: advance to the next key; break;
//       case ListingAssembler::Step::kSeek: position at the first key >= a->seek_to(); break;
//       case ListingAssembler::Step::kDone: stop;
//     }
//   }
//   return std::move(*a).Finish();
//
// Thread-safety: none (one page, one thread). Holds copies of what it emits.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "api/manifest.pb.h"
#include "services/object/manifest_store.h"

namespace tessera::services {

class ListingAssembler {
 public:
  enum class Step {
    kNext,  // offer the next key
    kSeek,  // skip to the first key >= seek_to() (keys before it would be ignored)
    kDone,  // the page is complete: call Finish()
  };

  // INVALID_ARGUMENT if max_keys is outside [1, 1000] or the continuation token is not one that
  // EncodeContinuationToken made.
  [[nodiscard]] static absl::StatusOr<ListingAssembler> Start(const ListRequest& request);

  // Inclusive lower bound of the keys the page may hold (from prefix, start_after, token).
  const std::string& lower() const { return lower_; }
  // Exclusive upper bound: the successor of the prefix; "" = unbounded.
  const std::string& end() const { return end_; }
  // Where a kSeek asks the walk to continue.
  const std::string& seek_to() const { return lower_; }
  // True once the page is complete (also right after Start when nothing can follow the token).
  bool done() const { return done_; }

  // Offers `key` (keys strictly increasing across calls) with its newest version `latest`
  // (possibly a delete marker). Keys below lower() are ignored (kSeek); a key at or past end()
  // completes the page (kDone).
  Step Add(const std::string& key, v1::ObjectManifest&& latest);
  Step Add(const std::string& key, const v1::ObjectManifest& latest) {
    return Add(key, v1::ObjectManifest(latest));
  }

  // The page (next_continuation_token set when truncated). Call once, after the walk.
  ListResult Finish() &&;

 private:
  explicit ListingAssembler(const ListRequest& request) : request_(request) {}

  Step Full();

  const ListRequest request_;
  std::string lower_;
  std::string end_;
  bool done_ = false;
  int emitted_ = 0;
  std::string last_emitted_;
  bool last_is_prefix_ = false;
  ListResult result_;
};

// Continuation tokens: opaque to clients; "K"+key (resume after a key) or "P"+prefix (resume
// after every key under a common prefix), hex-encoded. The format is fixed: tokens handed out
// by any gateway version stay valid on every store.
std::string EncodeContinuationToken(bool is_prefix, const std::string& key);
// INVALID_ARGUMENT "invalid continuation token" for anything EncodeContinuationToken did not make.
[[nodiscard]] absl::Status DecodeContinuationToken(const std::string& token, bool* is_prefix,
                                                   std::string* key);

// The smallest string greater than every string that starts with `prefix`, or "" when there is
// none (empty prefix, or all bytes 0xff).
std::string PrefixSuccessor(absl::string_view prefix);

}  // namespace tessera::services
