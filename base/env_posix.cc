// POSIX implementation of Env (see base/env.h), plus the Env-generic helpers ReadFileToString and
// WriteFileAtomically.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/env.h"
#include "base/status_macros.h"

namespace tessera {
namespace {

// Maps an errno from an operation on `context` (usually "op path") to a Status with a clear
// message. Disk-full conditions become RESOURCE_EXHAUSTED so callers can shed load.
absl::Status PosixError(absl::string_view context, int err) {
  std::string msg = absl::StrCat(context, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(msg);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(msg);
    case EEXIST:
      return absl::AlreadyExistsError(msg);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(msg);
    case ENOTEMPTY:
    case EISDIR:
    case EINVAL:
    case ENAMETOOLONG:
      return absl::FailedPreconditionError(msg);
    case EMFILE:
    case ENFILE:
    case ENOMEM:
      return absl::ResourceExhaustedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

// The parent directory of `path` ("." when it has none).
std::string Dirname(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixWritableFile() override { (void)Close(); }

  absl::Status Append(absl::string_view data) override {
    if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat("append to closed ", path_));
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return PosixError(absl::StrCat("write ", path_), errno);
      }
      p += n;
      left -= static_cast<size_t>(n);
      size_ += static_cast<uint64_t>(n);
    }
    return absl::OkStatus();
  }

  absl::Status Sync() override {
    if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat("sync of closed ", path_));
    if (::fdatasync(fd_) != 0) return PosixError(absl::StrCat("fdatasync ", path_), errno);
    return absl::OkStatus();
  }

  absl::Status Close() override {
    if (fd_ < 0) return absl::OkStatus();
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return PosixError(absl::StrCat("close ", path_), errno);
    return absl::OkStatus();
  }

  uint64_t Size() const override { return size_; }

 private:
  const std::string path_;
  int fd_;
  uint64_t size_;
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }

  absl::StatusOr<size_t> Read(uint64_t offset, size_t n, char* scratch) const override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, scratch + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return PosixError(absl::StrCat("pread ", path_, " at ", offset + done), errno);
      }
      if (r == 0) break;  // end of file
      done += static_cast<size_t>(r);
    }
    return done;
  }

  absl::StatusOr<uint64_t> Size() const override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return PosixError(absl::StrCat("fstat ", path_), errno);
    return static_cast<uint64_t>(st.st_size);
  }

 private:
  const std::string path_;
  const int fd_;
};

