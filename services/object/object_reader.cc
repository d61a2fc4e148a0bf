#include "services/object/object_reader.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/logging.h"
#include "services/object/manifest_store.h"

namespace tessera::services {
namespace {

// The slices of one stripe being fetched. Fetch tasks fill slot i and never touch others.
struct StripeFetch {
  const v1::StripeRecord* record = nullptr;
  std::vector<std::optional<std::string>> data;
  std::vector<absl::Status> errors;
  std::vector<bool> requested;
  TaskGroup group;
};

absl::StatusOr<std::unique_ptr<storage::StripeCodec>> CodecFor(const v1::CodingParams& coding) {
  if (coding.code_id() != kCodeIdRsCauchyIsal) {
    return absl::InvalidArgumentError(absl::StrCat("unknown erasure code id ", coding.code_id()));
  }
  if (coding.slice_hash_id() != static_cast<uint32_t>(storage::SliceHashId::kSha256)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown slice hash id ", coding.slice_hash_id()));
  }
  storage::StripeCodecOptions options;
  options.data_shards = static_cast<int>(coding.data_shards());
  options.parity_shards = static_cast<int>(coding.parity_shards());
  options.slice_alignment = coding.slice_alignment();
  return storage::StripeCodec::Create(options);
}

bool IsUnreachable(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) || absl::IsCancelled(s);
}

}  // namespace

ObjectReader::ObjectReader(const DataPathDeps& deps, const storage::StripeCodec* codec)
    : deps_(deps), codec_(codec) {}

