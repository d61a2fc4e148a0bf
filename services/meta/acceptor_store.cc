#include "services/meta/acceptor_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_reasons.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"
#include "services/meta/layout.h"
#include "services/meta/meta_key.h"

namespace tessera::services {
namespace {

using tessera::v1::AcceptorState;

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("metadata store ", what, ": ", s.ToString()));
}

// The newest PaxosValue.format_version this binary stores (0 = unset, read as 1).
constexpr uint32_t kNewestPaxosValueFormat = 1;

// OK, or kNewerFormat for a value a newer proposer wrote in a format this acceptor does not know
// (storing it would let this binary serve it as if it understood it).
absl::Status CheckValueFormat(const tessera::v1::PaxosValue& value) {
  if (value.format_version() <= kNewestPaxosValueFormat) return absl::OkStatus();
  return NewerFormatError("metadata value (PaxosValue)", value.format_version(),
                          kNewestPaxosValueFormat);
}

// Parses a stored record (format byte, then AcceptorState). FAILED_PRECONDITION (kNewerFormat)
// for a record written by a newer binary (its format byte or AcceptorState.format_version);
// DATA_LOSS for anything else that does not parse.
absl::Status DecodeRecord(const char* data, size_t size, AcceptorState* state) {
  if (size == 0) return absl::DataLossError("empty acceptor state record in metadata store");
  const uint8_t format = static_cast<uint8_t>(data[0]);
  if (format > AcceptorStore::kFormatVersion) {
    return NewerFormatError("acceptor state record in metadata store", format,
                            AcceptorStore::kFormatVersion);
  }
  if (format != AcceptorStore::kFormatVersion ||
      !state->ParseFromArray(data + 1, static_cast<int>(size - 1))) {
    return absl::DataLossError("corrupt acceptor state record in metadata store");
  }
  if (state->format_version() > AcceptorStore::kFormatVersion) {
    return NewerFormatError("acceptor state in metadata store", state->format_version(),
                            AcceptorStore::kFormatVersion);
  }
  return absl::OkStatus();
}

absl::Status CheckKey(const tessera::v1::MetaKey& key) {
  if (key.table() == tessera::v1::META_TABLE_UNSPECIFIED) {
    return absl::InvalidArgumentError("metadata key without a table");
  }
  return absl::OkStatus();
}

// Outside every MetaKey encoding (those start with partition BE32 then a table byte < 0xff).
constexpr char kEpochKey[] =
    "\xff\xff\xff\xff\xff"
    "layout_epoch";
// The purge floor (a serialized Ballot), beside the epoch.
constexpr char kFloorKey[] =
    "\xff\xff\xff\xff\xff"
    "purge_floor";
// The key formats the records were written in: "meta_key=<v> partition_hash=<v>".
constexpr char kKeyFormatKey[] =
    "\xff\xff\xff\xff\xff"
    "key_format";
// Where bucket and object records end (the epoch and floor keys sort after every MetaKey).
constexpr char kRecordsEnd[] = "\xff\xff\xff\xff\xff";

const tessera::v1::Ballot& MaxBallot(const tessera::v1::Ballot& a, const tessera::v1::Ballot& b) {
  return BallotLess(a, b) ? b : a;
}

absl::Status CheckBallot(const tessera::v1::Ballot& b) {
  if (b.proposer().empty()) return absl::InvalidArgumentError("ballot without a proposer id");
  return absl::OkStatus();
}

// Encoded size of a length-delimited field of `n` bytes: tag, length varint, payload.
size_t FieldBytes(size_t n) {
  size_t varint = 1;
  for (size_t v = n; v >= 0x80; v >>= 7) ++varint;
  return 1 + varint + n;
}

}  // namespace

std::string KeyFormatStamp() {
  return absl::StrCat("meta_key=", kMetaKeyFormatVersion,
                      " partition_hash=", kPartitionHashVersion);
}

