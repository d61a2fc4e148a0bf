#include "services/meta/testing_acceptor_clients.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace tessera::services {

SimNetwork::SimNetwork(std::string base_dir, uint64_t seed, AcceptorStoreOptions store_options)
    : base_dir_(std::move(base_dir)), store_options_(store_options), random_(seed) {}

SimNetwork::~SimNetwork() {
  absl::MutexLock lock(&mu_);
  delayed_.clear();
}

absl::Status SimNetwork::AddNode(const std::string& node_id) {
  auto node = std::make_unique<Node>();
  auto store = AcceptorStore::Open(absl::StrCat(base_dir_, "/", node_id), store_options_);
  if (!store.ok()) return store.status();
  {
    absl::MutexLock lock(&node->mu);
    node->store = std::move(*store);
  }
  absl::MutexLock lock(&mu_);
  nodes_[node_id] = std::move(node);
  return absl::OkStatus();
}

SimNetwork::Node* SimNetwork::Find(const std::string& node_id) {
  absl::MutexLock lock(&mu_);
  auto it = nodes_.find(node_id);
  return it == nodes_.end() ? nullptr : it->second.get();
}

void SimNetwork::Crash(const std::string& node_id) {
  Node* node = Find(node_id);
  if (node == nullptr) return;
  absl::WriterMutexLock lock(&node->mu);
  node->store.reset();
}

absl::Status SimNetwork::Restart(const std::string& node_id) {
  Node* node = Find(node_id);
  if (node == nullptr) return absl::NotFoundError(node_id);
  absl::WriterMutexLock lock(&node->mu);
  if (node->store) return absl::OkStatus();
  auto store = AcceptorStore::Open(absl::StrCat(base_dir_, "/", node_id), store_options_);
  if (!store.ok()) return store.status();
  node->store = std::move(*store);
  return absl::OkStatus();
}

void SimNetwork::SetFaults(const SimFaults& faults) {
  absl::MutexLock lock(&mu_);
  faults_ = faults;
}

std::shared_ptr<AcceptorStore> SimNetwork::store(const std::string& node_id) {
  Node* node = Find(node_id);
  if (node == nullptr) return nullptr;
  absl::ReaderMutexLock lock(&node->mu);
  return node->store;
}

void SimNetwork::FlushDelayed() {
  std::deque<std::function<void()>> work;
  {
    absl::MutexLock lock(&mu_);
    work.swap(delayed_);
  }
  for (auto& w : work) w();
}

void SimNetwork::MaybeDeliverDelayed() {
  std::function<void()> work;
  {
    absl::MutexLock lock(&mu_);
    if (delayed_.empty() || !random_.OneIn(3)) return;
    // Any held message, not the oldest: reordering.
    size_t i = random_.Uniform(delayed_.size());
    work = std::move(delayed_[i]);
    delayed_.erase(delayed_.begin() + static_cast<std::ptrdiff_t>(i));
  }
  work();
}

template <typename Resp>
void SimNetwork::Deliver(const std::string& node_id,
                         std::function<absl::StatusOr<Resp>(AcceptorStore&)> apply,
                         Callback<Resp> done) {
  MaybeDeliverDelayed();
  Node* node = Find(node_id);
  if (node == nullptr) {
    done(absl::UnavailableError(absl::StrCat("unknown node ", node_id)));
    return;
  }
  bool drop_request = false, drop_response = false, duplicate = false, delay = false;
  {
    absl::MutexLock lock(&mu_);
    drop_request = static_cast<int>(random_.Uniform(100)) < faults_.drop_request_percent;
    drop_response = static_cast<int>(random_.Uniform(100)) < faults_.drop_response_percent;
    duplicate = static_cast<int>(random_.Uniform(100)) < faults_.duplicate_percent;
    delay = static_cast<int>(random_.Uniform(100)) < faults_.delay_percent;
  }
  auto run = [node, apply]() -> absl::StatusOr<Resp> {
    absl::ReaderMutexLock lock(&node->mu);
    if (!node->store) return absl::UnavailableError("acceptor is down");
    return apply(*node->store);
  };
  if (drop_request) {
    done(absl::DeadlineExceededError("simulated request loss"));
    return;
  }
  if (delay) {
    {
      absl::MutexLock lock(&mu_);
      delayed_.push_back([run]() { (void)run(); });
    }
    done(absl::DeadlineExceededError("simulated delay (request delivered later)"));
    return;
  }
  absl::StatusOr<Resp> result = run();
  if (duplicate) result = run();
  if (drop_response) {
    done(absl::DeadlineExceededError("simulated response loss"));
    return;
  }
  done(std::move(result));
}

