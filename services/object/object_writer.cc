#include "services/object/object_writer.h"

#include <openssl/evp.h>

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/logging.h"
#include "base/status_reasons.h"
#include "p2p/placement/placement.h"

namespace tessera::services {

struct ObjectWriter::StripeJob {
  uint32_t index = 0;
  uint64_t plaintext_size = 0;
  storage::EncodedStripe encoded;
  // Guards nodes and errors: slice tasks re-place slices concurrently. The writer's thread
  // also locks it before the tasks start and after group.Wait() (uncontended), so the
  // thread-safety analysis checks every access.
  absl::Mutex mu;
  std::vector<std::string> nodes ABSL_GUARDED_BY(mu);   // node per slice; "" = not stored
  std::vector<std::string> errors ABSL_GUARDED_BY(mu);  // why slices failed, for the message
  std::vector<bool> skip;  // placed on a node known to be down: do not even try
  TaskGroup group;
};

absl::StatusOr<std::unique_ptr<ObjectWriter>> ObjectWriter::Create(
    const DataPathOptions& options, const DataPathDeps& deps, ManifestStore* store,
    const storage::StripeCodec* codec, v1::ObjectManifest base, std::string version_id) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  if (absl::Status s = deps.Validate(); !s.ok()) return s;
  if (store == nullptr || codec == nullptr) {
    return absl::InvalidArgumentError("ObjectWriter needs a store and a codec");
  }
  if (codec->data_shards() != options.data_shards ||
      codec->parity_shards() != options.parity_shards) {
    return absl::InvalidArgumentError("ObjectWriter: codec does not match the options");
  }
  if (version_id.size() != storage::StripeContext::kVersionIdSize) {
    return absl::InvalidArgumentError("ObjectWriter: version id must be 16 bytes");
  }
  storage::SecretKey data_key = storage::SecretKey::Generate();
  absl::StatusOr<storage::WrappedKey> wrapped = deps.keyring->Wrap(data_key, version_id);
  if (!wrapped.ok()) return wrapped.status();
  absl::StatusOr<storage::StripeCipher> cipher =
      storage::StripeCipher::Create(options.aead, std::move(data_key));
  if (!cipher.ok()) return cipher.status();
  return std::unique_ptr<ObjectWriter>(
      new ObjectWriter(options, deps, store, codec, std::move(base), std::move(version_id),
                       *std::move(cipher), wrapped->Serialize(), wrapped->key_id));
}

absl::StatusOr<std::unique_ptr<ObjectWriter>> ObjectWriter::CreatePart(
    const DataPathOptions& options, const DataPathDeps& deps, const storage::StripeCodec* codec,
    v1::ObjectManifest base, std::string version_id, uint32_t part_number,
    const v1::EncryptionParams& encryption) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  if (absl::Status s = deps.Validate(); !s.ok()) return s;
  if (codec == nullptr) return absl::InvalidArgumentError("ObjectWriter needs a codec");
  if (part_number < 1) return absl::InvalidArgumentError("part number must be positive");
  if (version_id.size() != storage::StripeContext::kVersionIdSize) {
    return absl::InvalidArgumentError("ObjectWriter: version id must be 16 bytes");
  }
  absl::StatusOr<storage::WrappedKey> wrapped =
      storage::WrappedKey::Parse(encryption.wrapped_data_key());
  if (!wrapped.ok()) return wrapped.status();
  absl::StatusOr<storage::SecretKey> key = deps.keyring->Unwrap(*wrapped, version_id);
  if (!key.ok()) return key.status();
  absl::StatusOr<storage::StripeCipher> cipher = storage::StripeCipher::Create(
      static_cast<storage::AeadAlgorithm>(encryption.aead_algorithm()), *std::move(key));
  if (!cipher.ok()) return cipher.status();
  DataPathOptions part_options = options;
  part_options.aead = static_cast<storage::AeadAlgorithm>(encryption.aead_algorithm());
  auto writer = std::unique_ptr<ObjectWriter>(new ObjectWriter(
      part_options, deps, /*store=*/nullptr, codec, std::move(base), std::move(version_id),
      *std::move(cipher), encryption.wrapped_data_key(), encryption.key_id()));
  writer->part_ = part_number;
  writer->part_mode_ = true;
  writer->spilled_ = true;
  return writer;
}