absl::StatusOr<std::unique_ptr<AcceptorStore>> AcceptorStore::Open(const std::string& dir,
                                                                   AcceptorStoreOptions options) {
  if (options.clock == nullptr) options.clock = Clock::Real();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create metadata store directory ", dir, ": ", ec.message()));
  }
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.keep_log_file_num = 2;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, dir, &raw);
  if (!s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot open metadata store in ", dir, ": ", s.ToString()));
  }
  std::unique_ptr<AcceptorStore> store(
      new AcceptorStore(std::unique_ptr<rocksdb::DB>(raw), options));
  // Refuse a store whose keys were encoded or partitioned differently: reading it would find
  // nothing (everything orphaned) rather than fail.
  const std::string format = KeyFormatStamp();
  std::string stored_format;
  s = store->db_->Get(rocksdb::ReadOptions(), kKeyFormatKey, &stored_format);
  if (s.IsNotFound()) {
    // New, or written before the stamp existed (version 1 of both, as this binary): stamp it.
    rocksdb::WriteOptions wo;
    wo.sync = true;
    if (absl::Status w = FromRocks(store->db_->Put(wo, kKeyFormatKey, format), "write key format");
        !w.ok()) {
      return w;
    }
  } else if (!s.ok()) {
    return FromRocks(s, "read key format");
  } else if (stored_format != format) {
    return absl::FailedPreconditionError(
        absl::StrCat("metadata store in ", dir, " was written with key format \"", stored_format,
                     "\"; this binary uses \"", format,
                     "\" (its keys would be unreachable): migrate it, or run a matching binary"));
  }
  std::string epoch;
  s = store->db_->Get(rocksdb::ReadOptions(), kEpochKey, &epoch);
  if (s.ok()) {
    if (epoch.size() != 8) return absl::DataLossError("corrupt layout epoch in metadata store");
    uint64_t e = 0;
    for (char c : epoch) e = (e << 8) | static_cast<uint8_t>(c);
    absl::MutexLock lock(&store->epoch_mu_);
    store->known_epoch_ = e;
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "read layout epoch");
  }
  std::string floor;
  s = store->db_->Get(rocksdb::ReadOptions(), kFloorKey, &floor);
  if (s.ok()) {
    absl::MutexLock lock(&store->purge_mu_);
    if (!store->floor_.ParseFromString(floor)) {
      return absl::DataLossError("corrupt purge floor in metadata store");
    }
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "read purge floor");
  }
  store->opened_micros_ = store->WallMicros();
  return store;
}

uint64_t AcceptorStore::known_layout_epoch() {
  absl::ReaderMutexLock lock(&epoch_mu_);
  return known_epoch_;
}

absl::Status AcceptorStore::RaiseEpoch(uint64_t epoch) {
  {
    absl::ReaderMutexLock lock(&epoch_mu_);
    if (epoch <= known_epoch_) return absl::OkStatus();
  }
  absl::MutexLock lock(&epoch_mu_);  // waits for requests admitted under the old epoch
  if (epoch <= known_epoch_) return absl::OkStatus();
  std::string raw(8, '\0');
  for (int i = 0; i < 8; ++i) raw[i] = static_cast<char>(epoch >> (56 - 8 * i));
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  if (absl::Status s = FromRocks(db_->Put(wo, kEpochKey, raw), "write layout epoch"); !s.ok()) {
    return s;
  }
  known_epoch_ = epoch;
  return absl::OkStatus();
}

absl::Status AcceptorStore::CheckEpoch(uint64_t epoch) {
  if (epoch == 0 || epoch >= known_epoch_) return absl::OkStatus();
  return WithReason(absl::FailedPreconditionError(absl::StrCat(
                        "stale layout epoch ", epoch, " (this acceptor knows ", known_epoch_, ")")),
                    StatusReason::kStaleLayoutEpoch);
}

absl::Status AcceptorStore::CheckSenderClock(int64_t sender_wall_micros) const {
  if (sender_wall_micros == 0 || options_.max_clock_offset <= absl::ZeroDuration()) {
    return absl::OkStatus();
  }
  // sender_wall - our now = (sender's clock - ours) - transit time. Transit (queues, a loaded
  // host, retransmits) only makes the sender look further behind, so only a sender *ahead* by
  // more than max_offset is certainly skewed. A sender that looks behind may just be slow; a
  // proposer whose clock really lags is refused by its own guard (HybridClock::CheckOffset), which
  // measures round trips.
  const absl::Duration ahead = absl::Microseconds(sender_wall_micros - WallMicros());
  if (ahead <= options_.max_clock_offset) return absl::OkStatus();
  return MarkClockOffset(absl::FailedPreconditionError(
      absl::StrCat("clock offset ", absl::FormatDuration(ahead),
                   " between the proposer and this acceptor exceeds max_offset ",
                   absl::FormatDuration(options_.max_clock_offset), "; refusing metadata writes")));
}

