#include "base/fault_injection_env.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace tessera {
namespace {

// Collapses repeated slashes and strips trailing ones ("/a//b/" -> "/a/b").
std::string Normalize(const std::string& path) {
  std::string out;
  out.reserve(path.size());
  for (char c : path) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out.push_back(c);
  }
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

// Parent directory of a normalised path ("." when it has none).
std::string Parent(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

const char* OpKindName(OpKind kind) {
  switch (kind) {
    case OpKind::kNewWritableFile:
      return "NewWritableFile";
    case OpKind::kNewAppendableFile:
      return "NewAppendableFile";
    case OpKind::kAppend:
      return "Append";
    case OpKind::kSync:
      return "Sync";
    case OpKind::kRenameFile:
      return "RenameFile";
    case OpKind::kDeleteFile:
      return "DeleteFile";
    case OpKind::kCreateDirs:
      return "CreateDirs";
    case OpKind::kDeleteDir:
      return "DeleteDir";
    case OpKind::kSyncDir:
      return "SyncDir";
    case OpKind::kNewRandomAccessFile:
      return "NewRandomAccessFile";
    case OpKind::kRead:
      return "Read";
    case OpKind::kListDir:
      return "ListDir";
    case OpKind::kFileSize:
      return "FileSize";
    case OpKind::kGetDiskSpace:
      return "GetDiskSpace";
  }
  return "Unknown";
}

// ---------------------------------------------------------------------------------------------
// File handles

class FaultInjectionEnv::File final : public WritableFile {
 public:
  File(FaultInjectionEnv* env, std::string path, std::unique_ptr<WritableFile> base,
       std::shared_ptr<FileState> state, uint64_t generation)
      : env_(env),
        path_(std::move(path)),
        base_(std::move(base)),
        state_(std::move(state)),
        generation_(generation) {}
  ~File() override { (void)base_->Close(); }

  absl::Status Append(absl::string_view data) override {
    TESSERA_RETURN_IF_ERROR(env_->RunHook(OpKind::kAppend, path_));
    absl::MutexLock lock(&env_->mu_);
    TESSERA_RETURN_IF_ERROR(CheckGenerationLocked());
    TESSERA_RETURN_IF_ERROR(env_->ActiveAndRulesLocked(OpKind::kAppend, path_));
    if (env_->disk_full_) {
      ++env_->counters_.injected_failures;
      return absl::ResourceExhaustedError(absl::StrCat("disk full (injected): append ", path_));
    }
    size_t n = data.size();
    bool over_budget = false;
    if (env_->write_budget_.has_value() && *env_->write_budget_ < n) {
      n = static_cast<size_t>(*env_->write_budget_);
      over_budget = true;
    }
    const uint64_t before = base_->Size();
    absl::Status s = n > 0 ? base_->Append(data.substr(0, n)) : absl::OkStatus();
    // The base may have written a prefix even on failure: account for what is really there.
    const uint64_t written = base_->Size() - before;
    state_->size += written;
    env_->counters_.bytes_appended += written;
    if (env_->write_budget_.has_value()) {
      *env_->write_budget_ -= std::min<uint64_t>(*env_->write_budget_, written);
    }
    TESSERA_RETURN_IF_ERROR(s);
    if (over_budget) {
      ++env_->counters_.injected_failures;
      return absl::ResourceExhaustedError(
          absl::StrCat("disk full (write budget exhausted, injected): append ", path_, " wrote ",
                       written, " of ", data.size(), " bytes"));
    }
    return absl::OkStatus();
  }

  absl::Status Sync() override {
    TESSERA_RETURN_IF_ERROR(env_->RunHook(OpKind::kSync, path_));
    absl::MutexLock lock(&env_->mu_);
    TESSERA_RETURN_IF_ERROR(CheckGenerationLocked());
    TESSERA_RETURN_IF_ERROR(env_->ActiveAndRulesLocked(OpKind::kSync, path_));
    TESSERA_RETURN_IF_ERROR(base_->Sync());
    state_->synced_size = state_->size;
    return absl::OkStatus();
  }

  absl::Status Close() override { return base_->Close(); }

  uint64_t Size() const override { return base_->Size(); }

 private:
  absl::Status CheckGenerationLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(env_->mu_) {
    if (generation_ != env_->generation_) {
      return absl::FailedPreconditionError(
          absl::StrCat("file handle opened before a simulated crash: ", path_));
    }
    return absl::OkStatus();
  }

  FaultInjectionEnv* const env_;
  const std::string path_;  // name at open time (for messages and hooks)
  std::unique_ptr<WritableFile> base_;
  const std::shared_ptr<FileState> state_;
  const uint64_t generation_;
};

class FaultInjectionEnv::RandomFile final : public RandomAccessFile {
 public:
  RandomFile(FaultInjectionEnv* env, std::string path, std::unique_ptr<RandomAccessFile> base)
      : env_(env), path_(std::move(path)), base_(std::move(base)) {}

  absl::StatusOr<size_t> Read(uint64_t offset, size_t n, char* scratch) const override {
    TESSERA_RETURN_IF_ERROR(env_->Check(OpKind::kRead, path_));
    return base_->Read(offset, n, scratch);
  }
  absl::StatusOr<uint64_t> Size() const override { return base_->Size(); }

 private:
  FaultInjectionEnv* const env_;
  const std::string path_;
  const std::unique_ptr<RandomAccessFile> base_;
};

// ---------------------------------------------------------------------------------------------
// Fault machinery

FaultInjectionEnv::FaultInjectionEnv(Env* base) : base_(base) {}
FaultInjectionEnv::~FaultInjectionEnv() = default;

void FaultInjectionEnv::CountLocked(OpKind op) {
  switch (op) {
    case OpKind::kNewWritableFile:
    case OpKind::kNewAppendableFile:
      ++counters_.new_writable_files;
      break;
    case OpKind::kAppend:
      ++counters_.appends;
      break;
    case OpKind::kSync:
      ++counters_.syncs;
      break;
    case OpKind::kSyncDir:
      ++counters_.sync_dirs;
      break;
    case OpKind::kRenameFile:
      ++counters_.renames;
      break;
    case OpKind::kDeleteFile:
    case OpKind::kDeleteDir:
      ++counters_.deletes;
      break;
    case OpKind::kRead:
      ++counters_.reads;
      break;
    default:
      break;
  }
}

absl::Status FaultInjectionEnv::RunHook(OpKind op, const std::string& path) {
  Hook hook;
  {
    absl::MutexLock lock(&mu_);
    CountLocked(op);
    hook = hook_;
  }
  if (!hook) return absl::OkStatus();
  absl::Status s = hook(op, path);
  if (!s.ok()) {
    absl::MutexLock lock(&mu_);
    ++counters_.injected_failures;
  }
  return s;
}

absl::Status FaultInjectionEnv::ActiveAndRulesLocked(OpKind op, const std::string& path) {
  const OpMask bit = Mask(op);
  if ((bit & kMutatingOps) != 0 && !active_) {
    ++counters_.injected_failures;
    return absl::UnavailableError(
        absl::StrCat("filesystem inactive (simulated crash): ", OpKindName(op), " ", path));
  }
  if (nth_left_ > 0 && (bit & nth_ops_) != 0 && --nth_left_ == 0) {
    ++counters_.injected_failures;
    return nth_status_;
  }
  if (after_on_ && (bit & after_ops_) != 0) {
    if (after_left_ > 0) {
      --after_left_;
    } else {
      ++counters_.injected_failures;
      return after_status_;
    }
  }
  return absl::OkStatus();
}

absl::Status FaultInjectionEnv::Check(OpKind op, const std::string& path) {
  TESSERA_RETURN_IF_ERROR(RunHook(op, path));
  absl::MutexLock lock(&mu_);
  return ActiveAndRulesLocked(op, path);
}

void FaultInjectionEnv::SetFilesystemActive(bool active) {
  absl::MutexLock lock(&mu_);
  active_ = active;
}

bool FaultInjectionEnv::IsFilesystemActive() const {
  absl::MutexLock lock(&mu_);
  return active_;
}

void FaultInjectionEnv::FailNthCall(int n, absl::Status status, OpMask ops) {
  absl::MutexLock lock(&mu_);
  if (status.ok()) status = absl::InternalError("FailNthCall given an OK status");
  nth_left_ = std::max(n, 0);
  nth_status_ = std::move(status);
  nth_ops_ = ops;
}

void FaultInjectionEnv::FailAfterCalls(int n, absl::Status status, OpMask ops) {
  absl::MutexLock lock(&mu_);
  if (status.ok()) status = absl::InternalError("FailAfterCalls given an OK status");
  after_on_ = true;
  after_left_ = std::max(n, 0);
  after_status_ = std::move(status);
  after_ops_ = ops;
}

void FaultInjectionEnv::SetDiskFull(bool full) {
  absl::MutexLock lock(&mu_);
  disk_full_ = full;
}

void FaultInjectionEnv::SetWriteBudget(std::optional<uint64_t> bytes) {
  absl::MutexLock lock(&mu_);
  write_budget_ = bytes;
}

void FaultInjectionEnv::SetHook(Hook hook) {
  absl::MutexLock lock(&mu_);
  hook_ = std::move(hook);
}

void FaultInjectionEnv::ClearFaults() {
  absl::MutexLock lock(&mu_);
  active_ = true;
  disk_full_ = false;
  write_budget_.reset();
  nth_left_ = 0;
  after_on_ = false;
  hook_ = nullptr;
}

FaultInjectionCounters FaultInjectionEnv::counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}

void FaultInjectionEnv::ResetCounters() {
  absl::MutexLock lock(&mu_);
  counters_ = FaultInjectionCounters();
}

// ---------------------------------------------------------------------------------------------
// Crash simulation

absl::StatusOr<std::string> FaultInjectionEnv::ReadPrefix(const std::string& path,
                                                          std::optional<uint64_t> n) {
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> file,
                           base_->NewRandomAccessFile(path));
  uint64_t want = 0;
  if (n.has_value()) {
    want = *n;
  } else {
    TESSERA_ASSIGN_OR_RETURN(want, file->Size());
  }
  std::string out(static_cast<size_t>(want), '\0');
  TESSERA_ASSIGN_OR_RETURN(size_t got, file->Read(0, out.size(), out.data()));
  out.resize(got);
  return out;
}

