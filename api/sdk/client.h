// The Tessera C++ SDK: a small client for the gateway's gRPC API (api/gateway.proto).
//
//   #include "api/sdk/client.h"
//
//   tessera::sdk::ClientOptions options;
//   options.access_key_id = "...";        // a user of the gateway's --credentials_file
//   options.secret_access_key = "...";    // (the same users and keys as S3)
//   absl::StatusOr<std::unique_ptr<tessera::sdk::Client>> client =
//       tessera::sdk::Client::Connect("127.0.0.1:7500", options);
//   if (!client.ok()) { std::cerr << client.status().message() << "\n"; return 1; }
//   absl::Status s = (*client)->CreateBucket("photos");          // ALREADY_EXISTS if taken
//   auto info = (*client)->PutObject("photos", "cat.jpg", jpeg_bytes);
//   auto file = (*client)->PutObjectFromFile("photos", "big.iso", "/tmp/big.iso",
//                                            {.progress = [](uint64_t done, int64_t total) {}});
//   absl::StatusOr<std::string> data = (*client)->GetObject("photos", "cat.jpg");
//   tessera::sdk::GetOptions range;  range.offset = 100;  range.length = 10;
//   auto part = (*client)->GetObject("photos", "cat.jpg", range);
//   absl::Status listed = (*client)->ListAllObjects(
//       "photos", {.prefix = "2024/"}, [](const tessera::sdk::ObjectInfo& o) {
//         std::cout << o.key << " " << o.size << "\n";
//         return absl::OkStatus();
//       });
//
// Every call is signed with the access key's secret (HMAC-SHA256 over the method, the time and a
// fresh nonce: api/sdk/call_signature.h); the secret itself never leaves the client.
// The gateway acts as that user: buckets the user created, and public-read buckets for reading.
// Over untrusted networks connect with TLS (options.tls / tls_root_certs_file).
//
// Errors are absl::Status with the gateway's code and message, e.g. NOT_FOUND "no such key:
// photos/cat.jpg", ALREADY_EXISTS "bucket exists: photos", FAILED_PRECONDITION "bucket not
// empty: photos", INVALID_ARGUMENT (bad name / range), OUT_OF_RANGE (offset past the end),
// UNAVAILABLE (gateway unreachable - the message names the endpoint - or too few storage nodes),
// DATA_LOSS (object unreadable), DEADLINE_EXCEEDED (options.timeout passed), UNAUTHENTICATED
// (no, unknown or wrong credentials, or this machine's clock is over 15 min off), PERMISSION_DENIED
// (the user may not read or write that bucket).
//
// Reads never return wrong bytes: a read that fails part way returns the error, and
// GetObjectToFile leaves no file behind (it writes a temporary file and renames it on success).
// Uploads are all-or-nothing: an upload that fails or is abandoned never becomes visible.
//
// Thread-safety: a Client is thread-safe; share one per process (it holds one gRPC channel).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "api/sdk/object_client.h"

namespace tessera::v1 {
class Gateway;
}

