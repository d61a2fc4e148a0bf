// EnvFileSystem: a rocksdb::FileSystem that sends RocksDB's data-bearing file operations through a
// tessera::Env, so that a FaultInjectionEnv under the slice store also sits under its RocksDB
// index (a simulated crash then drops the index's unsynced WAL and MANIFEST bytes too).
//
// Routed through the Env: NewWritableFile, ReopenWritableFile, ReuseWritableFile,
// NewRandomAccessFile, NewSequentialFile, RenameFile, DeleteFile, GetFileSize, FileExists,
// GetChildren (and GetChildrenFileAttributes), CreateDirIfMissing and NewDirectory (whose Fsync is
// Env::SyncDir). Everything else (file locks, info logs, mtimes, links, ...) stays on
// rocksdb::FileSystem::Default(). NewRandomRWFile and memory-mapped buffers are refused so no data
// path can bypass the Env; open the DB with allow_mmap_reads = allow_mmap_writes = false and no
// direct I/O.
//
// Thread-safety: as rocksdb::FileSystem requires (the Env is thread-safe).
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "base/env.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "rocksdb/status.h"

namespace tessera::storage {

class EnvFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  // `env` is not owned and must outlive this object and every DB using it.
  explicit EnvFileSystem(Env* env);

  const char* Name() const override { return "TesseraEnvFileSystem"; }

  rocksdb::IOStatus NewSequentialFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                      std::unique_ptr<rocksdb::FSSequentialFile>* result,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewRandomAccessFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                        std::unique_ptr<rocksdb::FSRandomAccessFile>* result,
                                        rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                      const rocksdb::FileOptions& opts,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewRandomRWFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                    std::unique_ptr<rocksdb::FSRandomRWFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewMemoryMappedFileBuffer(
      const std::string& fname, std::unique_ptr<rocksdb::MemoryMappedFileBuffer>* result) override;
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& io_opts,
                                 std::unique_ptr<rocksdb::FSDirectory>* result,
                                 rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus FileExists(const std::string& fname, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus GetChildren(const std::string& dir, const rocksdb::IOOptions& options,
                                std::vector<std::string>* result,
                                rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus GetChildrenFileAttributes(const std::string& dir,
                                              const rocksdb::IOOptions& options,
                                              std::vector<rocksdb::FileAttributes>* result,
                                              rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& fname, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus CreateDirIfMissing(const std::string& dirname,
                                       const rocksdb::IOOptions& options,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus GetFileSize(const std::string& fname, const rocksdb::IOOptions& options,
                                uint64_t* file_size, rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& target,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;

 private:
  Env* const env_;
};

// A rocksdb::Env whose file system is an EnvFileSystem over `env` (threads, clocks and the rest
// are RocksDB's defaults). `env` must outlive the result.
std::unique_ptr<rocksdb::Env> NewRocksEnv(Env* env);

// Status conversions. NOT_FOUND <-> NotFound/PathNotFound, RESOURCE_EXHAUSTED <-> NoSpace,
// DATA_LOSS <- Corruption; other failures become IOError / UNAVAILABLE (the disk is in trouble,
// another node may serve) keeping the message.
rocksdb::IOStatus ToIOStatus(const absl::Status& status);
absl::Status FromRocksStatus(const rocksdb::Status& status);

}  // namespace tessera::storage