AcceptorStore::AcceptorStore(std::unique_ptr<rocksdb::DB> db, AcceptorStoreOptions options)
    : db_(std::move(db)), options_(options) {}

AcceptorStore::~AcceptorStore() {
  if (db_) (void)db_->Close();
}

absl::Mutex& AcceptorStore::LockFor(const std::string& encoded_key) {
  return locks_[std::hash<std::string>()(encoded_key) % locks_.size()];
}

int64_t AcceptorStore::WallMicros() const { return absl::ToUnixMicros(options_.clock->Now()); }

absl::StatusOr<AcceptorState> AcceptorStore::Load(const std::string& encoded_key, bool* absent) {
  std::string raw;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), encoded_key, &raw);
  AcceptorState state;
  if (absent != nullptr) *absent = s.IsNotFound();
  if (s.IsNotFound()) {
    state.set_format_version(kFormatVersion);
    // A key without a record may have been purged: it answers as if it had promised the floor,
    // and says that its history may be forgotten up to there (AcceptorState.purged_floor).
    absl::MutexLock lock(&purge_mu_);
    if (!floor_.proposer().empty()) {
      *state.mutable_promised() = floor_;
      *state.mutable_purged_floor() = floor_;
    }
    return state;
  }
  if (!s.ok()) return FromRocks(s, "read");
  if (absl::Status d = DecodeRecord(raw.data(), raw.size(), &state); !d.ok()) return d;
  return state;
}

absl::Status AcceptorStore::Save(const std::string& encoded_key, const AcceptorState& state) {
  std::string raw(1, static_cast<char>(kFormatVersion));
  if (!state.AppendToString(&raw)) return absl::InternalError("cannot serialize acceptor state");
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  return FromRocks(db_->Put(wo, encoded_key, raw), "write");
}

absl::StatusOr<tessera::v1::PrepareResponse> AcceptorStore::Prepare(
    const tessera::v1::PrepareRequest& request) {
  if (absl::Status s = CheckKey(request.key()); !s.ok()) return s;
  if (absl::Status s = CheckBallot(request.ballot()); !s.ok()) return s;
  if (absl::Status s = CheckSenderClock(request.sender_wall_micros()); !s.ok()) return s;
  if (absl::Status s = RaiseEpoch(request.layout_epoch()); !s.ok()) return s;
  absl::ReaderMutexLock epoch_lock(&epoch_mu_);
  if (absl::Status s = CheckEpoch(request.layout_epoch()); !s.ok()) return s;
  const std::string k = EncodeMetaKey(request.key());
  absl::MutexLock lock(&LockFor(k));
  absl::StatusOr<AcceptorState> state = Load(k);
  if (!state.ok()) return state.status();
  tessera::v1::PrepareResponse response;
  if (BallotLess(state->promised(), request.ballot())) {
    *state->mutable_promised() = request.ballot();
    if (absl::Status s = Save(k, *state); !s.ok()) return s;
    response.set_promised(true);
  }
  *response.mutable_promised_ballot() = state->promised();
  *response.mutable_state() = *std::move(state);
  response.set_wall_micros(WallMicros());
  return response;
}