namespace tessera::sdk {

struct ClientOptions {
  // The user's credentials (as for S3: access key id and secret access key). Without them every
  // call is refused UNAUTHENTICATED. The `tessera` CLI finds them by itself (sdk_cli.md).
  std::string access_key_id;
  std::string secret_access_key;
  // TLS: required when the gateway serves TLS (--tls_cert_file). `tls_root_certs_file` is a PEM
  // file of the CAs to trust (e.g. the gateway's self-signed certificate); empty = the system's.
  // Setting it implies `tls`.
  bool tls = false;
  std::string tls_root_certs_file;
  // How long Connect waits for the gateway to accept a connection. Default 5 s.
  absl::Duration connect_timeout = absl::Seconds(5);
  // Deadline of each unary call (buckets, head, delete, list, status). Default 30 s.
  absl::Duration timeout = absl::Seconds(30);
  // Deadline of a whole PutObject/GetObject stream; infinite by default (large objects).
  absl::Duration transfer_timeout = absl::InfiniteDuration();
  // Bytes per PutObject message (<= 1 MiB, the gateway's limit). Default 1 MiB.
  size_t chunk_bytes = 1 << 20;
};

// Client-sealed objects (end-to-end mode): the raw calls a sealing layer (api/sdk/
// embedded_client.h, which applications should use) builds on. The gateway stores the sealed
// stripes as given and never sees a key that opens them.
struct ClientSealing {
  uint32_t format = 0;           // the sealing layer's format version (>= 1)
  uint32_t key_id = 0;           // the client key id that wrapped the data key
  std::string wrapped_data_key;  // <= 256 bytes
  std::string upload_nonce;      // 16 random bytes
};

struct SealedStripe {
  uint32_t index = 0;
  uint64_t plaintext_offset = 0;
  uint64_t plaintext_size = 0;
  std::string sealed;  // 1 byte .. 1 MiB
  bool last = false;
};

// Produces the next stripe to upload; the upload ends after the one marked last.
using SealedStripeSource = std::function<absl::StatusOr<SealedStripe>()>;
// Called first on a sealed download: the object, how it was sealed, its stripe count.
using SealedHeaderFn = std::function<absl::Status(
    const ObjectInfo& info, const ClientSealing& sealing, uint32_t stripe_count)>;
// Receives each stripe of a sealed download, in order.
using SealedStripeFn = std::function<absl::Status(SealedStripe stripe)>;

struct NodeStatus {
  std::string node_id;
  std::string address;
  std::string site;
  std::string state;  // alive, suspect, draining, dead
  uint64_t capacity_bytes = 0;
  uint64_t free_bytes = 0;
  // The node's published bandwidth summary (medians over the peers it measured); 0 = none.
  uint64_t egress_bytes_per_second = 0;
  uint64_t ingress_bytes_per_second = 0;
  uint32_t median_rtt_micros = 0;
  // The node's own report, asked by the gateway (false: dead, or no answer in time).
  bool reported = false;
  uint64_t slice_count = 0;
  // Its repair scheduler (docs/design/repair.md); has_repair false: repair is off there. Cluster
  // totals are sums over the nodes (each repairs the buckets it leases).
  struct Repair {
    uint64_t passes = 0;
    // Stripes needing repair at its last scan, by spare slices left: "0", "1", ..., "unreadable".
    std::map<std::string, uint64_t> degraded_stripes;
    uint64_t queue_stripes = 0;
    uint64_t queue_bytes = 0;
    uint64_t stripes_repaired = 0;
    uint64_t bytes_read = 0;
    uint64_t bytes_written = 0;
    double bytes_per_second = 0;
    double time_to_redundancy_seconds = 0;  // 0 nothing queued, -1 no rate measured yet
    uint32_t buckets_leased = 0;
    uint64_t damaged_slices = 0;
  };
  bool has_repair = false;
  Repair repair;
  // Its scrubber; has_scrub false: scrubbing is off there.
  struct Scrub {
    uint64_t passes = 0;
    uint64_t slices_checked = 0;
    uint64_t bytes_checked = 0;
    uint64_t corrupt_found = 0;
    uint64_t errors = 0;
    uint64_t pass_slices_checked = 0;  // progress of the pass in progress, of slice_count
  };
  bool has_scrub = false;
  Scrub scrub;
};

struct ClusterStatus {
  std::vector<NodeStatus> nodes;
  uint32_t data_shards = 0;
  uint32_t parity_shards = 0;
};

class Client final : public ObjectClient {
 public:
  // Connects to a gateway at "host:port". UNAVAILABLE "cannot connect to the Tessera gateway at
  // ..." if it does not accept a connection (or TLS handshake) within options.connect_timeout;
  // INVALID_ARGUMENT if only one of access_key_id / secret_access_key is set, or NOT_FOUND if
  // tls_root_certs_file cannot be read. Credentials are checked by the first call, not here.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Client>> Connect(
      const std::string& endpoint, const ClientOptions& options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const std::string& endpoint() const { return endpoint_; }