absl::Status FaultInjectionEnv::Rewrite(const std::string& path, absl::string_view data) {
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, base_->NewWritableFile(path));
  absl::Status s = file->Append(data);
  if (s.ok()) s = file->Sync();
  absl::Status c = file->Close();
  return s.ok() ? c : s;
}

absl::StatusOr<std::string> FaultInjectionEnv::DurableContentsLocked(const std::string& path) {
  auto it = files_.find(path);
  if (it == files_.end()) return ReadPrefix(path, std::nullopt);
  return ReadPrefix(path, it->second->synced_size);
}

absl::Status FaultInjectionEnv::UndoLocked(const DirOp& op) {
  switch (op.kind) {
    case DirOp::kCreate:
      files_.erase(op.path);
      if (base_->FileExists(op.path)) return base_->DeleteFile(op.path);
      return absl::OkStatus();
    case DirOp::kRename: {
      if (base_->FileExists(op.to)) {
        TESSERA_RETURN_IF_ERROR(base_->RenameFile(op.to, op.path));
        auto it = files_.find(op.to);
        if (it != files_.end()) {
          files_[op.path] = it->second;
          files_.erase(op.to);
        } else {
          files_.erase(op.path);
        }
      }
      if (op.saved.has_value()) {
        TESSERA_RETURN_IF_ERROR(Rewrite(op.to, *op.saved));
        auto state = op.saved_state ? op.saved_state : std::make_shared<FileState>();
        state->size = state->synced_size = op.saved->size();
        files_[op.to] = std::move(state);
      }
      return absl::OkStatus();
    }
    case DirOp::kDelete: {
      if (!op.saved.has_value()) return absl::OkStatus();
      TESSERA_RETURN_IF_ERROR(Rewrite(op.path, *op.saved));
      auto state = op.saved_state ? op.saved_state : std::make_shared<FileState>();
      state->size = state->synced_size = op.saved->size();
      files_[op.path] = std::move(state);
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

absl::Status FaultInjectionEnv::DropUnsyncedData() {
  absl::MutexLock lock(&mu_);
  absl::Status first_error;
  auto note = [&first_error](absl::Status s) {
    if (first_error.ok() && !s.ok()) first_error = std::move(s);
  };
  // 1. File data: cut every tracked file back to its synced size.
  for (auto& [path, state] : files_) {
    if (state->size <= state->synced_size) continue;
    absl::StatusOr<std::string> prefix = ReadPrefix(path, state->synced_size);
    if (!prefix.ok()) {
      note(Annotate(prefix.status(), absl::StrCat("DropUnsyncedData: read ", path)));
      continue;
    }
    note(Annotate(Rewrite(path, *prefix), absl::StrCat("DropUnsyncedData: truncate ", path)));
    state->size = state->synced_size;
  }
  // 2. Directory entries: undo the pending changes, newest first.
  for (auto it = dir_ops_.rbegin(); it != dir_ops_.rend(); ++it) {
    note(Annotate(UndoLocked(*it), absl::StrCat("DropUnsyncedData: undo change to ", it->path)));
  }
  dir_ops_.clear();
  ++generation_;
  ++counters_.crashes;
  return first_error;
}

void FaultInjectionEnv::MarkAllDurable() {
  absl::MutexLock lock(&mu_);
  for (auto& [path, state] : files_) state->synced_size = state->size;
  dir_ops_.clear();
}

std::vector<std::string> FaultInjectionEnv::UnsyncedFiles() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [path, state] : files_) {
    if (state->size > state->synced_size) out.push_back(path);
  }
  return out;
}

std::optional<uint64_t> FaultInjectionEnv::SyncedSize(const std::string& path) const {
  absl::MutexLock lock(&mu_);
  auto it = files_.find(Normalize(path));
  if (it == files_.end()) return std::nullopt;
  return it->second->synced_size;
}

size_t FaultInjectionEnv::PendingDirOps() const {
  absl::MutexLock lock(&mu_);
  return dir_ops_.size();
}

// ---------------------------------------------------------------------------------------------
// Corruption

absl::Status FaultInjectionEnv::WriteAt(const std::string& path, uint64_t offset,
                                        absl::string_view data) {
  const std::string p = Normalize(path);
  absl::MutexLock lock(&mu_);
  TESSERA_ASSIGN_OR_RETURN(std::string contents, ReadPrefix(p, std::nullopt));
  if (offset > contents.size() || data.size() > contents.size() - offset) {
    return absl::OutOfRangeError(absl::StrCat("WriteAt ", p, ": [", offset, ", ",
                                              offset + data.size(), ") beyond file size ",
                                              contents.size()));
  }
  contents.replace(static_cast<size_t>(offset), data.size(), data.data(), data.size());
  return Rewrite(p, contents);
}

absl::Status FaultInjectionEnv::FlipBit(const std::string& path, uint64_t byte_offset, int bit) {
  if (bit < 0 || bit > 7) return absl::InvalidArgumentError(absl::StrCat("FlipBit: bit ", bit));
  const std::string p = Normalize(path);
  absl::MutexLock lock(&mu_);
  TESSERA_ASSIGN_OR_RETURN(std::string contents, ReadPrefix(p, std::nullopt));
  if (byte_offset >= contents.size()) {
    return absl::OutOfRangeError(absl::StrCat("FlipBit ", p, ": offset ", byte_offset,
                                              " beyond file size ", contents.size()));
  }
  contents[static_cast<size_t>(byte_offset)] ^= static_cast<char>(1 << bit);
  return Rewrite(p, contents);
}

// ---------------------------------------------------------------------------------------------
// Env

absl::StatusOr<std::unique_ptr<WritableFile>> FaultInjectionEnv::OpenWritable(
    const std::string& path, bool append, OpKind op) {
  const std::string p = Normalize(path);
  TESSERA_RETURN_IF_ERROR(RunHook(op, p));
  absl::MutexLock lock(&mu_);
  TESSERA_RETURN_IF_ERROR(ActiveAndRulesLocked(op, p));
  if (disk_full_) {
    ++counters_.injected_failures;
    return absl::ResourceExhaustedError(
        absl::StrCat("disk full (injected): ", OpKindName(op), " ", p));
  }
  const bool existed = base_->FileExists(p);
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file,
                           append ? base_->NewAppendableFile(p) : base_->NewWritableFile(p));
  std::shared_ptr<FileState>& state = files_[p];
  if (!existed) {
    state = std::make_shared<FileState>();
    DirOp create;
    create.kind = DirOp::kCreate;
    create.path = p;
    create.dir = Parent(p);
    dir_ops_.push_back(std::move(create));
  } else if (!append) {
    // Truncation of an existing file: modelled as durable at once (see header).
    if (!state) state = std::make_shared<FileState>();
    state->size = state->synced_size = 0;
  } else if (!state) {
    // An existing file this Env never wrote: all of it counts as durable.
    state = std::make_shared<FileState>();
    state->size = state->synced_size = file->Size();
  } else {
    state->size = file->Size();
    state->synced_size = std::min(state->synced_size, state->size);
  }
  return std::unique_ptr<WritableFile>(new File(this, p, std::move(file), state, generation_));
}