absl::StatusOr<std::unique_ptr<ObjectWriter>> ObjectWriter::CreateSealed(
    const DataPathOptions& options, const DataPathDeps& deps, ManifestStore* store,
    const storage::StripeCodec* codec, v1::ObjectManifest base, std::string version_id,
    const v1::EncryptionParams& client_sealing) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  if (absl::Status s = deps.Validate(); !s.ok()) return s;
  if (store == nullptr || codec == nullptr) {
    return absl::InvalidArgumentError("ObjectWriter needs a store and a codec");
  }
  if (codec->data_shards() != options.data_shards ||
      codec->parity_shards() != options.parity_shards) {
    return absl::InvalidArgumentError("ObjectWriter: codec does not match the options");
  }
  if (version_id.size() != storage::StripeContext::kVersionIdSize) {
    return absl::InvalidArgumentError("ObjectWriter: version id must be 16 bytes");
  }
  if (client_sealing.key_source() != v1::EncryptionParams::CLIENT_SEALED) {
    return absl::InvalidArgumentError("CreateSealed: key source must be CLIENT_SEALED");
  }
  auto writer = std::unique_ptr<ObjectWriter>(
      new ObjectWriter(options, deps, store, codec, std::move(base), std::move(version_id),
                       std::nullopt, client_sealing.wrapped_data_key(), client_sealing.key_id()));
  *writer->manifest_.mutable_encryption() = client_sealing;
  writer->sealed_mode_ = true;
  writer->spilled_ = true;  // never inline: the stripes are the client's, one per call
  return writer;
}

absl::StatusOr<v1::PartRecord> ObjectWriter::FinishPart() {
  if (!part_mode_) return absl::FailedPreconditionError("FinishPart needs a CreatePart writer");
  if (!status_.ok()) return status_;
  if (finished_) return absl::FailedPreconditionError("ObjectWriter: Finish called twice");
  if (!buffer_.empty()) {
    std::string stripe;
    stripe.swap(buffer_);
    if (absl::Status s = DispatchStripe(std::move(stripe)); !s.ok()) return s;
  }
  while (!in_flight_.empty()) {
    if (absl::Status s = CompleteOldest(); !s.ok()) return s;
  }
  v1::PartRecord part;
  part.set_number(part_);
  part.set_size(total_);
  for (v1::StripeRecord& record : done_) *part.add_stripes() = std::move(record);
  done_.clear();
  absl::StatusOr<std::string> md5 = PlaintextMd5();
  if (!md5.ok()) return md5.status();
  part.set_md5(*std::move(md5));
  finished_ = true;
  return part;
}

absl::StatusOr<std::string> ObjectWriter::PlaintextMd5() {
  if (caller_md5_) {
    if (caller_digest_.size() != 16) {
      return absl::FailedPreconditionError(
          "ObjectWriter: UseCallerMd5() needs SetPlaintextMd5() with a 16-byte digest");
    }
    return caller_digest_;
  }
  unsigned char md5[EVP_MAX_MD_SIZE];
  unsigned int md5_len = 0;
  EVP_DigestFinal_ex(md5_, md5, &md5_len);
  return std::string(reinterpret_cast<const char*>(md5), md5_len);
}

ObjectWriter::ObjectWriter(const DataPathOptions& options, const DataPathDeps& deps,
                           ManifestStore* store, const storage::StripeCodec* codec,
                           v1::ObjectManifest base, std::string version_id,
                           std::optional<storage::StripeCipher> cipher, std::string wrapped_key,
                           uint32_t key_id)
    : options_(options),
      deps_(deps),
      store_(store),
      codec_(codec),
      manifest_(std::move(base)),
      version_id_(std::move(version_id)),
      cipher_(std::move(cipher)),
      snapshot_(deps.cluster->Snapshot()),
      last_progress_((deps.clock != nullptr ? deps.clock : Clock::Real())->Now()) {
  manifest_.set_schema_version(kManifestSchemaVersion);
  manifest_.set_version_id(version_id_);
  manifest_.set_delete_marker(false);
  *manifest_.mutable_coding() = CodingParamsFor(options_);
  v1::EncryptionParams* enc = manifest_.mutable_encryption();
  enc->set_aead_algorithm(static_cast<uint32_t>(options_.aead));
  enc->set_key_source(deps_.key_source);
  enc->set_key_id(key_id);
  enc->set_wrapped_data_key(std::move(wrapped_key));
  md5_ = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md5_, EVP_md5(), nullptr);
}