class PosixEnv final : public Env {
 public:
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    int fd = OpenRetry(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return PosixError(absl::StrCat("create ", path), errno);
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd, 0));
  }

  absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(
      const std::string& path) override {
    int fd = OpenRetry(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return PosixError(absl::StrCat("open for append ", path), errno);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      absl::Status s = PosixError(absl::StrCat("fstat ", path), errno);
      ::close(fd);
      return s;
    }
    return std::unique_ptr<WritableFile>(
        new PosixWritableFile(path, fd, static_cast<uint64_t>(st.st_size)));
  }

  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) override {
    int fd = OpenRetry(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return PosixError(absl::StrCat("open ", path), errno);
    struct stat st;
    if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
      ::close(fd);
      return absl::FailedPreconditionError(absl::StrCat("open ", path, ": is a directory"));
    }
    return std::unique_ptr<RandomAccessFile>(new PosixRandomAccessFile(path, fd));
  }

  absl::Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return PosixError(absl::StrCat("rename ", from, " -> ", to), errno);
    }
    return absl::OkStatus();
  }

  absl::Status DeleteFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return PosixError(absl::StrCat("unlink ", path), errno);
    return absl::OkStatus();
  }

  absl::Status CreateDirs(const std::string& path) override {
    if (path.empty()) return absl::InvalidArgumentError("CreateDirs: empty path");
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) return absl::OkStatus();
      return absl::FailedPreconditionError(absl::StrCat("mkdir ", path, ": not a directory"));
    }
    std::string parent = Dirname(path);
    if (parent != path && parent != "." && parent != "/") {
      TESSERA_RETURN_IF_ERROR(CreateDirs(parent));
    }
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
      return PosixError(absl::StrCat("mkdir ", path), errno);
    }
    return absl::OkStatus();
  }

  absl::Status DeleteDir(const std::string& path) override {
    if (::rmdir(path.c_str()) != 0) return PosixError(absl::StrCat("rmdir ", path), errno);
    return absl::OkStatus();
  }

  absl::Status SyncDir(const std::string& path) override {
    int fd = OpenRetry(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0) return PosixError(absl::StrCat("open dir ", path), errno);
    absl::Status s;
    if (::fsync(fd) != 0) s = PosixError(absl::StrCat("fsync dir ", path), errno);
    ::close(fd);
    return s;
  }

  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override {
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) return PosixError(absl::StrCat("opendir ", path), errno);
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* e = ::readdir(dir)) {
      absl::string_view name(e->d_name);
      if (name != "." && name != "..") names.emplace_back(name);
    }
    int err = errno;
    ::closedir(dir);
    if (err != 0) return PosixError(absl::StrCat("readdir ", path), err);
    return names;
  }

  absl::StatusOr<uint64_t> FileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return PosixError(absl::StrCat("stat ", path), errno);
    return static_cast<uint64_t>(st.st_size);
  }

  bool FileExists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  absl::StatusOr<DiskSpace> GetDiskSpace(const std::string& path) override {
    struct statvfs vfs;
    if (::statvfs(path.c_str(), &vfs) != 0) {
      return PosixError(absl::StrCat("statvfs ", path), errno);
    }
    DiskSpace space;
    space.capacity_bytes = static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize;
    space.free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    return space;
  }

 private:
  static int OpenRetry(const std::string& path, int flags, mode_t mode) {
    int fd;
    do {
      fd = ::open(path.c_str(), flags, mode);
    } while (fd < 0 && errno == EINTR);
    return fd;
  }
};

}  // namespace

Env* Env::Default() {
  static Env* const env = new PosixEnv();
  return env;
}

absl::StatusOr<std::string> ReadFileToString(Env* env, const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> file, env->NewRandomAccessFile(path));
  std::string out;
  constexpr size_t kChunk = 64 * 1024;
  uint64_t offset = 0;
  for (;;) {
    out.resize(offset + kChunk);
    TESSERA_ASSIGN_OR_RETURN(size_t n, file->Read(offset, kChunk, out.data() + offset));
    offset += n;
    if (n < kChunk) break;
  }
  out.resize(offset);
  return out;
}

namespace {
std::atomic<uint64_t> g_temp_counter{0};
}  // namespace

absl::Status WriteFileAtomically(Env* env, const std::string& path, absl::string_view data) {
  // A name unique within the process (pid + counter) so concurrent writers of the same target do
  // not share a temporary file; the ".tmp" suffix lets recovery code recognise leftovers.
  const std::string tmp = absl::StrCat(
      path, ".", ::getpid(), ".", g_temp_counter.fetch_add(1, std::memory_order_relaxed), ".tmp");
  absl::Status s = [&]() -> absl::Status {
    TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env->NewWritableFile(tmp));
    absl::Status st = file->Append(data);
    if (st.ok()) st = file->Sync();
    absl::Status close_status = file->Close();
    if (st.ok()) st = close_status;
    TESSERA_RETURN_IF_ERROR(st);
    return env->RenameFile(tmp, path);
  }();
  if (!s.ok()) {
    if (env->FileExists(tmp)) (void)env->DeleteFile(tmp);
    return Annotate(s, absl::StrCat("WriteFileAtomically ", path));
  }
  return Annotate(env->SyncDir(Dirname(path)), absl::StrCat("WriteFileAtomically ", path));
}

}  // namespace tessera
