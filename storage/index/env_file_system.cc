#include "storage/index/env_file_system.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tessera::storage {
namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;

class EnvWritableFile final : public rocksdb::FSWritableFile {
 public:
  EnvWritableFile(std::unique_ptr<WritableFile> file, const rocksdb::FileOptions& opts)
      : rocksdb::FSWritableFile(opts), file_(std::move(file)) {}
  ~EnvWritableFile() override { (void)file_->Close(); }

  IOStatus Append(const rocksdb::Slice& data, const IOOptions&, IODebugContext*) override {
    return ToIOStatus(file_->Append(absl::string_view(data.data(), data.size())));
  }
  IOStatus Close(const IOOptions&, IODebugContext*) override { return ToIOStatus(file_->Close()); }
  // Env files do not buffer: Append has already handed the bytes to the OS.
  IOStatus Flush(const IOOptions&, IODebugContext*) override { return IOStatus::OK(); }
  IOStatus Sync(const IOOptions&, IODebugContext*) override { return ToIOStatus(file_->Sync()); }
  IOStatus Fsync(const IOOptions&, IODebugContext*) override { return ToIOStatus(file_->Sync()); }
  uint64_t GetFileSize(const IOOptions&, IODebugContext*) override { return file_->Size(); }

 private:
  std::unique_ptr<WritableFile> file_;
};

class EnvRandomAccessFile final : public rocksdb::FSRandomAccessFile {
 public:
  explicit EnvRandomAccessFile(std::unique_ptr<RandomAccessFile> file) : file_(std::move(file)) {}

  IOStatus Read(uint64_t offset, size_t n, const IOOptions&, rocksdb::Slice* result, char* scratch,
                IODebugContext*) const override {
    absl::StatusOr<size_t> got = file_->Read(offset, n, scratch);
    if (!got.ok()) {
      *result = rocksdb::Slice();
      return ToIOStatus(got.status());
    }
    *result = rocksdb::Slice(scratch, *got);
    return IOStatus::OK();
  }

 private:
  std::unique_ptr<RandomAccessFile> file_;
};

class EnvSequentialFile final : public rocksdb::FSSequentialFile {
 public:
  explicit EnvSequentialFile(std::unique_ptr<RandomAccessFile> file) : file_(std::move(file)) {}

  IOStatus Read(size_t n, const IOOptions&, rocksdb::Slice* result, char* scratch,
                IODebugContext*) override {
    absl::StatusOr<size_t> got = file_->Read(offset_, n, scratch);
    if (!got.ok()) {
      *result = rocksdb::Slice();
      return ToIOStatus(got.status());
    }
    offset_ += *got;
    *result = rocksdb::Slice(scratch, *got);
    return IOStatus::OK();
  }

  IOStatus Skip(uint64_t n) override {
    absl::StatusOr<uint64_t> size = file_->Size();
    if (!size.ok()) return ToIOStatus(size.status());
    offset_ = std::min(offset_ + n, *size);
    return IOStatus::OK();
  }

 private:
  std::unique_ptr<RandomAccessFile> file_;
  uint64_t offset_ = 0;
};

class EnvDirectory final : public rocksdb::FSDirectory {
 public:
  EnvDirectory(Env* env, std::string path) : env_(env), path_(std::move(path)) {}
  IOStatus Fsync(const IOOptions&, IODebugContext*) override {
    return ToIOStatus(env_->SyncDir(path_));
  }
  IOStatus Close(const IOOptions&, IODebugContext*) override { return IOStatus::OK(); }

 private:
  Env* const env_;
  const std::string path_;
};

}  // namespace

rocksdb::IOStatus ToIOStatus(const absl::Status& status) {
  if (status.ok()) return IOStatus::OK();
  const std::string msg(status.message());
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return IOStatus::NotFound(msg);
    case absl::StatusCode::kResourceExhausted:
      return IOStatus::NoSpace(msg);
    case absl::StatusCode::kDataLoss:
      return IOStatus::Corruption(msg);
    default:
      return IOStatus::IOError(msg);
  }
}