ObjectWriter::~ObjectWriter() {
  if (!finished_) Abort();
  EVP_MD_CTX_free(md5_);
}

void ObjectWriter::UpdatePeak() {
  peak_buffered_ = std::max<uint64_t>(peak_buffered_, buffer_.size() + in_flight_bytes_);
}

std::vector<std::string> ObjectWriter::Suspects() {
  absl::MutexLock lock(&suspects_mu_);
  return suspects_;
}

absl::Status ObjectWriter::Write(absl::string_view data) {
  if (!status_.ok()) return status_;
  if (sealed_mode_) {
    return absl::FailedPreconditionError("a CreateSealed writer takes WriteSealedStripe only");
  }
  if (finished_) return absl::FailedPreconditionError("ObjectWriter: Write after Finish");
  if (!caller_md5_) EVP_DigestUpdate(md5_, data.data(), data.size());
  total_ += data.size();
  while (!data.empty()) {
    if (!spilled_ && buffer_.size() + data.size() <= options_.inline_threshold) {
      buffer_.append(data.data(), data.size());
      break;
    }
    spilled_ = true;
    // Only when the inline threshold exceeds the stripe size can the buffer hold more than one
    // stripe here.
    while (buffer_.size() >= options_.stripe_size) {
      std::string stripe = buffer_.substr(0, options_.stripe_size);
      buffer_.erase(0, options_.stripe_size);
      if (absl::Status s = DispatchStripe(std::move(stripe)); !s.ok()) return s;
    }
    const size_t n = std::min<size_t>(data.size(), options_.stripe_size - buffer_.size());
    buffer_.append(data.data(), n);
    data.remove_prefix(n);
    UpdatePeak();
    if (buffer_.size() == options_.stripe_size) {
      std::string stripe;
      stripe.swap(buffer_);
      if (absl::Status s = DispatchStripe(std::move(stripe)); !s.ok()) return s;
    }
  }
  UpdatePeak();
  return absl::OkStatus();
}

absl::Status ObjectWriter::CheckStall(const char* before) {
  if (part_mode_ || options_.max_write_stall == absl::ZeroDuration()) return absl::OkStatus();
  Clock* clock = deps_.clock != nullptr ? deps_.clock : Clock::Real();
  const absl::Time now = clock->Now();
  const absl::Duration idle = now - last_progress_;
  if (idle <= options_.max_write_stall) {
    last_progress_ = now;
    return absl::OkStatus();
  }
  // The orphan reclaimer may have judged this version abandoned and taken its slices: committing
  // now could publish a manifest that points at missing slices. Nothing is committed; the slices
  // left are deleted (those already reclaimed answer NOT_FOUND).
  TESSERA_LOG(WARNING, "put_stalled")
      .Field("bucket", manifest_.bucket())
      .Field("idle_s", absl::ToInt64Seconds(idle))
      .Field("before", before);
  Fail(absl::UnavailableError(
      absl::StrCat("upload of ", manifest_.bucket(), "/", manifest_.key(), " stalled for ",
                   absl::FormatDuration(idle), " before ", before, ", more than the ",
                   absl::FormatDuration(options_.max_write_stall),
                   " its stored data is guaranteed to be kept unreferenced; retry the upload")));
  return status_;
}

absl::Status ObjectWriter::WaitForRoom() {
  while (static_cast<int>(in_flight_.size()) >= options_.max_stripes_in_flight) {
    if (absl::Status s = CompleteOldest(); !s.ok()) return s;
  }
  return CheckStall("a stripe");
}

// Seal stage (plaintext writers): seal and code the stripe, then hand it to code-and-place's
// placement half.
absl::Status ObjectWriter::DispatchStripe(std::string plaintext) {
  if (absl::Status s = WaitForRoom(); !s.ok()) return s;
  storage::StripeContext context{version_id_, part_, next_stripe_};
  absl::StatusOr<storage::EncodedStripe> encoded = codec_->Encode(*cipher_, context, plaintext);
  if (!encoded.ok()) {
    Fail(encoded.status());
    return status_;
  }
  const uint64_t plaintext_size = plaintext.size();
  plaintext.clear();
  plaintext.shrink_to_fit();
  return PlaceEncoded(plaintext_size, *std::move(encoded));
}