absl::Status ObjectReader::Read(const v1::ObjectManifest& manifest, uint64_t offset,
                                uint64_t length, const ByteSink& sink, ReadStats* stats) const {
  ReadStats local_stats;
  if (stats == nullptr) stats = &local_stats;
  const std::string name = absl::StrCat(manifest.bucket(), "/", manifest.key());
  // Whatever store it came from: a newer schema may place or seal data differently.
  if (absl::Status s = CheckManifestFormat(manifest); !s.ok()) return s;
  if (manifest.delete_marker()) {
    return absl::InvalidArgumentError(absl::StrCat(name, " is a delete marker"));
  }
  if (offset > manifest.size() || length > manifest.size() - offset) {
    return absl::OutOfRangeError(absl::StrCat("range [", offset, ", +", length, ") is outside ",
                                              name, " (", manifest.size(), " bytes)"));
  }
  if (length == 0) return absl::OkStatus();
  if (manifest.parts_size() > 1) {
    // Multipart object (services/object/multipart.h): read each part the range touches as a
    // single-part view of the same version (one data key; the part number is in slice ids and
    // the AEAD context).
    uint64_t part_start = 0;
    for (const v1::PartRecord& part : manifest.parts()) {
      const uint64_t part_end = part_start + part.size();
      const uint64_t from = std::max(offset, part_start);
      const uint64_t to = std::min(offset + length, part_end);
      if (from < to) {
        v1::ObjectManifest view = manifest;
        view.clear_parts();
        *view.add_parts() = part;
        view.set_size(part.size());
        if (absl::Status s = Read(view, from - part_start, to - from, sink, stats); !s.ok()) {
          return s;
        }
      }
      part_start = part_end;
      if (part_start >= offset + length) break;
    }
    return absl::OkStatus();
  }

  // The data key.
  const v1::EncryptionParams& enc = manifest.encryption();
  if (enc.key_source() == v1::EncryptionParams::CLIENT_SEALED) {
    // Its plaintext never reached the cluster: never hand out the ciphertext as if it were data.
    return absl::FailedPreconditionError(
        absl::StrCat(name, " is sealed end to end by its client (client key id ", enc.key_id(),
                     "); read it with the SDK's sealing client (GetSealedObject) and that key"));
  }
  // End-to-end mode (docs/design/e2e_mode.md): a client-key object is never unwrapped with the
  // cluster master keyring, and a client key ring never opens master-key objects.
  const bool client_reader = deps_.key_source == v1::EncryptionParams::CLIENT_KEY;
  if (enc.key_source() == v1::EncryptionParams::CLIENT_KEY && !client_reader) {
    return absl::FailedPreconditionError(
        absl::StrCat(name, " is end-to-end encrypted with a client key (key id ", enc.key_id(),
                     ") by the former in-process SDK client; only a reader holding that key can "
                     "open it (docs/design/e2e_mode.md)"));
  }
  if (enc.key_source() == v1::EncryptionParams::CLUSTER_MASTER_KEY && client_reader) {
    return absl::FailedPreconditionError(
        absl::StrCat(name, " is encrypted with the cluster master key, not a client key; read it ",
                     "through a gateway"));
  }
  if (enc.key_source() != v1::EncryptionParams::CLUSTER_MASTER_KEY && !client_reader) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " has an unknown key source ", enc.key_source()));
  }
  absl::StatusOr<storage::WrappedKey> wrapped = storage::WrappedKey::Parse(enc.wrapped_data_key());
  if (!wrapped.ok()) return wrapped.status();
  absl::StatusOr<storage::SecretKey> key = deps_.keyring->Unwrap(*wrapped, DataVersionId(manifest));
  if (!key.ok() && client_reader &&
      (absl::IsNotFound(key.status()) || absl::IsDataLoss(key.status()))) {
    return absl::PermissionDeniedError(absl::StrCat(
        name, " is end-to-end encrypted with client key id ", enc.key_id(),
        absl::IsNotFound(key.status()) ? ", which this client's key ring does not hold"
                                       : ", and this client's key with that id does not open it "
                                         "(a different key, or a corrupt manifest)",
        "; read it with the key it was written with"));
  }
  if (!key.ok()) {
    return absl::Status(key.status().code(), absl::StrCat("cannot unwrap the data key of ", name,
                                                          ": ", key.status().message()));
  }
  absl::StatusOr<storage::StripeCipher> cipher = storage::StripeCipher::Create(
      static_cast<storage::AeadAlgorithm>(enc.aead_algorithm()), *std::move(key));
  if (!cipher.ok()) return cipher.status();

  if (manifest.parts_size() == 0 || manifest.parts(0).stripes_size() == 0) {
    // Inline object.
    storage::StripeContext context{DataVersionId(manifest), 0, 0};
    absl::StatusOr<std::string> plain = cipher->OpenToString(context, manifest.inline_sealed());
    if (!plain.ok()) {
      return absl::DataLossError(absl::StrCat("inline data of ", name,
                                              " fails authentication: ", plain.status().message()));
    }
    if (plain->size() != manifest.size()) {
      return absl::DataLossError(absl::StrCat("inline data of ", name, " has the wrong size"));
    }
    return sink(absl::string_view(*plain).substr(offset, length));
  }

  return ReadStripes(manifest, name, offset, length, &*cipher, &sink, nullptr, stats);
}

absl::Status ObjectReader::ReadSealed(const v1::ObjectManifest& manifest, uint64_t offset,
                                      uint64_t length, const SealedStripeSink& sink,
                                      ReadStats* stats) const {
  ReadStats local_stats;
  if (stats == nullptr) stats = &local_stats;
  const std::string name = absl::StrCat(manifest.bucket(), "/", manifest.key());
  if (manifest.delete_marker()) {
    return absl::InvalidArgumentError(absl::StrCat(name, " is a delete marker"));
  }
  if (manifest.encryption().key_source() != v1::EncryptionParams::CLIENT_SEALED) {
    return absl::FailedPreconditionError(
        absl::StrCat(name, " was not sealed by its client; read it with GetObject"));
  }
  if (manifest.parts_size() != 1 || manifest.parts(0).stripes_size() == 0) {
    return absl::DataLossError(absl::StrCat("manifest of ", name,
                                            " is inconsistent: a client-sealed object has one part "
                                            "of at least one stripe"));
  }
  if (offset > manifest.size() || length > manifest.size() - offset) {
    return absl::OutOfRangeError(absl::StrCat("range [", offset, ", +", length, ") is outside ",
                                              name, " (", manifest.size(), " bytes)"));
  }
  return ReadStripes(manifest, name, offset, length, nullptr, nullptr, &sink, stats);
}