absl::StatusOr<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewWritableFile(
    const std::string& path) {
  return OpenWritable(path, /*append=*/false, OpKind::kNewWritableFile);
}

absl::StatusOr<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewAppendableFile(
    const std::string& path) {
  return OpenWritable(path, /*append=*/true, OpKind::kNewAppendableFile);
}

absl::StatusOr<std::unique_ptr<RandomAccessFile>> FaultInjectionEnv::NewRandomAccessFile(
    const std::string& path) {
  const std::string p = Normalize(path);
  TESSERA_RETURN_IF_ERROR(Check(OpKind::kNewRandomAccessFile, p));
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> file, base_->NewRandomAccessFile(p));
  return std::unique_ptr<RandomAccessFile>(new RandomFile(this, p, std::move(file)));
}

absl::Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  const std::string f = Normalize(from);
  const std::string t = Normalize(to);
  TESSERA_RETURN_IF_ERROR(RunHook(OpKind::kRenameFile, f));
  absl::MutexLock lock(&mu_);
  TESSERA_RETURN_IF_ERROR(ActiveAndRulesLocked(OpKind::kRenameFile, f));
  if (f == t || !base_->FileExists(f)) return base_->RenameFile(f, t);
  DirOp rename;
  rename.kind = DirOp::kRename;
  rename.path = f;
  rename.to = t;
  rename.dir = Parent(f);
  rename.to_dir = Parent(t);
  if (base_->FileExists(t)) {
    TESSERA_ASSIGN_OR_RETURN(std::string saved, DurableContentsLocked(t));
    rename.saved = std::move(saved);
    auto it = files_.find(t);
    if (it != files_.end()) rename.saved_state = it->second;
  }
  TESSERA_RETURN_IF_ERROR(base_->RenameFile(f, t));
  auto it = files_.find(f);
  if (it != files_.end()) {
    files_[t] = it->second;
    files_.erase(f);
  } else {
    files_.erase(t);
  }
  dir_ops_.push_back(std::move(rename));
  return absl::OkStatus();
}

