// ThrottledProxy (test only): a TCP relay on 127.0.0.1 that forwards to an upstream address at
// most `bytes_per_second` in each direction per connection, to make one peer look like a slow
// link to real clients (TLS and gRPC pass through untouched: it relays bytes).
//
// Thread-safety: construct, address(), Stop() from one thread; relaying runs on its own threads
// (one acceptor, two pumps per connection). Stop() (also in the destructor) closes everything and
// joins them.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace tessera::services::testing {

class ThrottledProxy {
 public:
  ThrottledProxy(uint16_t upstream_port, double bytes_per_second)
      : upstream_port_(upstream_port), bytes_per_second_(bytes_per_second) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(listen_fd_, 16) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      close(listen_fd_);
      listen_fd_ = -1;
      return;
    }
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~ThrottledProxy() { Stop(); }
  ThrottledProxy(const ThrottledProxy&) = delete;
  ThrottledProxy& operator=(const ThrottledProxy&) = delete;

  bool ok() const { return listen_fd_ >= 0; }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

  void Stop() {
    if (stopping_.exchange(true)) return;
    if (listen_fd_ >= 0) shutdown(listen_fd_, SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    {
      absl::MutexLock lock(&mu_);
      for (int fd : fds_) shutdown(fd, SHUT_RDWR);
    }
    for (std::thread& t : pumps_) t.join();
    for (int fd : fds_) close(fd);
    if (listen_fd_ >= 0) close(listen_fd_);
  }

 private:
  void AcceptLoop() {
    while (!stopping_) {
      const int client = accept(listen_fd_, nullptr, nullptr);
      if (client < 0) return;
      const int upstream = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(upstream_port_);
      if (connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        close(client);
        close(upstream);
        continue;
      }
      absl::MutexLock lock(&mu_);
      if (stopping_) {
        close(client);
        close(upstream);
        return;
      }
      fds_.push_back(client);
      fds_.push_back(upstream);
      pumps_.emplace_back([this, client, upstream] { Pump(client, upstream); });
      pumps_.emplace_back([this, client, upstream] { Pump(upstream, client); });
    }
  }

  // Copies from -> to, sleeping so the average rate stays at bytes_per_second_.
  void Pump(int from, int to) {
    char buf[16 << 10];
    // When the link is free again: idle time earns no credit, so the rate holds for every
    // transfer, not just on average since the connection opened.
    absl::Time free_at = absl::Now();
    while (true) {
      const ssize_t n = read(from, buf, sizeof(buf));
      if (n <= 0) break;
      ssize_t off = 0;
      while (off < n) {
        const ssize_t w = send(to, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
        if (w <= 0) {
          shutdown(from, SHUT_RDWR);
          return;
        }
        off += w;
      }
      free_at = std::max(free_at, absl::Now()) +
                absl::Seconds(static_cast<double>(n) / bytes_per_second_);
      const absl::Duration wait = free_at - absl::Now();
      if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
    }
    shutdown(to, SHUT_WR);
  }

  const uint16_t upstream_port_;
  const double bytes_per_second_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  absl::Mutex mu_;
  std::vector<int> fds_;            // guarded by mu_ until Stop joins the acceptor
  std::vector<std::thread> pumps_;  // likewise
};

}  // namespace tessera::services::testing
