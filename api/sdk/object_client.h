// ObjectClient: what an application does with Tessera objects, whichever client it holds. Both
// SDK clients implement it: sdk::Client (api/sdk/client.h, the gateway's gRPC API) and
// sdk::EmbeddedClient (api/sdk/embedded_client.h, the same calls sealed end to end with the
// application's own key). Code written against ObjectClient (the `tessera` CLI, an application's
// storage layer) switches between them by construction alone.
//
//   std::unique_ptr<tessera::sdk::ObjectClient> client = ...;  // Client or EmbeddedClient
//   absl::Status made = client->CreateBucket("photos").status();
//   auto info = client->PutObjectFromFile("photos", "big.iso", "/tmp/big.iso");
//   absl::Status listed = client->ListAllObjects("photos", {.prefix = "2024/"},
//       [](const tessera::sdk::ObjectInfo& o) { return absl::OkStatus(); });
//
// The primitives (virtual) are each client's; the helpers below them (files, whole listings) are
// written once here over the primitives. Errors: each implementation's header (absl::Status with
// the gateway's code and message).
//
// Reads never return wrong bytes: a read that fails part way returns the error, and
// GetObjectToFile leaves no file behind (it writes a temporary file and renames it on success).
// Uploads are all-or-nothing: an upload that fails or is abandoned never becomes visible.
//
// Thread-safety: implementations are thread-safe; the helpers add no state.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tessera::sdk {

struct Bucket {
  std::string name;
  absl::Time created;
  std::string owner;
  std::string acl;  // canned ACL: "private" or "public-read"
};

struct CreateBucketOptions {
  // Canned ACL as S3's x-amz-acl: "private" (default, also when empty) or "public-read" (every
  // user, and anonymous S3 callers, may also read). S3's other canned ACLs are UNIMPLEMENTED, any
  // other value INVALID_ARGUMENT; the bucket is then not created.
  std::string acl;
};

struct ObjectInfo {
  std::string bucket;
  std::string key;
  std::string version_id;  // opaque bytes
  uint64_t size = 0;
  std::string etag;
  absl::Time modified;
  std::string content_type;
  std::map<std::string, std::string> user_metadata;
  bool degraded = false;  // stored with fewer than k+m slices in some stripe; repair pending
};

// Called as bytes move: `done` so far of `total` (-1 if unknown). Called from the calling thread.
using ProgressFn = std::function<void(uint64_t done, int64_t total)>;
// Fills `buffer` with up to `capacity` bytes; returns how many, 0 at the end, or an error.
using ReaderFn = std::function<absl::StatusOr<size_t>(char* buffer, size_t capacity)>;
// Receives consecutive bytes of an object; a non-OK return stops the transfer with that status.
using SinkFn = std::function<absl::Status(absl::string_view data)>;

struct PutOptions {
  std::string content_type;
  std::map<std::string, std::string> user_metadata;
  bool if_none_match = false;  // FAILED_PRECONDITION if the key already exists
  // Overwrite only the object with this ETag ("*": any object): FAILED_PRECONDITION on another
  // ETag, NOT_FOUND if there is no object. Empty: no condition. Both are decided atomically with
  // the commit.
  std::string if_match;
  ProgressFn progress;
};

struct GetOptions {
  uint64_t offset = 0;
  uint64_t length = 0;     // 0 = to the end; a range past the end is cut to the end
  std::string version_id;  // empty = latest
  ProgressFn progress;
};

struct ListOptions {
  std::string prefix;
  std::string delimiter;  // e.g. "/" to group keys into common prefixes
  std::string start_after;
  std::string continuation_token;  // from a previous page
  uint32_t max_keys = 0;           // 0 = 1000 (the most per page)
};

struct ListPage {
  std::vector<ObjectInfo> objects;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_continuation_token;
};

class ObjectClient {
 public:
  virtual ~ObjectClient() = default;

  // Buckets.
  [[nodiscard]] virtual absl::StatusOr<Bucket> CreateBucket(
      const std::string& bucket, const CreateBucketOptions& options = {}) = 0;
  [[nodiscard]] virtual absl::Status DeleteBucket(const std::string& bucket) = 0;  // when empty
  [[nodiscard]] virtual absl::StatusOr<Bucket> HeadBucket(const std::string& bucket) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::vector<Bucket>> ListBuckets() = 0;

  // Uploads (all-or-nothing). `size` of PutObjectFromReader may be -1 when unknown; a known size
  // the reader does not deliver exactly is INVALID_ARGUMENT and nothing is stored.
  [[nodiscard]] virtual absl::StatusOr<ObjectInfo> PutObject(const std::string& bucket,
                                                             const std::string& key,
                                                             absl::string_view data,
                                                             const PutOptions& options = {}) = 0;
  [[nodiscard]] virtual absl::StatusOr<ObjectInfo> PutObjectFromReader(
      const std::string& bucket, const std::string& key, const ReaderFn& reader, int64_t size,
      const PutOptions& options = {}) = 0;

  // Downloads.
  [[nodiscard]] virtual absl::StatusOr<std::string> GetObject(const std::string& bucket,
                                                              const std::string& key,
                                                              const GetOptions& options = {}) = 0;
  // Streams to `sink`; the object's info is returned at the end.
  [[nodiscard]] virtual absl::StatusOr<ObjectInfo> GetObjectToSink(
      const std::string& bucket, const std::string& key, const SinkFn& sink,
      const GetOptions& options = {}) = 0;

  [[nodiscard]] virtual absl::StatusOr<ObjectInfo> HeadObject(const std::string& bucket,
                                                              const std::string& key) = 0;
  // OK also when the key does not exist (as S3); NOT_FOUND if the bucket does not.
  [[nodiscard]] virtual absl::Status DeleteObject(const std::string& bucket,
                                                  const std::string& key) = 0;
  // One page of keys.
  [[nodiscard]] virtual absl::StatusOr<ListPage> ListObjects(const std::string& bucket,
                                                             const ListOptions& options = {}) = 0;

  // --- Helpers over the primitives ---

  // Uploads the regular file at `path` (PutObjectFromReader with its size). NOT_FOUND if it does
  // not exist, PERMISSION_DENIED if it cannot be opened, INVALID_ARGUMENT if not a regular file,
  // DATA_LOSS if a read fails.
  [[nodiscard]] absl::StatusOr<ObjectInfo> PutObjectFromFile(const std::string& bucket,
                                                             const std::string& key,
                                                             const std::string& path,
                                                             const PutOptions& options = {});
  // Writes to `path` atomically (temporary file + fsync + rename); nothing is left behind on
  // error (RESOURCE_EXHAUSTED when the disk refuses a write or the sync).
  [[nodiscard]] absl::StatusOr<ObjectInfo> GetObjectToFile(const std::string& bucket,
                                                           const std::string& key,
                                                           const std::string& path,
                                                           const GetOptions& options = {});
  // Every matching key, page after page, in key order. `on_object` sees each object, `on_prefix`
  // (optional) each common prefix; a non-OK return stops the listing with that status.
  [[nodiscard]] absl::Status ListAllObjects(
      const std::string& bucket, const ListOptions& options,
      const std::function<absl::Status(const ObjectInfo&)>& on_object,
      const std::function<absl::Status(const std::string&)>& on_prefix = nullptr);
};

}  // namespace tessera::sdk