absl::Status FaultInjectionEnv::DeleteFile(const std::string& path) {
  const std::string p = Normalize(path);
  TESSERA_RETURN_IF_ERROR(RunHook(OpKind::kDeleteFile, p));
  absl::MutexLock lock(&mu_);
  TESSERA_RETURN_IF_ERROR(ActiveAndRulesLocked(OpKind::kDeleteFile, p));
  if (!base_->FileExists(p)) return base_->DeleteFile(p);  // the base's NOT_FOUND
  DirOp del;
  del.kind = DirOp::kDelete;
  del.path = p;
  del.dir = Parent(p);
  absl::StatusOr<std::string> saved = DurableContentsLocked(p);
  if (saved.ok()) del.saved = *std::move(saved);  // else: not a readable file; not restorable
  TESSERA_RETURN_IF_ERROR(base_->DeleteFile(p));
  auto it = files_.find(p);
  if (it != files_.end()) {
    del.saved_state = it->second;
    files_.erase(it);
  }
  dir_ops_.push_back(std::move(del));
  return absl::OkStatus();
}

absl::Status FaultInjectionEnv::CreateDirs(const std::string& path) {
  const std::string p = Normalize(path);
  TESSERA_RETURN_IF_ERROR(RunHook(OpKind::kCreateDirs, p));
  absl::MutexLock lock(&mu_);
  TESSERA_RETURN_IF_ERROR(ActiveAndRulesLocked(OpKind::kCreateDirs, p));
  return base_->CreateDirs(p);
}