absl::StatusOr<tessera::v1::AcceptResponse> AcceptorStore::Accept(
    const tessera::v1::AcceptRequest& request) {
  if (absl::Status s = CheckKey(request.key()); !s.ok()) return s;
  if (absl::Status s = CheckBallot(request.ballot()); !s.ok()) return s;
  if (absl::Status s = CheckValueFormat(request.value()); !s.ok()) return s;
  if (absl::Status s = CheckSenderClock(request.sender_wall_micros()); !s.ok()) return s;
  if (absl::Status s = RaiseEpoch(request.layout_epoch()); !s.ok()) return s;
  absl::ReaderMutexLock epoch_lock(&epoch_mu_);
  if (absl::Status s = CheckEpoch(request.layout_epoch()); !s.ok()) return s;
  const std::string k = EncodeMetaKey(request.key());
  absl::MutexLock lock(&LockFor(k));
  bool absent = false;
  absl::StatusOr<AcceptorState> state = Load(k, &absent);
  if (!state.ok()) return state.status();
  tessera::v1::AcceptResponse response;
  // Refused below the promise, and at or below a commit already learned (that proposal belongs
  // to an instance that is over); on a key without a record, at or below the purge floor.
  if (!BallotLess(request.ballot(), state->promised()) &&
      BallotLess(state->committed_ballot(), request.ballot()) &&
      !(absent && CompareBallots(request.ballot(), state->promised()) == 0 &&
        !state->promised().proposer().empty())) {
    *state->mutable_promised() = request.ballot();
    *state->mutable_accepted_ballot() = request.ballot();
    *state->mutable_accepted_value() = request.value();
    state->set_has_accepted(true);
    if (absl::Status s = Save(k, *state); !s.ok()) return s;
    response.set_accepted(true);
  }
  *response.mutable_promised_ballot() = BallotLess(state->promised(), state->committed_ballot())
                                            ? state->committed_ballot()
                                            : state->promised();
  response.set_wall_micros(WallMicros());
  return response;
}

absl::StatusOr<tessera::v1::CommitResponse> AcceptorStore::Commit(
    const tessera::v1::CommitRequest& request) {
  if (absl::Status s = CheckKey(request.key()); !s.ok()) return s;
  if (absl::Status s = CheckBallot(request.ballot()); !s.ok()) return s;
  if (absl::Status s = CheckValueFormat(request.value()); !s.ok()) return s;
  if (absl::Status s = RaiseEpoch(request.layout_epoch()); !s.ok()) return s;
  uint64_t committed_layout_epoch = 0;
  if (request.key().table() == tessera::v1::META_TABLE_LAYOUT && request.value().exists()) {
    tessera::v1::LayoutRecord record;
    if (record.ParseFromString(request.value().data())) committed_layout_epoch = record.epoch();
  }
  {
    absl::ReaderMutexLock epoch_lock(&epoch_mu_);
    if (absl::Status s = CheckEpoch(request.layout_epoch()); !s.ok()) return s;
    const std::string k = EncodeMetaKey(request.key());
    absl::MutexLock lock(&LockFor(k));
    bool absent = false;
    absl::StatusOr<AcceptorState> state = Load(k, &absent);
    if (!state.ok()) return state.status();
    // A key without a record and a ballot at or below the floor (state->promised() then): the key
    // may have been purged. Its deletion is already what the key reads as; an old live value is
    // applied only if it was observed as the newest after this partition's last purge, else it
    // may be a late copy of a value the purged deletion superseded.
    const bool at_or_below_floor = absent && !state->promised().proposer().empty() &&
                                   !BallotLess(state->promised(), request.ballot());
    if (at_or_below_floor && !request.value().exists()) {
      // A compactor's confirmation acknowledged here lets the other replicas purge their copies
      // on the strength of it, so it counts as a purge: from now on, an old live value of this
      // partition observed before it may be what the deletion superseded, and is refused like
      // after a purge. Other deletions (repairs, hand-off copies) enable no purge anywhere and
      // must not make a hand-off's later copies of live values look stale.
      if (request.purge_confirmation()) {
        absl::MutexLock purge_lock(&purge_mu_);
        last_purge_micros_[request.key().partition()] = WallMicros();
      }
      tessera::v1::CommitResponse response;
      response.set_wall_micros(WallMicros());
      return response;
    }
    if (at_or_below_floor &&
        !ObservedAfterPurge(request.key().partition(), request.observed_wall_micros())) {
      return absl::AbortedError(
          "commit of an old value to a purged key, observed before the key's partition was "
          "last purged here; read the key again");
    }
    if (BallotLess(state->committed_ballot(), request.ballot())) {
      *state->mutable_committed_ballot() = request.ballot();
      *state->mutable_committed_value() = request.value();
      if (state->has_accepted() && !BallotLess(request.ballot(), state->accepted_ballot())) {
        state->clear_accepted_ballot();
        state->clear_accepted_value();
        state->set_has_accepted(false);
      }
      if (absl::Status s = Save(k, *state); !s.ok()) return s;
    }
  }
  // A committed layout record: its epoch is known from now on.
  if (absl::Status s = RaiseEpoch(committed_layout_epoch); !s.ok()) return s;
  tessera::v1::CommitResponse response;
  response.set_wall_micros(WallMicros());
  return response;
}

