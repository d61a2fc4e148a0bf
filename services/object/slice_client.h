// SliceClient: how the gateway talks to storage nodes' SliceService.
//
// Status codes pass through from the node unchanged (docs: architecture "Contracts and errors"):
// UNAVAILABLE = node down or unreachable (try another), DATA_LOSS = checksum failure,
// NOT_FOUND = no such slice, RESOURCE_EXHAUSTED = disk full or throttled, DEADLINE_EXCEEDED =
// the per-call deadline passed. Messages are prefixed with the node's address.
//
// SliceClient is an interface so tests can wrap the real client to inject faults (corrupted
// bytes, failing nodes) between the data path and real nodes.
//
// Thread-safety: implementations are thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/node.grpc.pb.h"

namespace tessera::p2p {
class ClusterAuth;
class TransferObserver;
}  // namespace tessera::p2p

namespace tessera::services {

class SliceClient {
 public:
  virtual ~SliceClient() = default;

  // Stores `data` as slice `id` on the node at `address`; OK once the node has synced it.
  [[nodiscard]] virtual absl::Status Put(const std::string& address, const v1::SliceId& id,
                                         absl::string_view data) = 0;
  // Bytes [offset, offset + length) of the slice (length 0 = to the end).
  [[nodiscard]] virtual absl::StatusOr<std::string> Get(const std::string& address,
                                                        const v1::SliceId& id, uint64_t offset = 0,
                                                        uint64_t length = 0) = 0;
  // Deletes the slice; NOT_FOUND if the node does not hold it.
  [[nodiscard]] virtual absl::Status Delete(const std::string& address, const v1::SliceId& id) = 0;
  // Deletes only the copy created at `created` (as the node listed it): FAILED_PRECONDITION if
  // it was rewritten since (storage SliceStore::DeleteIfCreatedAt). UNIMPLEMENTED by clients that
  // cannot (callers then keep the copy).
  [[nodiscard]] virtual absl::Status DeleteIfCreatedAt(const std::string& address,
                                                       const v1::SliceId& id, absl::Time created) {
    (void)address;
    (void)id;
    (void)created;
    return absl::UnimplementedError("conditional delete not supported by this slice client");
  }
};

// Passes every call to `inner` (not owned, must outlive it): the base of wrappers that change
// some calls (fault injection, counting) and forward the rest unchanged.
class ForwardingSliceClient : public SliceClient {
 public:
  explicit ForwardingSliceClient(SliceClient* inner) : inner_(inner) {}
  absl::Status Put(const std::string& address, const v1::SliceId& id,
                   absl::string_view data) override {
    return inner_->Put(address, id, data);
  }
  absl::StatusOr<std::string> Get(const std::string& address, const v1::SliceId& id,
                                  uint64_t offset, uint64_t length) override {
    return inner_->Get(address, id, offset, length);
  }
  absl::Status Delete(const std::string& address, const v1::SliceId& id) override {
    return inner_->Delete(address, id);
  }
  absl::Status DeleteIfCreatedAt(const std::string& address, const v1::SliceId& id,
                                 absl::Time created) override {
    return inner_->DeleteIfCreatedAt(address, id, created);
  }

 protected:
  SliceClient* inner() const { return inner_; }

 private:
  SliceClient* const inner_;
};

struct GrpcSliceClientOptions {
  // Largest data field per PutSlice message in bytes (the node accepts up to 1 MiB). Default
  // 1 MiB.
  size_t chunk_bytes = 1 << 20;
  // Per-call deadlines.
  absl::Duration put_timeout = absl::Seconds(30);
  absl::Duration get_timeout = absl::Seconds(30);
  absl::Duration delete_timeout = absl::Seconds(10);
  // Mints a cluster-auth token for every call (nodes started with a cluster secret refuse calls
  // without one). Null: no tokens.
  std::shared_ptr<const p2p::ClusterAuth> auth;
  // The node id expected at an address (a gateway: from its cluster view), so that the TLS
  // handshake refuses any other node there (p2p/auth/cluster_tls.h). Null, or "" for an
  // address: any member of the cluster. Called on every RPC, from any thread.
  std::function<std::string(const std::string& address)> node_id_for_address;
  // Told of every successful call (peer = the node's address, payload bytes, elapsed time on a
  // steady clock), e.g. a p2p::BandwidthEstimator (docs/design/bandwidth.md). Null: none.
  std::shared_ptr<p2p::TransferObserver> observer;

  // OK, or INVALID_ARGUMENT naming the field.
  [[nodiscard]] absl::Status Validate() const;
};

// The gRPC SliceClient: one channel per (expected node id, node address), created on first use
// and cached for the client's lifetime (gRPC reconnects a channel by itself after a node restarts).
class GrpcSliceClient final : public SliceClient {
 public:
  explicit GrpcSliceClient(GrpcSliceClientOptions options = {});

  absl::Status Put(const std::string& address, const v1::SliceId& id,
                   absl::string_view data) override;
  absl::StatusOr<std::string> Get(const std::string& address, const v1::SliceId& id,
                                  uint64_t offset, uint64_t length) override;
  absl::Status Delete(const std::string& address, const v1::SliceId& id) override;
  absl::Status DeleteIfCreatedAt(const std::string& address, const v1::SliceId& id,
                                 absl::Time created) override;
  // The node's own report (SliceService.NodeInfo: store, drain, repair and scrub figures), for
  // status pages; the call's status (UNAVAILABLE, DEADLINE_EXCEEDED, ...) on failure.
  absl::StatusOr<v1::NodeInfoResponse> NodeInfo(const std::string& address, absl::Duration timeout);

 private:
  v1::SliceService::Stub* StubFor(const std::string& address);
  absl::Status DeleteSlice(const std::string& address, const v1::DeleteSliceRequest& request);
  // Reports a successful call that started at `start` to options_.observer, if any.
  void Observe(const std::string& address, bool send, uint64_t bytes,
               std::chrono::steady_clock::time_point start);

  const GrpcSliceClientOptions options_;
  absl::Mutex mu_;
  // By (expected node id, address): a channel checks its peer is that id, so a new node at an
  // old address needs its own.
  std::map<std::pair<std::string, std::string>, std::unique_ptr<v1::SliceService::Stub>> stubs_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::services
