#include "api/sdk/object_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tessera::sdk {
namespace {

std::string ErrnoText(int e) { return std::strerror(e); }

}  // namespace

absl::StatusOr<ObjectInfo> ObjectClient::PutObjectFromFile(const std::string& bucket,
                                                           const std::string& key,
                                                           const std::string& path,
                                                           const PutOptions& options) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    const std::string text = absl::StrCat("cannot open ", path, ": ", ErrnoText(e));
    return e == ENOENT ? absl::NotFoundError(text) : absl::PermissionDeniedError(text);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a regular file"));
  }
  ReaderFn reader = [&](char* buf, size_t cap) -> absl::StatusOr<size_t> {
    while (true) {
      const ssize_t n = ::read(fd, buf, cap);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) {
        return absl::DataLossError(absl::StrCat("cannot read ", path, ": ", ErrnoText(errno)));
      }
    }
  };
  absl::StatusOr<ObjectInfo> r =
      PutObjectFromReader(bucket, key, reader, static_cast<int64_t>(st.st_size), options);
  ::close(fd);
  return r;
}

absl::StatusOr<ObjectInfo> ObjectClient::GetObjectToFile(const std::string& bucket,
                                                         const std::string& key,
                                                         const std::string& path,
                                                         const GetOptions& options) {
  const std::string tmp = absl::StrCat(path, ".tessera-partial-", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot create ", tmp, ": ", ErrnoText(errno)));
  }
  absl::StatusOr<ObjectInfo> info = GetObjectToSink(
      bucket, key,
      [&](absl::string_view data) -> absl::Status {
        while (!data.empty()) {
          const ssize_t n = ::write(fd, data.data(), data.size());
          if (n < 0) {
            if (errno == EINTR) continue;
            return absl::ResourceExhaustedError(
                absl::StrCat("cannot write ", path, ": ", ErrnoText(errno)));
          }
          data.remove_prefix(static_cast<size_t>(n));
        }
        return absl::OkStatus();
      },
      options);
  if (info.ok() && ::fsync(fd) != 0) {
    info = absl::ResourceExhaustedError(absl::StrCat("cannot sync ", path, ": ", ErrnoText(errno)));
  }
  ::close(fd);
  if (info.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    info = absl::PermissionDeniedError(
        absl::StrCat("cannot rename ", tmp, " to ", path, ": ", ErrnoText(errno)));
  }
  if (!info.ok()) ::unlink(tmp.c_str());
  return info;
}

absl::Status ObjectClient::ListAllObjects(
    const std::string& bucket, const ListOptions& options,
    const std::function<absl::Status(const ObjectInfo&)>& on_object,
    const std::function<absl::Status(const std::string&)>& on_prefix) {
  ListOptions page_options = options;
  while (true) {
    absl::StatusOr<ListPage> page = ListObjects(bucket, page_options);
    if (!page.ok()) return page.status();
    for (const ObjectInfo& o : page->objects) {
      if (absl::Status s = on_object(o); !s.ok()) return s;
    }
    if (on_prefix) {
      for (const std::string& p : page->common_prefixes) {
        if (absl::Status s = on_prefix(p); !s.ok()) return s;
      }
    }
    if (!page->truncated) return absl::OkStatus();
    if (page->next_continuation_token.empty()) {
      return absl::InternalError("the gateway said the listing is truncated but gave no token");
    }
    page_options.continuation_token = page->next_continuation_token;
  }
}

}  // namespace tessera::sdk