absl::StatusOr<tessera::v1::ReadResponse> AcceptorStore::Read(
    const tessera::v1::ReadRequest& request) {
  if (absl::Status s = CheckKey(request.key()); !s.ok()) return s;
  if (absl::Status s = RaiseEpoch(request.layout_epoch()); !s.ok()) return s;
  absl::ReaderMutexLock epoch_lock(&epoch_mu_);
  if (absl::Status s = CheckEpoch(request.layout_epoch()); !s.ok()) return s;
  const std::string k = EncodeMetaKey(request.key());
  absl::StatusOr<AcceptorState> state;
  {
    absl::MutexLock lock(&LockFor(k));
    state = Load(k);
  }
  if (!state.ok()) return state.status();
  tessera::v1::ReadResponse response;
  *response.mutable_state() = *std::move(state);
  response.set_wall_micros(WallMicros());
  return response;
}

absl::StatusOr<tessera::v1::ScanResponse> AcceptorStore::Scan(
    const tessera::v1::ScanRequest& request) {
  if (request.table() == tessera::v1::META_TABLE_UNSPECIFIED && !request.whole_partition()) {
    return absl::InvalidArgumentError("scan without a table");
  }
  if (absl::Status s = RaiseEpoch(request.layout_epoch()); !s.ok()) return s;
  absl::ReaderMutexLock epoch_lock(&epoch_mu_);
  if (absl::Status s = CheckEpoch(request.layout_epoch()); !s.ok()) return s;
  uint32_t limit = request.limit() == 0 ? kDefaultScanLimit : request.limit();
  if (limit > kMaxScanLimit) limit = kMaxScanLimit;
  std::string prefix, lower, upper;
  if (request.whole_partition()) {
    // The BUCKET and OBJECT tables of the partition (not the layout record).
    prefix = EncodeBucketPrefix(request.partition(), tessera::v1::META_TABLE_BUCKET, "");
    prefix.resize(4);
    lower = prefix + static_cast<char>(tessera::v1::META_TABLE_BUCKET);
    upper = prefix + static_cast<char>(tessera::v1::META_TABLE_OBJECT + 1);
  } else {
    prefix = EncodeBucketPrefix(request.partition(), request.table(), request.bucket());
    lower = EncodeObjectKeyBound(request.partition(), request.table(), request.bucket(),
                                 request.start_key());
    upper = request.end_key().empty()
                ? BucketPrefixEnd(request.partition(), request.table(), request.bucket())
                : EncodeObjectKeyBound(request.partition(), request.table(), request.bucket(),
                                       request.end_key());
  }
  if (!request.page_token().empty()) {
    const std::string& token = request.page_token();
    if (token.compare(0, prefix.size(), prefix) != 0) {
      return absl::InvalidArgumentError("scan page token does not belong to this bucket");
    }
    std::string after = token;
    after.push_back('\0');  // strictly after the last returned key
    if (after > lower) lower = std::move(after);
  }
  tessera::v1::ScanResponse response;
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  std::string last;
  size_t bytes = 0;  // encoded size of the entries so far
  uint32_t examined = 0;
  for (it->Seek(lower); it->Valid(); it->Next()) {
    if (++examined > options_.scan_max_examined && !last.empty()) {
      response.set_next_page_token(last);  // bounded work per page; the caller continues
      break;
    }
    rocksdb::Slice raw = it->value();
    AcceptorState state;
    if (absl::Status d = DecodeRecord(raw.data(), raw.size(), &state); !d.ok()) return d;
    const bool in_progress = request.whole_partition() && state.has_accepted() &&
                             BallotLess(state.committed_ballot(), state.accepted_ballot());
    if (state.committed_ballot().proposer().empty() && !in_progress) {
      last = it->key().ToString();  // a page may end here (the token is strictly-after)
      continue;
    }
    if (static_cast<uint32_t>(response.entries_size()) == limit) {
      response.set_next_page_token(last);
      break;
    }
    absl::StatusOr<tessera::v1::MetaKey> key =
        DecodeMetaKey(absl::string_view(it->key().data(), it->key().size()));
    if (!key.ok()) return key.status();
    tessera::v1::ScanEntry entry;
    *entry.mutable_key() = *std::move(key);
    *entry.mutable_committed_ballot() = state.committed_ballot();
    *entry.mutable_value() = std::move(*state.mutable_committed_value());
    entry.set_in_progress(in_progress);
    // Bytes the entry adds to the encoded response, and what the page token would add if the
    // page ended here (the token is an encoded key, like this entry's).
    const size_t entry_bytes = FieldBytes(entry.ByteSizeLong());
    const size_t token_bytes = FieldBytes(it->key().size());
    if (response.entries_size() > 0 &&
        bytes + entry_bytes + token_bytes > options_.scan_page_bytes) {
      response.set_next_page_token(last);
      break;
    }
    if (response.entries_size() == 0 && entry_bytes + token_bytes > options_.max_response_bytes) {
      return absl::InternalError(absl::StrCat(
          "metadata entry of ", entry_bytes, " bytes (partition ", entry.key().partition(),
          ", object key of ", entry.key().object_key().size(), " bytes) exceeds the largest ",
          "scan response of ", options_.max_response_bytes, " bytes"));
    }
    bytes += entry_bytes;
    *response.add_entries() = std::move(entry);
    last = it->key().ToString();
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan");
  if (request.whole_partition()) {
    // Read after the page: a floor raised meanwhile only makes the hand-off more conservative.
    absl::MutexLock lock(&purge_mu_);
    if (!floor_.proposer().empty()) *response.mutable_purge_floor() = floor_;
  }
  return response;
}

absl::StatusOr<tessera::v1::JoinPartitionsResponse> AcceptorStore::JoinPartitions(
    const tessera::v1::JoinPartitionsRequest& request) {
  if (request.has_raise_purge_floor()) {
    if (absl::Status s = CheckBallot(request.raise_purge_floor()); !s.ok()) return s;
  }
  if (absl::Status s = RaiseEpoch(request.layout_epoch()); !s.ok()) return s;
  // Held shared throughout: a request of a newer epoch (which would make this node a replica of
  // a wiped partition) waits until the wipe is done, and a wipe of an older epoch is refused.
  absl::ReaderMutexLock epoch_lock(&epoch_mu_);
  if (absl::Status s = CheckEpoch(request.layout_epoch()); !s.ok()) return s;
  tessera::v1::JoinPartitionsResponse response;
  rocksdb::WriteOptions no_sync;
  no_sync.sync = false;
  for (uint32_t partition : request.wipe_partitions()) {
    std::string prefix = EncodeBucketPrefix(partition, tessera::v1::META_TABLE_BUCKET, "");
    prefix.resize(4);
    const std::string lower = prefix + static_cast<char>(tessera::v1::META_TABLE_BUCKET);
    const std::string upper = prefix + static_cast<char>(tessera::v1::META_TABLE_OBJECT + 1);
    rocksdb::ReadOptions ro;
    rocksdb::Slice upper_slice(upper);
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    for (it->Seek(lower); it->Valid(); it->Next()) {
      const std::string k = it->key().ToString();
      absl::MutexLock lock(&LockFor(k));  // no update of the key is half-way through
      if (absl::Status s = FromRocks(db_->Delete(no_sync, k), "wipe"); !s.ok()) return s;
      response.set_records_wiped(response.records_wiped() + 1);
    }
    if (!it->status().ok()) return FromRocks(it->status(), "wipe scan");
  }
  absl::MutexLock purge_lock(&purge_mu_);
  tessera::v1::Ballot floor = floor_;
  if (request.has_raise_purge_floor()) floor = MaxBallot(floor, request.raise_purge_floor());
  // One synced write: it also makes the unsynced deletions above durable (same WAL).
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  if (absl::Status s = FromRocks(db_->Put(wo, kFloorKey, floor.SerializeAsString()), "join");
      !s.ok()) {
    return s;
  }
  floor_ = floor;
  if (!floor_.proposer().empty()) *response.mutable_purge_floor() = floor_;
  response.set_wall_micros(WallMicros());
  return response;
}

bool AcceptorStore::IsPurgeCandidate(const AcceptorState& state) const {
  if (state.committed_ballot().proposer().empty() || state.committed_value().exists()) return false;
  if (state.has_accepted()) return false;  // an update in progress (accepted above committed)
  const tessera::v1::Ballot& newest = MaxBallot(state.promised(), state.committed_ballot());
  return newest.wall_micros() < WallMicros() - absl::ToInt64Microseconds(options_.tombstone_grace);
}

bool AcceptorStore::ObservedAfterPurge(uint32_t partition, int64_t observed_wall_micros) {
  if (observed_wall_micros <= 0) return false;
  int64_t purged = opened_micros_;
  {
    absl::MutexLock lock(&purge_mu_);
    auto it = last_purge_micros_.find(partition);
    if (it != last_purge_micros_.end()) purged = it->second;
  }
  const int64_t margin = std::max<int64_t>(absl::ToInt64Microseconds(options_.max_clock_offset), 0);
  return observed_wall_micros > purged + margin;
}

absl::StatusOr<std::vector<PurgeCandidate>> AcceptorStore::ListPurgeCandidates(
    const std::string& after, size_t max_candidates, size_t max_examined, std::string* resume) {
  std::vector<PurgeCandidate> out;
  resume->clear();
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper(kRecordsEnd, sizeof(kRecordsEnd) - 1);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  size_t examined = 0;
  std::string last;  // the last record examined
  if (after.empty()) {
    it->SeekToFirst();
  } else {
    it->Seek(after + std::string(1, '\0'));
  }
  for (; it->Valid(); it->Next()) {
    if (out.size() >= max_candidates || examined >= max_examined) break;
    ++examined;
    last = it->key().ToString();
    absl::StatusOr<tessera::v1::MetaKey> key = DecodeMetaKey(last);
    if (!key.ok()) return key.status();
    if (key->table() != tessera::v1::META_TABLE_BUCKET &&
        key->table() != tessera::v1::META_TABLE_OBJECT) {
      continue;
    }
    rocksdb::Slice raw = it->value();
    AcceptorState state;
    if (absl::Status d = DecodeRecord(raw.data(), raw.size(), &state); !d.ok()) return d;
    if (!IsPurgeCandidate(state)) continue;
    out.push_back(
        PurgeCandidate{*std::move(key), state.committed_ballot(), state.committed_value()});
  }
  if (!it->status().ok()) return FromRocks(it->status(), "list purge candidates");
  *resume = it->Valid() ? last : std::string();  // empty: walked to the end
  return out;
}

absl::StatusOr<bool> AcceptorStore::PurgeTombstone(const tessera::v1::MetaKey& key,
                                                   const tessera::v1::Ballot& committed_ballot) {
  if (key.table() != tessera::v1::META_TABLE_BUCKET &&
      key.table() != tessera::v1::META_TABLE_OBJECT) {
    return absl::InvalidArgumentError("only bucket and object records can be purged");
  }
  const std::string k = EncodeMetaKey(key);
  absl::MutexLock lock(&LockFor(k));
  bool absent = false;
  absl::StatusOr<AcceptorState> state = Load(k, &absent);
  if (!state.ok()) return state.status();
  if (absent || !IsPurgeCandidate(*state) ||
      CompareBallots(state->committed_ballot(), committed_ballot) != 0) {
    return false;
  }
  absl::MutexLock purge_lock(&purge_mu_);
  const tessera::v1::Ballot floor =
      MaxBallot(floor_, MaxBallot(state->promised(), state->committed_ballot()));
  rocksdb::WriteBatch batch;
  batch.Delete(k);
  batch.Put(kFloorKey, floor.SerializeAsString());
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  if (absl::Status s = FromRocks(db_->Write(wo, &batch), "purge"); !s.ok()) return s;
  floor_ = floor;
  last_purge_micros_[key.partition()] = WallMicros();
  return true;
}

tessera::v1::Ballot AcceptorStore::purge_floor() {
  absl::MutexLock lock(&purge_mu_);
  return floor_;
}

absl::StatusOr<uint64_t> AcceptorStore::CountRecords() {
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper(kRecordsEnd, sizeof(kRecordsEnd) - 1);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  uint64_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  if (!it->status().ok()) return FromRocks(it->status(), "count records");
  return n;
}

absl::Status AcceptorStore::CompactStorage() {
  return FromRocks(db_->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr),
                   "compact range");
}