absl::Status ObjectWriter::WriteSealedStripe(absl::string_view sealed, uint64_t plaintext_size) {
  if (!status_.ok()) return status_;
  if (finished_) return absl::FailedPreconditionError("ObjectWriter: Write after Finish");
  if (!sealed_mode_) {
    return absl::FailedPreconditionError("WriteSealedStripe needs a CreateSealed writer");
  }
  if (sealed.empty() || sealed.size() > kMaxSealedStripeBytes || plaintext_size >= sealed.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sealed stripe ", next_stripe_, " of ", manifest_.bucket(), "/", manifest_.key(), " has ",
        sealed.size(), " bytes for ", plaintext_size, " plaintext bytes; a sealed stripe is 1..",
        kMaxSealedStripeBytes, " bytes and longer than its plaintext"));
  }
  if (absl::Status s = WaitForRoom(); !s.ok()) return s;
  // ETag material: what the gateway saw (the ciphertext), never the plaintext.
  EVP_DigestUpdate(md5_, sealed.data(), sealed.size());
  total_ += plaintext_size;
  absl::StatusOr<storage::EncodedStripe> encoded = codec_->EncodeSealed(sealed);
  if (!encoded.ok()) {
    Fail(encoded.status());
    return status_;
  }
  return PlaceEncoded(plaintext_size, *std::move(encoded));
}

// Code-and-place stage, shared by plaintext and client-sealed writers: place the k+m slices of
// one coded stripe and start storing them.
absl::Status ObjectWriter::PlaceEncoded(uint64_t plaintext_size, storage::EncodedStripe encoded) {
  auto job = std::make_unique<StripeJob>();
  job->index = next_stripe_++;
  job->plaintext_size = plaintext_size;
  job->encoded = std::move(encoded);
  const int n = codec_->total_shards();
  p2p::PlacementRequest request;
  request.k = options_.data_shards;
  request.m = options_.parity_shards;
  request.slice_bytes = job->encoded.slice_size;
  request.seed = PlacementSeed(version_id_, part_, job->index);
  const std::vector<p2p::PlacementCandidate> candidates = snapshot_->Candidates(Suspects());
  absl::StatusOr<std::vector<std::string>> placed = p2p::PlaceStripe(candidates, request);
  job->skip.assign(n, false);
  if (!placed.ok()) {
    // Too few healthy nodes for k+m: place over the down ones too and give their slices up at
    // once (re-placed if possible, else the stripe is degraded; never below k+1).
    std::vector<p2p::PlacementCandidate> loose = candidates;
    for (p2p::PlacementCandidate& c : loose) c.alive = true;
    placed = p2p::PlaceStripe(loose, request);
    if (placed.ok()) {
      for (int i = 0; i < n; ++i) {
        for (const p2p::PlacementCandidate& c : candidates) {
          if (c.node_id == (*placed)[i] && !c.alive) job->skip[i] = true;
        }
      }
    }
  }
  if (!placed.ok()) {
    Fail(absl::UnavailableError(absl::StrCat("cannot place stripe ", job->index, " of ",
                                             manifest_.bucket(), "/", manifest_.key(), ": ",
                                             placed.status().message())));
    return status_;
  }
  {
    absl::MutexLock lock(&job->mu);
    job->nodes = *std::move(placed);
    job->errors.resize(n);
  }
  in_flight_bytes_ += job->encoded.buffer.size();
  StripeJob* raw = job.get();
  in_flight_.push_back(std::move(job));
  raw->group.Add(n);
  for (int i = 0; i < n; ++i) {
    deps_.pool->Submit([this, raw, i] {
      PutSlice(raw, i);
      raw->group.Done();
    });
  }
  UpdatePeak();
  return absl::OkStatus();
}

