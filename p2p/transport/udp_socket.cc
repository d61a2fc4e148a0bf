#include "p2p/transport/udp_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tessera::p2p {
namespace {

bool SplitHostPort(const std::string& address, std::string* host, uint16_t* port) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  uint32_t p = 0;
  if (!absl::SimpleAtoi(absl::string_view(address).substr(colon + 1), &p) || p > 65535) {
    return false;
  }
  *host = address.substr(0, colon);
  *port = static_cast<uint16_t>(p);
  return true;
}

bool ParseAddress(const std::string& address, sockaddr_in* out) {
  std::string host;
  uint16_t port = 0;
  if (!SplitHostPort(address, &host, &port)) return false;
  memset(out, 0, sizeof(*out));
  out->sin_family = AF_INET;
  out->sin_port = htons(port);
  return inet_pton(AF_INET, host.c_str(), &out->sin_addr) == 1;
}

std::string FormatAddress(const sockaddr_in& addr) {
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &addr.sin_addr, buf, sizeof(buf));
  return absl::StrCat(buf, ":", ntohs(addr.sin_port));
}

}  // namespace

absl::StatusOr<std::string> ResolveUdpAddress(const std::string& host_port) {
  std::string host;
  uint16_t port = 0;
  if (!SplitHostPort(host_port, &host, &port)) {
    return absl::InvalidArgumentError(absl::StrCat("not host:port: '", host_port, "'"));
  }
  sockaddr_in numeric;
  if (ParseAddress(host_port, &numeric)) return FormatAddress(numeric);
  addrinfo hints = {};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* result = nullptr;
  if (int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result); rc != 0 || result == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot resolve '", host, "': ", gai_strerror(rc)));
  }
  sockaddr_in addr;
  memcpy(&addr, result->ai_addr, sizeof(addr));
  freeaddrinfo(result);
  addr.sin_port = htons(port);
  return FormatAddress(addr);
}

absl::StatusOr<std::unique_ptr<UdpSocket>> UdpSocket::Bind(const std::string& address) {
  sockaddr_in addr;
  if (!ParseAddress(address, &addr)) {
    return absl::InvalidArgumentError(absl::StrCat("not a numeric IPv4 ip:port: '", address, "'"));
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", strerror(errno)));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int e = errno;
    close(fd);
    return absl::UnavailableError(absl::StrCat("bind ", address, ": ", strerror(e)));
  }
  sockaddr_in bound;
  socklen_t len = sizeof(bound);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
    int e = errno;
    close(fd);
    return absl::UnavailableError(absl::StrCat("getsockname: ", strerror(e)));
  }
  return std::unique_ptr<UdpSocket>(new UdpSocket(fd, FormatAddress(bound)));
}

UdpSocket::~UdpSocket() { Close(); }

void UdpSocket::Close() {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
}

absl::Status UdpSocket::SendTo(const std::string& address, absl::string_view payload) {
  if (fd_ < 0) return absl::FailedPreconditionError("socket is closed");
  sockaddr_in addr;
  if (!ParseAddress(address, &addr)) {
    return absl::InvalidArgumentError(absl::StrCat("not a numeric IPv4 ip:port: '", address, "'"));
  }
  ssize_t n = sendto(fd_, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&addr),
                     sizeof(addr));
  if (n < 0) return absl::UnavailableError(absl::StrCat("sendto ", address, ": ", strerror(errno)));
  return absl::OkStatus();
}

absl::StatusOr<bool> UdpSocket::Receive(absl::Duration timeout, std::string* payload,
                                        std::string* from) {
  if (fd_ < 0) return absl::FailedPreconditionError("socket is closed");
  pollfd p = {fd_, POLLIN, 0};
  int ms = static_cast<int>(absl::ToInt64Milliseconds(timeout));
  int rc = poll(&p, 1, ms < 0 ? 0 : ms);
  if (rc < 0) {
    if (errno == EINTR) return false;
    return absl::InternalError(absl::StrCat("poll: ", strerror(errno)));
  }
  if (rc == 0) return false;
  payload->resize(kMaxDatagram);
  sockaddr_in addr;
  socklen_t len = sizeof(addr);
  ssize_t n = recvfrom(fd_, payload->data(), payload->size(), MSG_DONTWAIT,
                       reinterpret_cast<sockaddr*>(&addr), &len);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return false;
    return absl::InternalError(absl::StrCat("recvfrom: ", strerror(errno)));
  }
  payload->resize(static_cast<size_t>(n));
  *from = FormatAddress(addr);
  return true;
}

}  // namespace tessera::p2p
