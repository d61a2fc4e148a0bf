// UdpSocket: a bound IPv4 UDP socket for datagram protocols (membership gossip).
//
// Addresses are "a.b.c.d:port" strings (numeric IPv4; ResolveUdpAddress turns a host name into
// one). Thread-safety: SendTo and Receive may be called from different threads at the same time;
// Close must not race with them.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tessera::p2p {

// "host:port" -> "a.b.c.d:port" (IPv4, getaddrinfo; blocks on DNS). INVALID_ARGUMENT for a
// malformed address, NOT_FOUND when the host does not resolve.
[[nodiscard]] absl::StatusOr<std::string> ResolveUdpAddress(const std::string& host_port);

class UdpSocket {
 public:
  // Largest datagram Receive accepts; longer ones are truncated and reported as malformed.
  static constexpr size_t kMaxDatagram = 65507;

  // Binds "a.b.c.d:port" (port 0: any free port). UNAVAILABLE if the bind fails.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<UdpSocket>> Bind(const std::string& address);

  ~UdpSocket();
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  // The bound address with the real port, e.g. "127.0.0.1:40123".
  const std::string& local_address() const { return local_address_; }

  // Sends one datagram. INVALID_ARGUMENT for a bad address; UNAVAILABLE if the kernel refuses
  // (datagram sockets do not report whether anyone received it).
  [[nodiscard]] absl::Status SendTo(const std::string& address, absl::string_view payload);

  // Waits up to `timeout` for one datagram. Returns true with `payload` and `from` filled, false
  // on timeout; INTERNAL on a socket error, FAILED_PRECONDITION after Close.
  [[nodiscard]] absl::StatusOr<bool> Receive(absl::Duration timeout, std::string* payload,
                                             std::string* from);

  // Closes the socket (idempotent). Datagrams sent to it afterwards are lost, as after a crash.
  void Close();

 private:
  UdpSocket(int fd, std::string local_address)
      : fd_(fd), local_address_(std::move(local_address)) {}

  int fd_;
  std::string local_address_;
};

}  // namespace tessera::p2p
