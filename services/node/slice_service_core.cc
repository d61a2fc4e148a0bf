#include "services/node/slice_service_core.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace tessera::services {
namespace {

constexpr char kPageTokenVersion = 1;
constexpr size_t kKeySize = storage::SliceId::kVersionIdSize + 12;

void PutBigEndian32(uint32_t v, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}
uint32_t GetBigEndian32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

std::string EncodePageToken(const storage::SliceId& id) {
  std::string token(1, kPageTokenVersion);
  token += id.version_id;
  PutBigEndian32(id.part, &token);
  PutBigEndian32(id.stripe, &token);
  PutBigEndian32(id.index, &token);
  return token;
}

absl::StatusOr<storage::SliceId> DecodePageToken(absl::string_view token) {
  if (token.size() != 1 + kKeySize || token[0] != kPageTokenVersion) {
    return absl::InvalidArgumentError("malformed page_token");
  }
  storage::SliceId id;
  const char* p = token.data() + 1;
  id.version_id.assign(p, storage::SliceId::kVersionIdSize);
  p += storage::SliceId::kVersionIdSize;
  id.part = GetBigEndian32(p);
  id.stripe = GetBigEndian32(p + 4);
  id.index = GetBigEndian32(p + 8);
  return id;
}

// SliceId::ToString's format (<hex version id>/<part>/<stripe>/<index>), kept local so this
// library needs only the store's interface.
std::string IdString(const storage::SliceId& id) {
  return absl::StrCat(absl::BytesToHexString(id.version_id), "/", id.part, "/", id.stripe, "/",
                      id.index);
}

void SliceInfoToProto(const storage::SliceInfo& info, v1::SliceInfo* out) {
  SliceIdToProto(info.id, out->mutable_id());
  out->set_length(info.length);
  out->set_crc32c(info.crc32c);
  out->set_created_unix_micros(absl::ToUnixMicros(info.created));
  switch (info.state) {
    case storage::SliceState::kLive:
      out->set_state(v1::SLICE_LIVE);
      break;
    case storage::SliceState::kCorrupt:
      out->set_state(v1::SLICE_CORRUPT);
      break;
    case storage::SliceState::kMissing:
      out->set_state(v1::SLICE_MISSING);
      break;
  }
}

}  // namespace

absl::Status SliceServiceOptions::Validate() const {
  if (max_slice_bytes == 0) return absl::InvalidArgumentError("max_slice_bytes must be > 0");
  if (chunk_bytes == 0 || chunk_bytes > SliceServiceCore::kMaxChunkBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk_bytes must be in 1..", SliceServiceCore::kMaxChunkBytes));
  }
  if (max_buffered_put_bytes < max_slice_bytes) {
    return absl::InvalidArgumentError("max_buffered_put_bytes must be >= max_slice_bytes");
  }
  if (default_page_size == 0 || max_page_size < default_page_size) {
    return absl::InvalidArgumentError(
        "default_page_size must be > 0 and max_page_size >= default_page_size");
  }
  return absl::OkStatus();
}

absl::StatusOr<storage::SliceId> SliceIdFromProto(const v1::SliceId& id) {
  if (id.version_id().size() != storage::SliceId::kVersionIdSize) {
    return absl::InvalidArgumentError(absl::StrCat("slice id version_id must be ",
                                                   storage::SliceId::kVersionIdSize, " bytes, got ",
                                                   id.version_id().size()));
  }
  storage::SliceId out;
  out.version_id = id.version_id();
  out.part = id.part();
  out.stripe = id.stripe();
  out.index = id.index();
  return out;
}

void SliceIdToProto(const storage::SliceId& id, v1::SliceId* out) {
  out->set_version_id(id.version_id);
  out->set_part(id.part);
  out->set_stripe(id.stripe);
  out->set_index(id.index);
}

SliceServiceCore::SliceServiceCore(storage::SliceStore* store, SliceServiceOptions options,
                                   NodeDescription description)
    : store_(store), options_(std::move(options)), description_(std::move(description)) {}

bool SliceServiceCore::Reserve(uint64_t bytes) {
  uint64_t current = buffered_.load(std::memory_order_relaxed);
  do {
    if (current + bytes > options_.max_buffered_put_bytes) return false;
  } while (!buffered_.compare_exchange_weak(current, current + bytes, std::memory_order_relaxed));
  return true;
}

void SliceServiceCore::Release(uint64_t bytes) {
  buffered_.fetch_sub(bytes, std::memory_order_relaxed);
}

// ---- PutSlice ----