  // Buckets.
  [[nodiscard]] absl::StatusOr<Bucket> CreateBucket(
      const std::string& bucket, const CreateBucketOptions& options = {}) override;
  [[nodiscard]] absl::Status DeleteBucket(const std::string& bucket) override;  // must be empty
  [[nodiscard]] absl::StatusOr<Bucket> HeadBucket(const std::string& bucket) override;
  [[nodiscard]] absl::StatusOr<std::vector<Bucket>> ListBuckets() override;

  // Uploads. `size` of PutObjectFromReader may be -1 when unknown.
  [[nodiscard]] absl::StatusOr<ObjectInfo> PutObject(const std::string& bucket,
                                                     const std::string& key, absl::string_view data,
                                                     const PutOptions& options = {}) override;
  [[nodiscard]] absl::StatusOr<ObjectInfo> PutObjectFromReader(
      const std::string& bucket, const std::string& key, const ReaderFn& reader, int64_t size,
      const PutOptions& options = {}) override;

  // Downloads.
  [[nodiscard]] absl::StatusOr<std::string> GetObject(const std::string& bucket,
                                                      const std::string& key,
                                                      const GetOptions& options = {}) override;
  // Streams to `sink`; the object's info (first message) is returned at the end.
  [[nodiscard]] absl::StatusOr<ObjectInfo> GetObjectToSink(const std::string& bucket,
                                                           const std::string& key,
                                                           const SinkFn& sink,
                                                           const GetOptions& options = {}) override;

  [[nodiscard]] absl::StatusOr<ObjectInfo> HeadObject(const std::string& bucket,
                                                      const std::string& key) override;
  // OK also when the key does not exist (as S3); NOT_FOUND if the bucket does not.
  [[nodiscard]] absl::Status DeleteObject(const std::string& bucket,
                                          const std::string& key) override;

  // One page of keys.
  [[nodiscard]] absl::StatusOr<ListPage> ListObjects(const std::string& bucket,
                                                     const ListOptions& options = {}) override;

  [[nodiscard]] absl::StatusOr<ClusterStatus> GetClusterStatus();

  // Raw client-sealed transfers (gateway PutSealedObject / GetSealedObject; use
  // EmbeddedClient, which seals and opens). Authorised as PutObject / GetObject. PutSealedObject
  // streams stripes from `next` until one is marked last (all-or-nothing as PutObject);
  // options.content_type, user_metadata, if_none_match and if_match apply. GetSealedObject
  // delivers every whole stripe holding a byte of the range (options.offset / length, plaintext
  // bytes; version_id as GetObject). FAILED_PRECONDITION for an object that was not client-sealed
  // (and GetObject of a client-sealed one).
  [[nodiscard]] absl::StatusOr<ObjectInfo> PutSealedObject(const std::string& bucket,
                                                           const std::string& key,
                                                           const ClientSealing& sealing,
                                                           const SealedStripeSource& next,
                                                           const PutOptions& options = {});
  [[nodiscard]] absl::StatusOr<ObjectInfo> GetSealedObject(const std::string& bucket,
                                                           const std::string& key,
                                                           const GetOptions& options,
                                                           const SealedHeaderFn& on_header,
                                                           const SealedStripeFn& on_stripe);

  class Impl;

 private:
  Client(std::string endpoint, ClientOptions options, std::unique_ptr<Impl> impl);
  const std::string endpoint_;
  const ClientOptions options_;
  std::unique_ptr<Impl> impl_;
};

// Human-readable byte counts ("1.5 MiB") for tools.
std::string FormatBytes(uint64_t bytes);

}  // namespace tessera::sdk