void SimNetwork::Prepare(const std::string& node_id, const tessera::v1::PrepareRequest& request,
                         Callback<tessera::v1::PrepareResponse> done) {
  Deliver<tessera::v1::PrepareResponse>(
      node_id, [request](AcceptorStore& s) { return s.Prepare(request); }, std::move(done));
}
void SimNetwork::Accept(const std::string& node_id, const tessera::v1::AcceptRequest& request,
                        Callback<tessera::v1::AcceptResponse> done) {
  Deliver<tessera::v1::AcceptResponse>(
      node_id, [request](AcceptorStore& s) { return s.Accept(request); }, std::move(done));
}
void SimNetwork::Commit(const std::string& node_id, const tessera::v1::CommitRequest& request,
                        Callback<tessera::v1::CommitResponse> done) {
  Deliver<tessera::v1::CommitResponse>(
      node_id, [request](AcceptorStore& s) { return s.Commit(request); }, std::move(done));
}
void SimNetwork::Read(const std::string& node_id, const tessera::v1::ReadRequest& request,
                      Callback<tessera::v1::ReadResponse> done) {
  Deliver<tessera::v1::ReadResponse>(
      node_id, [request](AcceptorStore& s) { return s.Read(request); }, std::move(done));
}
void SimNetwork::Scan(const std::string& node_id, const tessera::v1::ScanRequest& request,
                      Callback<tessera::v1::ScanResponse> done) {
  Deliver<tessera::v1::ScanResponse>(
      node_id, [request](AcceptorStore& s) { return s.Scan(request); }, std::move(done));
}

int64_t CountingAcceptorClient::total() const {
  absl::MutexLock lock(&mu_);
  int64_t n = 0;
  for (const auto& [node, c] : per_node_) n += c;
  return n;
}

std::map<std::string, int64_t> CountingAcceptorClient::per_node() const {
  absl::MutexLock lock(&mu_);
  return per_node_;
}

void CountingAcceptorClient::Reset() {
  absl::MutexLock lock(&mu_);
  per_node_.clear();
}

void CountingAcceptorClient::Count(const std::string& node_id) {
  absl::MutexLock lock(&mu_);
  ++per_node_[node_id];
}

void CountingAcceptorClient::Prepare(const std::string& node_id,
                                     const tessera::v1::PrepareRequest& request,
                                     Callback<tessera::v1::PrepareResponse> done) {
  Count(node_id);
  inner_->Prepare(node_id, request, std::move(done));
}
void CountingAcceptorClient::Accept(const std::string& node_id,
                                    const tessera::v1::AcceptRequest& request,
                                    Callback<tessera::v1::AcceptResponse> done) {
  Count(node_id);
  inner_->Accept(node_id, request, std::move(done));
}
void CountingAcceptorClient::Commit(const std::string& node_id,
                                    const tessera::v1::CommitRequest& request,
                                    Callback<tessera::v1::CommitResponse> done) {
  Count(node_id);
  inner_->Commit(node_id, request, std::move(done));
}
void CountingAcceptorClient::Read(const std::string& node_id,
                                  const tessera::v1::ReadRequest& request,
                                  Callback<tessera::v1::ReadResponse> done) {
  Count(node_id);
  inner_->Read(node_id, request, std::move(done));
}
void CountingAcceptorClient::Scan(const std::string& node_id,
                                  const tessera::v1::ScanRequest& request,
                                  Callback<tessera::v1::ScanResponse> done) {
  Count(node_id);
  inner_->Scan(node_id, request, std::move(done));
}

}  // namespace tessera::services