SliceServiceCore::PutStream::~PutStream() {
  if (reserved_ > 0) core_->Release(reserved_);
}

absl::Status SliceServiceCore::PutStream::Add(const v1::PutSliceRequest& request) {
  auto fail = [this](absl::Status s) {
    failed_ = true;
    data_.clear();
    data_.shrink_to_fit();
    return s;
  };
  if (failed_) return absl::FailedPreconditionError("PutSlice stream already failed");
  if (request.data().size() > core_->options_.chunk_bytes) {
    return fail(absl::InvalidArgumentError(
        absl::StrCat("PutSlice message carries ", request.data().size(), " data bytes; at most ",
                     core_->options_.chunk_bytes, " per message")));
  }
  if (!started_) {
    if (!request.has_id()) {
      return fail(absl::InvalidArgumentError("first PutSlice message must carry the slice id"));
    }
    absl::StatusOr<storage::SliceId> id = SliceIdFromProto(request.id());
    if (!id.ok()) return fail(id.status());
    if (request.length() > core_->options_.max_slice_bytes) {
      return fail(absl::InvalidArgumentError(
          absl::StrCat("slice ", IdString(*id), " of ", request.length(),
                       " bytes exceeds max_slice_bytes ", core_->options_.max_slice_bytes)));
    }
    if (!core_->Reserve(request.length())) {
      return fail(absl::ResourceExhaustedError(absl::StrCat("node is buffering too many slices (",
                                                            core_->buffered_put_bytes(),
                                                            " bytes); retry later")));
    }
    started_ = true;
    id_ = *std::move(id);
    declared_length_ = request.length();
    crc32c_ = request.crc32c();
    reserved_ = declared_length_;
    data_.reserve(declared_length_);
  } else if (request.has_id() || request.length() != 0 || request.crc32c() != 0) {
    return fail(absl::InvalidArgumentError(
        "only the first PutSlice message may carry id, length and crc32c"));
  }
  if (data_.size() + request.data().size() > declared_length_) {
    return fail(absl::InvalidArgumentError(
        absl::StrCat("slice ", IdString(id_), ": received ", data_.size() + request.data().size(),
                     " bytes, more than the declared ", declared_length_)));
  }
  data_.append(request.data());
  return absl::OkStatus();
}

absl::StatusOr<v1::PutSliceResponse> SliceServiceCore::PutStream::Finish() {
  if (failed_) return absl::FailedPreconditionError("PutSlice stream already failed");
  if (!started_) return absl::InvalidArgumentError("PutSlice stream carried no message");
  if (data_.size() != declared_length_) {
    failed_ = true;
    return absl::InvalidArgumentError(absl::StrCat("slice ", IdString(id_), ": stream ended after ",
                                                   data_.size(), " of the declared ",
                                                   declared_length_, " bytes; nothing stored"));
  }
  absl::Status s = core_->store_->Put(id_, data_, crc32c_);
  failed_ = true;  // a stream stores at most once
  data_.clear();
  data_.shrink_to_fit();
  if (!s.ok()) return s;
  v1::PutSliceResponse response;
  response.set_length(declared_length_);
  return response;
}

// ---- GetSlice ----

absl::StatusOr<std::unique_ptr<SliceServiceCore::GetStream>> SliceServiceCore::OpenGet(
    const v1::GetSliceRequest& request) {
  absl::StatusOr<storage::SliceId> id = SliceIdFromProto(request.id());
  if (!id.ok()) return id.status();
  absl::StatusOr<storage::SliceInfo> info = store_->Stat(*id);
  if (!info.ok()) return info.status();
  const uint64_t total = info->length;
  const uint64_t offset = request.offset();
  if (offset > total || (request.length() > 0 && request.length() > total - offset)) {
    return absl::OutOfRangeError(absl::StrCat("range [", offset, ", +", request.length(),
                                              ") is outside slice ", IdString(*id), " of ", total,
                                              " bytes"));
  }
  std::unique_ptr<GetStream> stream(new GetStream());
  stream->store_ = store_;
  stream->id_ = *std::move(id);
  stream->total_length_ = total;
  stream->next_ = offset;
  stream->end_ = request.length() == 0 ? total : offset + request.length();
  stream->chunk_bytes_ = options_.chunk_bytes;
  return stream;
}