absl::Status AcceptorStore::Backup(const std::string& backup_dir) {
  std::error_code ec;
  if (std::filesystem::exists(backup_dir, ec)) {
    return absl::AlreadyExistsError(
        absl::StrCat("metadata backup directory ", backup_dir, " already exists"));
  }
  rocksdb::Checkpoint* raw = nullptr;
  if (absl::Status s = FromRocks(rocksdb::Checkpoint::Create(db_.get(), &raw), "checkpoint");
      !s.ok()) {
    return s;
  }
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush = 0: flush the memtable first, so the copy needs no WAL replay.
  return FromRocks(checkpoint->CreateCheckpoint(backup_dir, /*log_size_for_flush=*/0),
                   absl::StrCat("checkpoint to ", backup_dir));
}

namespace {

// fsyncs every file in `dir` and the directory itself (std::filesystem::copy does not).
absl::Status SyncTree(const std::string& dir) {
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    const int fd = ::open(it->path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
      const int err = errno;
      if (fd >= 0) ::close(fd);
      return absl::InternalError(
          absl::StrCat("cannot sync ", it->path().string(), ": ", std::strerror(err)));
    }
    ::close(fd);
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list ", dir, ": ", ec.message()));
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status AcceptorStore::RestoreBackup(const std::string& backup_dir, const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(backup_dir, ec)) {
    return absl::NotFoundError(absl::StrCat("no metadata backup directory ", backup_dir));
  }
  if (fs::exists(dir, ec) && !(fs::is_directory(dir, ec) && fs::is_empty(dir, ec))) {
    return absl::FailedPreconditionError(
        absl::StrCat("metadata store directory ", dir,
                     " is not empty; stop the node and move it aside before restoring"));
  }
  // Copy next to the target, check that the copy opens, then rename it into place: a failed
  // restore leaves nothing at `dir`.
  const std::string staging = absl::StrCat(fs::path(dir).lexically_normal().string(), ".restoring");
  fs::remove_all(staging, ec);
  fs::create_directories(fs::path(staging).parent_path(), ec);
  fs::copy(backup_dir, staging, fs::copy_options::recursive, ec);
  absl::Status copied =
      ec ? absl::InternalError(absl::StrCat("cannot copy metadata backup ", backup_dir, " to ",
                                            staging, ": ", ec.message()))
         : SyncTree(staging);
  if (!copied.ok()) {
    fs::remove_all(staging, ec);
    return copied;
  }
  {
    absl::StatusOr<std::unique_ptr<AcceptorStore>> opened = Open(staging);
    if (!opened.ok()) {
      fs::remove_all(staging, ec);
      return absl::Status(opened.status().code(),
                          absl::StrCat("metadata backup ", backup_dir,
                                       " does not open: ", opened.status().message()));
    }
    // Closing flushes and syncs what Open wrote.
  }
  fs::remove(dir, ec);  // the empty directory, if any
  fs::rename(staging, dir, ec);
  if (ec) {
    const std::string why = ec.message();
    fs::remove_all(staging, ec);
    return absl::InternalError(absl::StrCat("cannot move restored metadata into ", dir, ": ", why));
  }
  return absl::OkStatus();
}

}  // namespace tessera::services
