// SliceServiceCore: the logic behind the SliceService RPCs (api/node.proto), with no gRPC in it.
// The gRPC handlers (slice_service.h) only move messages between the wire and this class, so
// every rule below is unit-tested directly.
//
// Rules:
//   - Slice ids must carry a 16-byte version_id; anything else is INVALID_ARGUMENT.
//   - PutSlice: the first message carries id, length and crc32c (later messages must not); data
//     arrives in messages of at most chunk_bytes. The declared length must be <= max_slice_bytes
//     (INVALID_ARGUMENT otherwise, before any data is buffered). More data than declared, or a
//     stream that ends short, is INVALID_ARGUMENT naming both lengths. A checksum mismatch is
//     DATA_LOSS. In every failing case nothing is stored. OK only after the store's synced Put.
//     Buffered bytes across all open PutSlice streams are capped by max_buffered_put_bytes;
//     a stream that would exceed it is refused with RESOURCE_EXHAUSTED (retry later).
//   - GetSlice: [offset, offset+length) (length 0 = to the end) must lie within the slice, else
//     OUT_OF_RANGE; data comes back in chunk_bytes pieces, each read (and its block checksums
//     verified) from the store only when the previous one was sent, so memory stays bounded.
//     A checksum failure is DATA_LOSS.
//   - ListSlices pages through slices in id order; a page token is opaque to clients
//     (version byte 1 + the 28-byte big-endian key of the last slice returned).
//   - Store errors (NOT_FOUND, ALREADY_EXISTS, RESOURCE_EXHAUSTED, ...) pass through unchanged.
//
// Thread-safety: SliceServiceCore is thread-safe. PutStream and GetStream objects are each used
// by one thread at a time. The store must outlive the core and its streams.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/node.pb.h"
#include "storage/store/slice_store.h"

namespace tessera::services {

struct SliceServiceOptions {
  // Largest slice accepted, in bytes. Default 16 MiB (the store's default).
  uint64_t max_slice_bytes = 16ull << 20;
  // Largest data payload of one stream message, both directions. Default (and max) 1 MiB.
  size_t chunk_bytes = 1 << 20;
  // Cap on bytes buffered by all open PutSlice streams together. Default 256 MiB.
  uint64_t max_buffered_put_bytes = 256ull << 20;
  // ListSlices page size when the request says 0, and the cap on what it may ask for.
  uint32_t default_page_size = 1000;
  uint32_t max_page_size = 10000;

  // OK, or INVALID_ARGUMENT naming the offending field.
  [[nodiscard]] absl::Status Validate() const;
};

// What NodeInfo reports besides the store's numbers.
struct NodeDescription {
  std::string node_id;
  std::string public_key;
  v1::Location location;
  std::string version;
};

// Converts a wire slice id; INVALID_ARGUMENT unless version_id has 16 bytes.
[[nodiscard]] absl::StatusOr<storage::SliceId> SliceIdFromProto(const v1::SliceId& id);
void SliceIdToProto(const storage::SliceId& id, v1::SliceId* out);

class SliceServiceCore {
 public:
  static constexpr size_t kMaxChunkBytes = 1 << 20;
  // Index entries one ListSlices call with only_damaged scans at most (bounds its time).
  static constexpr size_t kDamagedScanBudget = 100000;

  // `store` must outlive this object. `options` must be valid.
  SliceServiceCore(storage::SliceStore* store, SliceServiceOptions options,
                   NodeDescription description);

  // One PutSlice call.
  class PutStream {
   public:
    ~PutStream();  // returns the buffer reservation
    PutStream(const PutStream&) = delete;
    PutStream& operator=(const PutStream&) = delete;

    // Takes one stream message. After an error the stream is dead (the caller ends the call).
    [[nodiscard]] absl::Status Add(const v1::PutSliceRequest& request);
    // The client finished sending: checks the length and stores the slice (blocking, synced).
    [[nodiscard]] absl::StatusOr<v1::PutSliceResponse> Finish();
    uint64_t bytes_received() const { return data_.size(); }

   private:
    friend class SliceServiceCore;
    explicit PutStream(SliceServiceCore* core) : core_(core) {}

    SliceServiceCore* core_;
    bool started_ = false;
    bool failed_ = false;
    storage::SliceId id_;
    uint64_t declared_length_ = 0;
    uint32_t crc32c_ = 0;
    uint64_t reserved_ = 0;
    std::string data_;
  };
  std::unique_ptr<PutStream> NewPutStream() {
    return std::unique_ptr<PutStream>(new PutStream(this));
  }

  // One GetSlice call.
  class GetStream {
   public:
    // The next message, or nullopt when done. The first message always comes (with
    // total_length set, possibly no data). Blocking: reads from the store.
    [[nodiscard]] absl::StatusOr<std::optional<v1::GetSliceResponse>> Next();

   private:
    friend class SliceServiceCore;
    GetStream() = default;
    storage::SliceStore* store_ = nullptr;
    storage::SliceId id_;
    uint64_t total_length_ = 0;
    uint64_t next_ = 0;  // next offset to read
    uint64_t end_ = 0;   // one past the last byte to send
    size_t chunk_bytes_ = 0;
    bool sent_first_ = false;
  };
  // Validates the request and the range against the slice (blocking: one Stat).
  [[nodiscard]] absl::StatusOr<std::unique_ptr<GetStream>> OpenGet(
      const v1::GetSliceRequest& request);

  [[nodiscard]] absl::StatusOr<v1::DeleteSliceResponse> Delete(
      const v1::DeleteSliceRequest& request);
  [[nodiscard]] absl::StatusOr<v1::StatSliceResponse> Stat(const v1::StatSliceRequest& request);
  [[nodiscard]] absl::StatusOr<v1::ListSlicesResponse> List(const v1::ListSlicesRequest& request);
  [[nodiscard]] absl::StatusOr<v1::NodeInfoResponse> NodeInfo(const v1::NodeInfoRequest& request);

  const SliceServiceOptions& options() const { return options_; }
  // Bytes currently buffered by open PutSlice streams.
  uint64_t buffered_put_bytes() const { return buffered_.load(std::memory_order_relaxed); }

 private:
  bool Reserve(uint64_t bytes);
  void Release(uint64_t bytes);

  storage::SliceStore* const store_;
  const SliceServiceOptions options_;
  const NodeDescription description_;
  std::atomic<uint64_t> buffered_{0};
};

}  // namespace tessera::services