absl::StatusOr<std::optional<v1::GetSliceResponse>> SliceServiceCore::GetStream::Next() {
  if (sent_first_ && next_ >= end_) return std::optional<v1::GetSliceResponse>();
  v1::GetSliceResponse response;
  if (!sent_first_) response.set_total_length(total_length_);
  if (next_ < end_) {
    const uint64_t n = std::min<uint64_t>(chunk_bytes_, end_ - next_);
    absl::StatusOr<std::string> data = store_->Get(id_, storage::ByteRange{next_, n});
    if (!data.ok()) return data.status();
    if (data->size() != n) {
      // The slice changed (deleted and rewritten shorter) between Stat and this read.
      return absl::AbortedError(absl::StrCat("slice ", IdString(id_), " changed during read"));
    }
    next_ += n;
    *response.mutable_data() = *std::move(data);
  }
  sent_first_ = true;
  return std::optional<v1::GetSliceResponse>(std::move(response));
}

// ---- Unary ----

absl::StatusOr<v1::DeleteSliceResponse> SliceServiceCore::Delete(
    const v1::DeleteSliceRequest& request) {
  absl::StatusOr<storage::SliceId> id = SliceIdFromProto(request.id());
  if (!id.ok()) return id.status();
  const absl::Status s = request.only_if_created_unix_micros() != 0
                             ? store_->DeleteIfCreatedAt(
                                   *id, absl::FromUnixMicros(request.only_if_created_unix_micros()))
                             : store_->Delete(*id);
  if (!s.ok()) return s;
  return v1::DeleteSliceResponse();
}

absl::StatusOr<v1::StatSliceResponse> SliceServiceCore::Stat(const v1::StatSliceRequest& request) {
  absl::StatusOr<storage::SliceId> id = SliceIdFromProto(request.id());
  if (!id.ok()) return id.status();
  absl::StatusOr<storage::SliceInfo> info = store_->Stat(*id);
  if (!info.ok()) return info.status();
  v1::StatSliceResponse response;
  SliceInfoToProto(*info, response.mutable_info());
  return response;
}

absl::StatusOr<v1::ListSlicesResponse> SliceServiceCore::List(
    const v1::ListSlicesRequest& request) {
  std::optional<storage::SliceId> start_after;
  if (!request.page_token().empty()) {
    absl::StatusOr<storage::SliceId> id = DecodePageToken(request.page_token());
    if (!id.ok()) return id.status();
    start_after = *std::move(id);
  }
  uint32_t limit = request.page_size() == 0 ? options_.default_page_size : request.page_size();
  limit = std::min(limit, options_.max_page_size);
  v1::ListSlicesResponse response;
  // The store stamps creation times with the real clock (SliceStoreOptions::clock in production).
  response.set_node_now_unix_micros(absl::ToUnixMicros(absl::Now()));
  if (request.only_damaged()) {
    // Damaged slices are rare: scan up to kDamagedScanBudget index entries per call, in pages,
    // and return the damaged ones met; the token resumes after the last entry scanned.
    size_t scanned = 0;
    while (scanned < kDamagedScanBudget) {
      absl::StatusOr<std::vector<storage::SliceInfo>> infos =
          store_->List(start_after, options_.max_page_size);
      if (!infos.ok()) return infos.status();
      if (infos->empty()) return response;  // the end: no token
      for (const storage::SliceInfo& info : *infos) {
        if (info.state != storage::SliceState::kLive) {
          SliceInfoToProto(info, response.add_slices());
        }
      }
      scanned += infos->size();
      start_after = infos->back().id;
      if (static_cast<uint32_t>(response.slices_size()) >= limit) break;
    }
    response.set_next_page_token(EncodePageToken(*start_after));
    return response;
  }
  // Ask for one more than the page to learn whether another page follows.
  absl::StatusOr<std::vector<storage::SliceInfo>> infos = store_->List(start_after, limit + 1);
  if (!infos.ok()) return infos.status();
  const size_t n = std::min<size_t>(infos->size(), limit);
  for (size_t i = 0; i < n; ++i) SliceInfoToProto((*infos)[i], response.add_slices());
  if (infos->size() > limit) response.set_next_page_token(EncodePageToken((*infos)[n - 1].id));
  return response;
}

absl::StatusOr<v1::NodeInfoResponse> SliceServiceCore::NodeInfo(const v1::NodeInfoRequest&) {
  const storage::StoreStats stats = store_->Stats();
  v1::NodeInfoResponse response;
  response.set_node_id(description_.node_id);
  response.set_public_key(description_.public_key);
  response.set_capacity_bytes(stats.capacity_bytes);
  response.set_free_bytes(stats.free_bytes);
  response.set_used_bytes(stats.used_bytes);
  response.set_slice_count(stats.slice_count);
  *response.mutable_location() = description_.location;
  response.set_version(description_.version);
  return response;
}

}  // namespace tessera::services
