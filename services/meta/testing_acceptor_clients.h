// Test doubles for AcceptorClient (testonly):
//  - SimNetwork: an in-memory cluster of AcceptorStores (RocksDB under a test directory) with
//    seeded message loss, duplication and late (reordered) delivery, and crash/restart of
//    acceptors (a restart reloads the state from RocksDB).
//  - CountingAcceptorClient: forwards to another client and counts RPCs per node.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "base/random.h"
#include "services/meta/acceptor_client.h"
#include "services/meta/acceptor_store.h"

namespace tessera::services {

struct SimFaults {
  int drop_request_percent = 0;   // never delivered; the sender sees DEADLINE_EXCEEDED
  int drop_response_percent = 0;  // applied, but the sender sees DEADLINE_EXCEEDED
  int duplicate_percent = 0;      // delivered twice
  int delay_percent = 0;          // held back, delivered later (after other messages)
};

class SimNetwork final : public AcceptorClient {
 public:
  // `store_options`: for every acceptor store opened (AddNode, Restart).
  SimNetwork(std::string base_dir, uint64_t seed, AcceptorStoreOptions store_options = {});
  ~SimNetwork() override;

  // Adds (and opens) an acceptor under base_dir/node_id.
  absl::Status AddNode(const std::string& node_id);
  // Crash: the store is closed at once (its synced state stays on disk); requests fail
  // UNAVAILABLE until Restart reopens it.
  void Crash(const std::string& node_id);
  absl::Status Restart(const std::string& node_id);
  void SetFaults(const SimFaults& faults);
  // Delivers every held-back message (to running nodes).
  void FlushDelayed();
  // Direct access to a node's store for assertions (nullptr when crashed).
  std::shared_ptr<AcceptorStore> store(const std::string& node_id);

  void Prepare(const std::string& node_id, const tessera::v1::PrepareRequest& request,
               Callback<tessera::v1::PrepareResponse> done) override;
  void Accept(const std::string& node_id, const tessera::v1::AcceptRequest& request,
              Callback<tessera::v1::AcceptResponse> done) override;
  void Commit(const std::string& node_id, const tessera::v1::CommitRequest& request,
              Callback<tessera::v1::CommitResponse> done) override;
  void Read(const std::string& node_id, const tessera::v1::ReadRequest& request,
            Callback<tessera::v1::ReadResponse> done) override;
  void Scan(const std::string& node_id, const tessera::v1::ScanRequest& request,
            Callback<tessera::v1::ScanResponse> done) override;

 private:
  struct Node {
    absl::Mutex mu;  // held shared by deliveries, exclusively by crash/restart
    std::shared_ptr<AcceptorStore> store ABSL_GUARDED_BY(mu);
  };
  template <typename Resp>
  void Deliver(const std::string& node_id,
               std::function<absl::StatusOr<Resp>(AcceptorStore&)> apply, Callback<Resp> done);
  Node* Find(const std::string& node_id);
  void MaybeDeliverDelayed();

  const std::string base_dir_;
  const AcceptorStoreOptions store_options_;
  absl::Mutex mu_;
  Random random_ ABSL_GUARDED_BY(mu_);
  SimFaults faults_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<Node>> nodes_ ABSL_GUARDED_BY(mu_);
  std::deque<std::function<void()>> delayed_ ABSL_GUARDED_BY(mu_);
};

class CountingAcceptorClient final : public AcceptorClient {
 public:
  explicit CountingAcceptorClient(AcceptorClient* inner) : inner_(inner) {}

  // Total RPCs sent, and the set of nodes contacted, since construction or Reset.
  int64_t total() const;
  std::map<std::string, int64_t> per_node() const;
  void Reset();

  void Prepare(const std::string& node_id, const tessera::v1::PrepareRequest& request,
               Callback<tessera::v1::PrepareResponse> done) override;
  void Accept(const std::string& node_id, const tessera::v1::AcceptRequest& request,
              Callback<tessera::v1::AcceptResponse> done) override;
  void Commit(const std::string& node_id, const tessera::v1::CommitRequest& request,
              Callback<tessera::v1::CommitResponse> done) override;
  void Read(const std::string& node_id, const tessera::v1::ReadRequest& request,
            Callback<tessera::v1::ReadResponse> done) override;
  void Scan(const std::string& node_id, const tessera::v1::ScanRequest& request,
            Callback<tessera::v1::ScanResponse> done) override;

 private:
  void Count(const std::string& node_id);
  AcceptorClient* const inner_;
  mutable absl::Mutex mu_;
  std::map<std::string, int64_t> per_node_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::services