absl::Status FromRocksStatus(const rocksdb::Status& status) {
  if (status.ok()) return absl::OkStatus();
  const std::string msg = absl::StrCat("rocksdb: ", status.ToString());
  if (status.IsNotFound()) return absl::NotFoundError(msg);
  if (status.IsNoSpace()) return absl::ResourceExhaustedError(msg);
  if (status.IsCorruption()) return absl::DataLossError(msg);
  if (status.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  if (status.IsNotSupported()) return absl::UnimplementedError(msg);
  if (status.IsBusy() || status.IsTryAgain() || status.IsTimedOut()) {
    return absl::UnavailableError(msg);
  }
  return absl::UnavailableError(msg);
}

EnvFileSystem::EnvFileSystem(Env* env)
    : rocksdb::FileSystemWrapper(rocksdb::FileSystem::Default()), env_(env) {}

IOStatus EnvFileSystem::NewSequentialFile(const std::string& fname, const rocksdb::FileOptions&,
                                          std::unique_ptr<rocksdb::FSSequentialFile>* result,
                                          IODebugContext*) {
  auto file = env_->NewRandomAccessFile(fname);
  if (!file.ok()) return ToIOStatus(file.status());
  *result = std::make_unique<EnvSequentialFile>(std::move(file).value());
  return IOStatus::OK();
}

IOStatus EnvFileSystem::NewRandomAccessFile(const std::string& fname, const rocksdb::FileOptions&,
                                            std::unique_ptr<rocksdb::FSRandomAccessFile>* result,
                                            IODebugContext*) {
  auto file = env_->NewRandomAccessFile(fname);
  if (!file.ok()) return ToIOStatus(file.status());
  *result = std::make_unique<EnvRandomAccessFile>(std::move(file).value());
  return IOStatus::OK();
}

IOStatus EnvFileSystem::NewWritableFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                        std::unique_ptr<rocksdb::FSWritableFile>* result,
                                        IODebugContext*) {
  auto file = env_->NewWritableFile(fname);
  if (!file.ok()) return ToIOStatus(file.status());
  *result = std::make_unique<EnvWritableFile>(std::move(file).value(), opts);
  return IOStatus::OK();
}

IOStatus EnvFileSystem::ReopenWritableFile(const std::string& fname,
                                           const rocksdb::FileOptions& opts,
                                           std::unique_ptr<rocksdb::FSWritableFile>* result,
                                           IODebugContext*) {
  auto file = env_->NewAppendableFile(fname);
  if (!file.ok()) return ToIOStatus(file.status());
  *result = std::make_unique<EnvWritableFile>(std::move(file).value(), opts);
  return IOStatus::OK();
}

IOStatus EnvFileSystem::ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                          const rocksdb::FileOptions& opts,
                                          std::unique_ptr<rocksdb::FSWritableFile>* result,
                                          IODebugContext* dbg) {
  IOStatus s = RenameFile(old_fname, fname, IOOptions(), dbg);
  if (!s.ok()) return s;
  return NewWritableFile(fname, opts, result, dbg);
}

IOStatus EnvFileSystem::NewRandomRWFile(const std::string&, const rocksdb::FileOptions&,
                                        std::unique_ptr<rocksdb::FSRandomRWFile>*,
                                        IODebugContext*) {
  return IOStatus::NotSupported("random read-write files bypass tessera::Env");
}

IOStatus EnvFileSystem::NewMemoryMappedFileBuffer(
    const std::string&, std::unique_ptr<rocksdb::MemoryMappedFileBuffer>*) {
  return IOStatus::NotSupported("memory-mapped files bypass tessera::Env");
}

IOStatus EnvFileSystem::NewDirectory(const std::string& name, const IOOptions&,
                                     std::unique_ptr<rocksdb::FSDirectory>* result,
                                     IODebugContext*) {
  // Fail, as POSIX would, when the directory is missing.
  auto listing = env_->ListDir(name);
  if (!listing.ok()) return ToIOStatus(listing.status());
  *result = std::make_unique<EnvDirectory>(env_, name);
  return IOStatus::OK();
}

IOStatus EnvFileSystem::FileExists(const std::string& fname, const IOOptions&, IODebugContext*) {
  return env_->FileExists(fname) ? IOStatus::OK() : IOStatus::NotFound(fname);
}

IOStatus EnvFileSystem::GetChildren(const std::string& dir, const IOOptions&,
                                    std::vector<std::string>* result, IODebugContext*) {
  auto names = env_->ListDir(dir);
  if (!names.ok()) return ToIOStatus(names.status());
  *result = std::move(names).value();
  return IOStatus::OK();
}

IOStatus EnvFileSystem::GetChildrenFileAttributes(const std::string& dir, const IOOptions& options,
                                                  std::vector<rocksdb::FileAttributes>* result,
                                                  IODebugContext* dbg) {
  // FileSystem's generic version lists and sizes through the (overridden) virtuals above;
  // FileSystemWrapper's would go straight to the default file system.
  return rocksdb::FileSystem::GetChildrenFileAttributes(dir, options, result, dbg);
}

IOStatus EnvFileSystem::DeleteFile(const std::string& fname, const IOOptions&, IODebugContext*) {
  return ToIOStatus(env_->DeleteFile(fname));
}

IOStatus EnvFileSystem::CreateDirIfMissing(const std::string& dirname, const IOOptions&,
                                           IODebugContext*) {
  return ToIOStatus(env_->CreateDirs(dirname));
}

IOStatus EnvFileSystem::GetFileSize(const std::string& fname, const IOOptions&, uint64_t* file_size,
                                    IODebugContext*) {
  auto size = env_->FileSize(fname);
  if (!size.ok()) return ToIOStatus(size.status());
  *file_size = *size;
  return IOStatus::OK();
}

IOStatus EnvFileSystem::RenameFile(const std::string& src, const std::string& target,
                                   const IOOptions&, IODebugContext*) {
  return ToIOStatus(env_->RenameFile(src, target));
}

std::unique_ptr<rocksdb::Env> NewRocksEnv(Env* env) {
  return rocksdb::NewCompositeEnv(std::make_shared<EnvFileSystem>(env));
}

}  // namespace tessera::storage