void ObjectWriter::PutSlice(StripeJob* job, int index) {
  const v1::SliceId id = MakeSliceId(version_id_, part_, job->index, index);
  const absl::string_view data = job->encoded.slice(index);
  std::vector<std::string> failed;
  for (int attempt = 0;; ++attempt) {
    std::string node;
    {
      absl::MutexLock lock(&job->mu);
      node = job->nodes[index];
    }
    const StorageNode* info = snapshot_->Find(node);
    absl::Status s;
    if (attempt == 0 && job->skip[index]) {
      s = absl::UnavailableError(absl::StrCat("node ", node, " is down"));
    } else if (info == nullptr) {
      s = absl::UnavailableError(absl::StrCat("node ", node, " is not known"));
    } else {
      s = deps_.slices->Put(info->address, id, data);
    }
    if (s.ok()) return;
    TESSERA_LOG(WARNING, "slice_put_failed")
        .Field("bucket", manifest_.bucket())
        .Field("stripe", job->index)
        .Field("slice", index)
        .Field("node", node)
        .Field("status", s);
    failed.push_back(node);
    {
      absl::MutexLock lock(&suspects_mu_);
      if (std::find(suspects_.begin(), suspects_.end(), node) == suspects_.end()) {
        suspects_.push_back(node);
      }
    }
    absl::MutexLock lock(&job->mu);
    job->errors[index] = absl::StrCat("slice ", index, " on ", node, ": ", s.ToString());
    if (attempt >= options_.max_replacements_per_slice) {
      job->nodes[index].clear();
      return;
    }
    p2p::PlacementRequest request;
    request.k = options_.data_shards;
    request.m = options_.parity_shards;
    request.slice_bytes = job->encoded.slice_size;
    request.seed = PlacementSeed(version_id_, part_, job->index) + attempt + 1;
    std::vector<std::string> excluded = Suspects();
    excluded.insert(excluded.end(), failed.begin(), failed.end());
    absl::StatusOr<std::string> replacement = p2p::PlaceReplacement(
        snapshot_->Candidates(excluded), request, job->nodes, index, excluded);
    if (!replacement.ok()) {
      job->nodes[index].clear();
      return;
    }
    job->nodes[index] = *replacement;
    ++replaced_;
  }
}

absl::Status ObjectWriter::CompleteOldest() {
  std::unique_ptr<StripeJob> job = std::move(in_flight_.front());
  in_flight_.pop_front();
  job->group.Wait();
  in_flight_bytes_ -= job->encoded.buffer.size();
  const int n = codec_->total_shards();
  const int k = options_.data_shards;
  const int min_durable = std::min(k + 1, n);
  v1::StripeRecord record;
  record.set_index(job->index);
  record.set_plaintext_size(job->plaintext_size);
  record.set_sealed_size(job->encoded.sealed_size);
  record.set_slice_size(job->encoded.slice_size);
  int durable = 0;
  std::vector<std::string> errors;
  {
    absl::MutexLock lock(&job->mu);  // the slice tasks are done (group.Wait above)
    for (int i = 0; i < n; ++i) {
      v1::SliceRef* ref = record.add_slices();
      ref->set_hash(job->encoded.hashes[i].data(), job->encoded.hashes[i].size());
      ref->set_node_id(job->nodes[i]);
      if (!job->nodes[i].empty()) {
        ++durable;
      } else {
        errors.push_back(job->errors[i]);
      }
    }
  }
  record.set_degraded(durable < n);
  done_.push_back(std::move(record));  // recorded even when failing, so its slices get deleted
  if (durable < min_durable) {
    Fail(absl::UnavailableError(absl::StrCat(
        "cannot store ", manifest_.bucket(), "/", manifest_.key(), ": stripe ", job->index,
        " has only ", durable, " of ", n, " slices durable, at least ", min_durable,
        " are required (too many storage nodes down or full): ", absl::StrJoin(errors, "; "))));
    return status_;
  }
  if (durable < n) {
    TESSERA_LOG(WARNING, "stripe_degraded")
        .Field("bucket", manifest_.bucket())
        .Field("stripe", job->index)
        .Field("durable", durable)
        .Field("total", n);
  }
  return absl::OkStatus();
}

void ObjectWriter::Fail(absl::Status status) {
  if (status_.ok()) status_ = std::move(status);
  DeleteStoredSlices();
}