absl::Status ObjectReader::ReadStripes(const v1::ObjectManifest& manifest, const std::string& name,
                                       uint64_t offset, uint64_t length,
                                       const storage::StripeCipher* cipher, const ByteSink* sink,
                                       const SealedStripeSink* sealed_sink,
                                       ReadStats* stats) const {
  const storage::StripeCodec* codec = codec_;
  std::unique_ptr<storage::StripeCodec> own_codec;
  const v1::CodingParams& coding = manifest.coding();
  if (codec == nullptr || codec->data_shards() != static_cast<int>(coding.data_shards()) ||
      codec->parity_shards() != static_cast<int>(coding.parity_shards()) ||
      coding.code_id() != kCodeIdRsCauchyIsal) {
    absl::StatusOr<std::unique_ptr<storage::StripeCodec>> made = CodecFor(coding);
    if (!made.ok()) return made.status();
    own_codec = *std::move(made);
    codec = own_codec.get();
  }
  const int k = codec->data_shards();
  const int n = codec->total_shards();
  const v1::PartRecord& part = manifest.parts(0);
  std::shared_ptr<const ClusterSnapshot> snapshot = deps_.cluster->Snapshot();

  // Plaintext start offset of each stripe.
  std::vector<uint64_t> starts;
  uint64_t pos = 0;
  for (const v1::StripeRecord& s : part.stripes()) {
    starts.push_back(pos);
    pos += s.plaintext_size();
  }
  if (pos != manifest.size()) {
    return absl::DataLossError(absl::StrCat("manifest of ", name, " is inconsistent: stripes hold ",
                                            pos, " bytes, size is ", manifest.size()));
  }
  const uint64_t end = offset + length;
  int first = 0;
  while (first + 1 < part.stripes_size() && starts[first + 1] <= offset) ++first;
  int last = first;
  while (last + 1 < part.stripes_size() && starts[last + 1] < end) ++last;

  auto request = [&](StripeFetch& fetch, int from, int to) {
    const v1::StripeRecord& record = *fetch.record;
    for (int i = from; i < to; ++i) {
      if (fetch.requested[i]) continue;
      fetch.requested[i] = true;
      const std::string& node_id =
          i < record.slices_size() ? record.slices(i).node_id() : std::string();
      if (node_id.empty()) {
        fetch.errors[i] = absl::NotFoundError("not stored (degraded stripe)");
        continue;
      }
      const StorageNode* node = snapshot->Find(node_id);
      if (node == nullptr) {
        fetch.errors[i] = absl::UnavailableError(absl::StrCat("node ", node_id, " is not known"));
        continue;
      }
      fetch.group.Add();
      deps_.pool->Submit(
          [this, &fetch, i, address = node->address,
           id = MakeSliceId(DataVersionId(manifest), part.number(), record.index(), i),
           expected = record.slice_size()] {
            absl::StatusOr<std::string> got = deps_.slices->Get(address, id);
            if (got.ok() && got->size() != expected) {
              got = absl::DataLossError(
                  absl::StrCat("slice has ", got->size(), " bytes, expected ", expected));
            }
            if (got.ok()) {
              fetch.data[i] = *std::move(got);
            } else {
              fetch.errors[i] = got.status();
            }
            fetch.group.Done();
          });
    }
  };
  auto start_fetch = [&](int stripe) {
    auto fetch = std::make_unique<StripeFetch>();
    fetch->record = &part.stripes(stripe);
    fetch->data.resize(n);
    fetch->errors.resize(n);
    fetch->requested.assign(n, false);
    // A degraded stripe with a missing data slice needs parity anyway: ask for it at once.
    int missing_data = 0;
    for (int i = 0; i < k && i < fetch->record->slices_size(); ++i) {
      if (fetch->record->slices(i).node_id().empty()) ++missing_data;
    }
    request(*fetch, 0, missing_data > 0 ? n : k);
    return fetch;
  };

  // Long reads (see the header): slices are fetched only before `safe_until`, the time until
  // which this version's slices are certain to be kept; past it the version is re-checked.
  Clock* clock = deps_.clock != nullptr ? deps_.clock : Clock::Real();
  const absl::Duration window = deps_.gc_grace / 2;
  absl::Time safe_until = manifest.superseded_unix_micros() != 0
                              ? absl::FromUnixMicros(manifest.superseded_unix_micros()) + window
                              : clock->Now() + window;
  auto still_kept = [&]() -> absl::Status {
    if (deps_.versions == nullptr) return absl::OkStatus();
    const absl::Time now = clock->Now();
    if (now < safe_until) return absl::OkStatus();
    absl::StatusOr<v1::ObjectManifest> current =
        deps_.versions->Get(manifest.bucket(), manifest.key(), manifest.version_id());
    if (current.ok()) {
      // Still the current version: nothing may collect it (whatever the grace, even zero).
      if (current->superseded_unix_micros() == 0) {
        safe_until = now + window;
        return absl::OkStatus();
      }
      safe_until = absl::FromUnixMicros(current->superseded_unix_micros()) + window;
      if (now < safe_until) return absl::OkStatus();
    } else if (!absl::IsNotFound(current.status())) {
      return absl::Status(current.status().code(),
                          absl::StrCat("cannot re-check that the data of ", name,
                                       " is still kept: ", current.status().message()));
    }
    TESSERA_LOG(WARNING, "read_outlived_version")
        .Field("bucket", manifest.bucket())
        .Field("superseded_micros", current.ok() ? current->superseded_unix_micros() : 0);
    return absl::UnavailableError(absl::StrCat(
        "cannot finish reading ", name, ": a newer version replaced it during this read, and ",
        "the read outlasted the ", absl::FormatDuration(window),
        " its data is guaranteed to be kept after that; retry to read the newest version"));
  };

  if (absl::Status kept = still_kept(); !kept.ok()) return kept;
  std::unique_ptr<StripeFetch> next = start_fetch(first);
  absl::Status result;
  for (int s = first; s <= last; ++s) {
    std::unique_ptr<StripeFetch> fetch = std::move(next);
    fetch->group.Wait();
    absl::Status kept;  // not OK: stripe s+1 must not be fetched; stop after delivering s
    if (s < last) {
      kept = still_kept();
      if (kept.ok()) next = start_fetch(s + 1);  // prefetch while this one decodes
    }
    const v1::StripeRecord& record = *fetch->record;
    if (record.slices_size() != n) {
      result = absl::DataLossError(absl::StrCat("manifest of ", name, ": stripe ", s, " lists ",
                                                record.slices_size(), " slices, expected ", n));
      break;
    }
    std::vector<storage::SliceHash> hashes(n);
    bool hashes_ok = true;
    for (int i = 0; i < n; ++i) {
      const std::string& h = record.slices(i).hash();
      if (h.size() != hashes[i].size()) {
        hashes_ok = false;
        break;
      }
      std::copy(h.begin(), h.end(), hashes[i].begin());
    }
    if (!hashes_ok) {
      result = absl::DataLossError(
          absl::StrCat("manifest of ", name, ": stripe ", s, " has a malformed slice hash"));
      break;
    }
    storage::StripeContext context{DataVersionId(manifest), part.number(), record.index()};
    absl::StatusOr<std::string> plain;
    storage::DecodeReport report;
    absl::Status replaced;  // not OK: parity was needed but may no longer be fetched
    for (int round = 0; round < 2; ++round) {
      std::vector<std::optional<absl::string_view>> views(n);
      int have = 0;
      for (int i = 0; i < n; ++i) {
        if (fetch->data[i].has_value()) {
          views[i] = absl::string_view(*fetch->data[i]);
          ++have;
        }
      }
      report = storage::DecodeReport();
      if (have >= k) {
        plain = cipher != nullptr
                    ? codec->Decode(*cipher, context, record.sealed_size(), views, hashes, &report)
                    : codec->DecodeSealed(record.sealed_size(), views, hashes, &report);
      } else {
        plain = absl::DataLossError("fewer than k slices fetched");
      }
      if (plain.ok() || round == 1) break;
      bool more = false;
      for (int i = 0; i < n; ++i) more = more || !fetch->requested[i];
      if (!more) break;
      if (absl::Status k = still_kept(); !k.ok()) {
        replaced = k;
        break;
      }
      request(*fetch, 0, n);
      fetch->group.Wait();
    }
    for (int i = 0; i < n; ++i) {
      if (fetch->data[i].has_value()) ++stats->slices_fetched;
      if (fetch->requested[i] && !fetch->errors[i].ok()) ++stats->slice_failures;
    }
    stats->corrupt_slices += static_cast<int>(report.corrupt.size());
    if (!replaced.ok()) {
      result = replaced;
      break;
    }
    if (!plain.ok()) {
      bool lost = false;
      std::vector<std::string> why;
      for (int i = 0; i < n; ++i) {
        if (!fetch->errors[i].ok()) {
          lost = lost || !IsUnreachable(fetch->errors[i]);
          why.push_back(absl::StrCat("slice ", i, ": ", fetch->errors[i].ToString()));
        }
      }
      for (int i : report.corrupt) {
        lost = true;
        why.push_back(absl::StrCat("slice ", i, ": hash mismatch"));
      }
      if (why.empty()) {
        lost = true;
        why.push_back(std::string(plain.status().message()));
      }
      const std::string message =
          absl::StrCat("cannot read ", name, ": stripe ", s, " has fewer than ", k,
                       " usable slices of ", n, " (", absl::StrJoin(why, "; "), ")");
      TESSERA_LOG(ERROR, "stripe_unreadable")
          .Field("bucket", manifest.bucket())
          .Field("stripe", s)
          .Field("lost", lost);
      result = lost ? absl::DataLossError(message) : absl::UnavailableError(message);
      break;
    }
    ++stats->stripes;
    if (report.reconstructed) ++stats->reconstructed_stripes;
    if (sealed_sink != nullptr) {
      // Client-sealed: the whole sealed stripe goes to the client, which opens it and cuts the
      // range (it checks the plaintext size and position itself: they are in its AAD).
      SealedStripeData out;
      out.index = record.index();
      out.plaintext_offset = starts[s];
      out.plaintext_size = record.plaintext_size();
      out.sealed = *std::move(plain);
      result = (*sealed_sink)(std::move(out));
      if (!result.ok()) break;
      continue;
    }
    if (plain->size() != record.plaintext_size()) {
      result = absl::DataLossError(absl::StrCat("stripe ", s, " of ", name, " has ", plain->size(),
                                                " bytes, manifest says ", record.plaintext_size()));
      break;
    }
    const uint64_t stripe_start = starts[s];
    const uint64_t from = std::max(offset, stripe_start) - stripe_start;
    const uint64_t to = std::min(end, stripe_start + plain->size()) - stripe_start;
    result = (*sink)(absl::string_view(*plain).substr(from, to - from));
    if (!result.ok()) break;
    if (!kept.ok()) {
      result = kept;
      break;
    }
  }
  if (next != nullptr) next->group.Wait();  // never leave tasks pointing at a dead fetch
  return result;
}

}  // namespace tessera::services
