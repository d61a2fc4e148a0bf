#include "services/s3/http_server/connection_table.h"

namespace tessera::services::s3 {

ConnectionTable::ConnectionTable(size_t max_connections, size_t max_handshakes)
    : max_connections_(max_connections), max_handshakes_(max_handshakes) {}

std::list<ConnectionTable::Id>* ConnectionTable::ListOf(Phase phase) {
  switch (phase) {
    case Phase::kHandshake:
      return &handshaking_;
    case Phase::kAwaitingRequest:
      return &awaiting_;
    case Phase::kServed:
      break;
  }
  return nullptr;
}

void ConnectionTable::Remove(Id id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  if (std::list<Id>* list = ListOf(it->second.phase)) list->erase(it->second.pos);
  entries_.erase(it);
}

std::optional<ConnectionTable::Id> ConnectionTable::EvictOldestEmbryonic() {
  // Ids grow with admission: the smaller front is the older connection.
  std::list<Id>* from = nullptr;
  if (!handshaking_.empty()) from = &handshaking_;
  if (!awaiting_.empty() && (from == nullptr || awaiting_.front() < from->front())) {
    from = &awaiting_;
  }
  if (from == nullptr) return std::nullopt;
  const Id victim = from->front();
  Remove(victim);
  return victim;
}

bool ConnectionTable::Admit(Id id, bool tls, std::vector<Id>* evicted) {
  if (entries_.size() >= max_connections_) {
    std::optional<Id> victim = EvictOldestEmbryonic();
    if (!victim) return false;
    evicted->push_back(*victim);
  }
  if (tls && handshaking_.size() >= max_handshakes_) {
    const Id victim = handshaking_.front();
    Remove(victim);
    evicted->push_back(victim);
  }
  const Phase phase = tls ? Phase::kHandshake : Phase::kAwaitingRequest;
  std::list<Id>* list = ListOf(phase);
  list->push_back(id);
  entries_[id] = Entry{phase, std::prev(list->end())};
  return true;
}

bool ConnectionTable::HandshakeDone(Id id) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.phase != Phase::kHandshake) return false;
  handshaking_.erase(it->second.pos);
  awaiting_.push_back(id);
  it->second = Entry{Phase::kAwaitingRequest, std::prev(awaiting_.end())};
  return true;
}

bool ConnectionTable::FirstRequest(Id id) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.phase != Phase::kAwaitingRequest) return false;
  awaiting_.erase(it->second.pos);
  it->second.phase = Phase::kServed;
  return true;
}

void ConnectionTable::Release(Id id) { Remove(id); }

}  // namespace tessera::services::s3
