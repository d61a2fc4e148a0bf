// TcpProxy: a test-only TCP forwarder between a client and one server, with a fault switch, to
// put network partitions between proposers and acceptors (tests/cluster/meta_crash_cluster_test).
//
//   TcpProxy proxy("127.0.0.1:7400");       // listens on 127.0.0.1:<free port>
//   connect to proxy.address() instead of the server;
//   proxy.SetMode(ProxyMode::kBlackhole);   // partition: bytes stop moving, both ways
//   proxy.SetMode(ProxyMode::kPass);        // heal: held bytes flow again (late delivery)
//   proxy.SetMode(ProxyMode::kReject);      // every connection is cut, new ones closed at once
//
// One thread accepts; one thread per connection pumps both directions (poll, 20 ms ticks), so
// a mode change takes effect within a tick. 127.0.0.1 only.
// Thread-safety: SetMode may be called from any thread. The destructor cuts every connection and
// joins every thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace tessera::testing {

enum class ProxyMode { kPass, kBlackhole, kReject };

class TcpProxy {
 public:
  // `target` is "127.0.0.1:port".
  explicit TcpProxy(std::string target) : target_port_(PortOf(target)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(listen_fd_, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr = Loopback(0);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(listen_fd_, 64), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    address_ = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~TcpProxy() {
    stop_ = true;
    accept_thread_.join();
    std::vector<std::thread> pumps;
    {
      absl::MutexLock lock(&mu_);
      pumps.swap(pumps_);
    }
    for (auto& t : pumps) t.join();
    ::close(listen_fd_);
  }

  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  const std::string& address() const { return address_; }
  void SetMode(ProxyMode mode) { mode_ = mode; }
  ProxyMode mode() const { return mode_; }

 private:
  static int PortOf(const std::string& host_port) {
    int port = 0;
    EXPECT_TRUE(absl::SimpleAtoi(host_port.substr(host_port.rfind(':') + 1), &port)) << host_port;
    return port;
  }
  static sockaddr_in Loopback(int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
  }

  void AcceptLoop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int client = ::accept(listen_fd_, nullptr, nullptr);
      if (client < 0) continue;
      if (mode_ == ProxyMode::kReject) {
        ::close(client);
        continue;
      }
      const int server = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in to = Loopback(target_port_);
      if (server < 0 || ::connect(server, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
        if (server >= 0) ::close(server);
        ::close(client);  // target down (killed node): the client sees the connection fail
        continue;
      }
      absl::MutexLock lock(&mu_);
      pumps_.emplace_back([this, client, server] { Pump(client, server); });
    }
  }

  // Moves bytes both ways while kPass; holds them while kBlackhole; cuts on kReject or EOF.
  void Pump(int a, int b) {
    char buf[64 << 10];
    while (!stop_ && mode_ != ProxyMode::kReject) {
      if (mode_ == ProxyMode::kBlackhole) {
        ::usleep(20000);
        continue;
      }
      pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
      if (::poll(p, 2, 20) <= 0) continue;
      bool closed = false;
      for (int i = 0; i < 2 && !closed; ++i) {
        if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        const ssize_t n = ::read(p[i].fd, buf, sizeof(buf));
        if (n <= 0) {
          closed = true;
          break;
        }
        const int out = i == 0 ? b : a;
        for (ssize_t sent = 0; sent < n;) {
          const ssize_t w = ::send(out, buf + sent, static_cast<size_t>(n - sent), MSG_NOSIGNAL);
          if (w <= 0) {
            closed = true;
            break;
          }
          sent += w;
        }
      }
      if (closed) break;
    }
    ::close(a);
    ::close(b);
  }

  const int target_port_;
  int listen_fd_ = -1;
  std::string address_;
  std::atomic<bool> stop_{false};
  std::atomic<ProxyMode> mode_{ProxyMode::kPass};
  std::thread accept_thread_;
  absl::Mutex mu_;
  std::vector<std::thread> pumps_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::testing