void ObjectWriter::DeleteStoredSlices() {
  // Wait for what is in flight so every stored slice is known, then delete them all.
  while (!in_flight_.empty()) {
    StripeJob* job = in_flight_.front().get();
    job->group.Wait();
    v1::StripeRecord record;
    record.set_index(job->index);
    {
      absl::MutexLock lock(&job->mu);  // the slice tasks are done (group.Wait above)
      for (const std::string& node : job->nodes) record.add_slices()->set_node_id(node);
    }
    done_.push_back(std::move(record));
    in_flight_bytes_ -= job->encoded.buffer.size();
    in_flight_.pop_front();
  }
  TaskGroup group;
  for (const v1::StripeRecord& record : done_) {
    for (int i = 0; i < record.slices_size(); ++i) {
      const StorageNode* node = snapshot_->Find(record.slices(i).node_id());
      if (node == nullptr) continue;
      group.Add();
      deps_.pool->Submit([this, &group, address = node->address,
                          id = MakeSliceId(version_id_, part_, record.index(), i)] {
        absl::Status s = deps_.slices->Delete(address, id);
        if (!s.ok() && !absl::IsNotFound(s)) {
          TESSERA_LOG(WARNING, "slice_cleanup_failed").Field("status", s);
        }
        group.Done();
      });
    }
  }
  group.Wait();
  done_.clear();
}

void ObjectWriter::Abort() {
  if (finished_) return;
  finished_ = true;
  if (status_.ok()) status_ = absl::AbortedError("upload aborted");
  DeleteStoredSlices();
}

absl::StatusOr<v1::ObjectManifest> ObjectWriter::Finish() {
  if (part_mode_) return absl::FailedPreconditionError("part writers end with FinishPart");
  if (!status_.ok()) return status_;
  if (finished_) return absl::FailedPreconditionError("ObjectWriter: Finish called twice");
  v1::PartRecord part;
  part.set_number(0);
  part.set_size(total_);
  if (!spilled_) {
    storage::StripeContext context{version_id_, 0, 0};
    absl::StatusOr<std::string> sealed = cipher_->SealToString(context, buffer_);
    if (!sealed.ok()) {
      Fail(sealed.status());
      return status_;
    }
    manifest_.set_inline_sealed(*std::move(sealed));
  } else {
    if (!buffer_.empty()) {
      std::string stripe;
      stripe.swap(buffer_);
      if (absl::Status s = DispatchStripe(std::move(stripe)); !s.ok()) return s;
    }
    while (!in_flight_.empty()) {
      if (absl::Status s = CompleteOldest(); !s.ok()) return s;
    }
    if (absl::Status s = CheckStall("the commit"); !s.ok()) return s;
    for (v1::StripeRecord& record : done_) *part.add_stripes() = std::move(record);
    done_.clear();
  }
  buffer_.clear();
  absl::StatusOr<std::string> md5 = PlaintextMd5();
  if (!md5.ok()) {
    Fail(md5.status());
    return status_;
  }
  const std::string digest = *std::move(md5);
  part.set_md5(digest);
  manifest_.set_size(total_);
  manifest_.set_etag(absl::StrCat("\"", absl::BytesToHexString(digest), "\""));
  Clock* clock = deps_.clock != nullptr ? deps_.clock : Clock::Real();
  manifest_.set_created_unix_micros(absl::ToUnixMicros(clock->Now()));
  *manifest_.add_parts() = part;
  absl::StatusOr<v1::ObjectManifest> committed = store_->Commit(manifest_, condition_);
  const absl::Status put = committed.status();
  if (!put.ok()) {
    if (IsOutcomeUnknown(put)) {
      // The manifest may be visible (now or once a reader finishes the commit): its slices must
      // stay. If it was not stored they are orphans, and the orphan reclaimer, which looks for a
      // referencing manifest before it deletes anything, takes them after its grace period.
      TESSERA_LOG(WARNING, "put_outcome_unknown")
          .Field("bucket", manifest_.bucket())
          .Field("status", put);
      status_ = put;
      finished_ = true;
      return status_;
    }
    // Known not stored: give the stripes back to done_ so their slices are deleted.
    for (const v1::StripeRecord& record : manifest_.parts(0).stripes()) done_.push_back(record);
    Fail(put);
    return status_;
  }
  finished_ = true;
  manifest_ = *std::move(committed);
  return manifest_;
}

}  // namespace tessera::services