absl::Status FaultInjectionEnv::DeleteDir(const std::string& path) {
  const std::string p = Normalize(path);
  TESSERA_RETURN_IF_ERROR(RunHook(OpKind::kDeleteDir, p));
  absl::MutexLock lock(&mu_);
  TESSERA_RETURN_IF_ERROR(ActiveAndRulesLocked(OpKind::kDeleteDir, p));
  return base_->DeleteDir(p);
}

absl::Status FaultInjectionEnv::SyncDir(const std::string& path) {
  const std::string p = Normalize(path);
  TESSERA_RETURN_IF_ERROR(RunHook(OpKind::kSyncDir, p));
  absl::MutexLock lock(&mu_);
  TESSERA_RETURN_IF_ERROR(ActiveAndRulesLocked(OpKind::kSyncDir, p));
  TESSERA_RETURN_IF_ERROR(base_->SyncDir(p));
  for (DirOp& op : dir_ops_) {
    if (op.dir == p) op.dir_synced = true;
    if (op.kind == DirOp::kRename && op.to_dir == p) op.to_dir_synced = true;
  }
  dir_ops_.erase(std::remove_if(dir_ops_.begin(), dir_ops_.end(),
                                [](const DirOp& op) {
                                  return op.dir_synced &&
                                         (op.kind != DirOp::kRename || op.to_dir_synced);
                                }),
                 dir_ops_.end());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> FaultInjectionEnv::ListDir(const std::string& path) {
  const std::string p = Normalize(path);
  TESSERA_RETURN_IF_ERROR(Check(OpKind::kListDir, p));
  return base_->ListDir(p);
}

absl::StatusOr<uint64_t> FaultInjectionEnv::FileSize(const std::string& path) {
  const std::string p = Normalize(path);
  TESSERA_RETURN_IF_ERROR(Check(OpKind::kFileSize, p));
  return base_->FileSize(p);
}

bool FaultInjectionEnv::FileExists(const std::string& path) {
  return base_->FileExists(Normalize(path));
}

absl::StatusOr<DiskSpace> FaultInjectionEnv::GetDiskSpace(const std::string& path) {
  const std::string p = Normalize(path);
  TESSERA_RETURN_IF_ERROR(Check(OpKind::kGetDiskSpace, p));
  TESSERA_ASSIGN_OR_RETURN(DiskSpace space, base_->GetDiskSpace(p));
  absl::MutexLock lock(&mu_);
  if (disk_full_) space.free_bytes = 0;
  if (write_budget_.has_value()) space.free_bytes = std::min(space.free_bytes, *write_budget_);
  return space;
}

}  // namespace tessera
