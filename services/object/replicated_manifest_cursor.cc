#include "services/object/replicated_manifest_cursor.h"

#include <algorithm>
#include <utility>

namespace tessera::services {
namespace {

// Batches double while a stream needs more.
uint32_t NextBatch(uint32_t batch) { return std::min<uint32_t>(kMaxScanBatch, batch * 2); }

bool ItemLess(const ScanItem& a, const ScanItem& b) {
  if (a.key.object_key() != b.key.object_key()) return a.key.object_key() < b.key.object_key();
  return a.key.version_id() < b.key.version_id();
}
bool SameEntry(const ScanItem& a, const ScanItem& b) {
  return a.key.object_key() == b.key.object_key() && a.key.version_id() == b.key.version_id();
}

}  // namespace

uint32_t FirstScanBatch(int max_keys) {
  return std::min<uint32_t>(kMaxScanBatch,
                            std::max<uint32_t>(16, static_cast<uint32_t>(max_keys) + 1));
}

absl::StatusOr<bool> EntryCursor::Next(ScanItem* out) {
  while (true) {
    if (!open_) {
      if (seg_ >= segments_.size()) return false;
      const Segment& seg = segments_[seg_];
      if (!end_.empty() && seg.start >= end_) return false;
      std::string start = std::max(seg.start, lower_);
      std::string end = seg.end;
      if (end.empty() || (!end_.empty() && end_ < end)) end = end_;
      streams_.clear();
      if (end.empty() || start < end) {
        streams_.push_back(MakeStream(seg.primary, start, end));
        if (!seg.secondary.empty()) streams_.push_back(MakeStream(seg.secondary, start, end));
      }
      open_ = true;
    }
    int best = -1;
    for (size_t i = 0; i < streams_.size(); ++i) {
      if (absl::Status s = Fill(streams_[i]); !s.ok()) return s;
      if (streams_[i].buf.empty()) continue;
      if (best < 0 || ItemLess(streams_[i].buf.front(), streams_[best].buf.front())) {
        best = static_cast<int>(i);
      }
    }
    if (best < 0) {
      open_ = false;
      ++seg_;
      continue;
    }
    *out = std::move(streams_[best].buf.front());
    streams_[best].buf.pop_front();
    for (size_t i = best + 1; i < streams_.size(); ++i) {  // the same entry in the source
      if (!streams_[i].buf.empty() && SameEntry(streams_[i].buf.front(), *out)) {
        // The destination's copy wins, except a head register the source committed to later.
        if (ReplacesHeld(out->key.version_id(), out->value, streams_[i].buf.front().value)) {
          *out = std::move(streams_[i].buf.front());
        }
        streams_[i].buf.pop_front();
      }
    }
    return true;
  }
}

void EntryCursor::Seek(const std::string& key) {
  if (key <= lower_) return;
  lower_ = key;
  for (Stream& s : streams_) {
    while (!s.buf.empty() && s.buf.front().key.object_key() < key) s.buf.pop_front();
    if (s.buf.empty() && !s.done && s.start < key) {
      s.start = key;  // jump instead of reading what lies between
      s.token.clear();
    }
    if (!s.end.empty() && s.start >= s.end) s.done = true;
  }
}

EntryCursor::Stream EntryCursor::MakeStream(const std::string& field, const std::string& start,
                                            const std::string& end) {
  Stream s;
  s.field = field;
  s.start = start;
  s.end = end;
  return s;
}

absl::Status EntryCursor::Fill(Stream& s) {
  while (s.buf.empty() && !s.done) {
    if (s.batch == 0) s.batch = batch_;
    auto page = meta_->Scan(s.field, s.start, s.end, s.batch, s.token);
    if (!page.ok()) return page.status();
    for (ScanItem& item : page->items) {
      if (item.key.object_key() >= lower_) s.buf.push_back(std::move(item));
    }
    s.token = page->next_page_token;
    s.done = s.token.empty();
    s.batch = NextBatch(s.batch);
  }
  return absl::OkStatus();
}

}  // namespace tessera::services
