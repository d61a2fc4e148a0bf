// The partition switch of TcpProxy does what meta_crash_cluster_test relies on: kPass forwards,
// kBlackhole holds bytes (nothing arrives) and delivers them late on healing, kReject cuts.
#include "tests/cluster/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace tessera::testing {
namespace {

// An echo server on 127.0.0.1:0 (one connection at a time, enough here).
class Echo {
 public:
  Echo() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    address_ = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) continue;
        const int c = ::accept(fd_, nullptr, nullptr);
        char buf[4096];
        for (ssize_t n; !stop_ && (n = ::read(c, buf, sizeof(buf))) > 0;) {
          (void)::send(c, buf, static_cast<size_t>(n), MSG_NOSIGNAL);
        }
        ::close(c);
      }
    });
  }
  ~Echo() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  const std::string& address() const { return address_; }

 private:
  int fd_;
  std::string address_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

int Connect(const std::string& address) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  return fd;
}

// What arrives on `fd` within `ms` (empty on timeout; "<eof>" when the peer closed).
std::string ReadWithin(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, ms) <= 0) return "";
  char buf[256];
  const ssize_t n = ::read(fd, buf, sizeof(buf));
  if (n <= 0) return "<eof>";
  return std::string(buf, static_cast<size_t>(n));
}

TEST(TcpProxyTest, PassBlackholeHealAndReject) {
  Echo echo;
  TcpProxy proxy(echo.address());
  const int fd = Connect(proxy.address());
  ASSERT_EQ(::send(fd, "one", 3, MSG_NOSIGNAL), 3);
  EXPECT_EQ(ReadWithin(fd, 10000), "one");

  proxy.SetMode(ProxyMode::kBlackhole);
  absl::SleepFor(absl::Milliseconds(100));  // let the pump see the switch
  ASSERT_EQ(::send(fd, "two", 3, MSG_NOSIGNAL), 3);
  EXPECT_EQ(ReadWithin(fd, 500), "") << "bytes crossed a blackholed proxy";
  proxy.SetMode(ProxyMode::kPass);
  EXPECT_EQ(ReadWithin(fd, 10000), "two");  // held, then delivered late

  proxy.SetMode(ProxyMode::kReject);
  EXPECT_EQ(ReadWithin(fd, 10000), "<eof>");  // the connection is cut
  ::close(fd);
  const int again = Connect(proxy.address());  // accepted, then closed at once
  EXPECT_EQ(ReadWithin(again, 10000), "<eof>");
  ::close(again);
}

}  // namespace
}  // namespace tessera::testing
