#include "services/common/shutdown_signals.h"

#include <pthread.h>

#include <thread>

#include "gtest/gtest.h"

namespace tessera::services {
namespace {

TEST(ShutdownSignalsTest, WaitReturnsTheSignalSentToTheProcess) {
  ShutdownSignals signals;
  // A thread started afterwards inherits the mask: the signal is delivered to Wait(), not to a
  // default handler that would kill the test.
  std::thread sender([] { kill(getpid(), SIGTERM); });
  EXPECT_EQ(signals.Wait(), SIGTERM);
  sender.join();
  std::thread sender2([] { kill(getpid(), SIGINT); });
  EXPECT_EQ(signals.Wait(), SIGINT);
  sender2.join();
}

TEST(ShutdownSignalsTest, SighupIsReturnedOnlyWhenAskedFor) {
  ShutdownSignals signals(ShutdownSignals::kReloadOnSighup);
  std::thread sender([] { kill(getpid(), SIGHUP); });
  EXPECT_EQ(signals.Wait(), SIGHUP);
  sender.join();
  std::thread sender2([] { kill(getpid(), SIGTERM); });
  EXPECT_EQ(signals.Wait(), SIGTERM);
  sender2.join();
  // Without the option SIGHUP is not part of the set (its default action stays).
  sigset_t blocked;
  ShutdownSignals plain;
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, nullptr, &blocked), 0);
  EXPECT_EQ(sigismember(&blocked, SIGTERM), 1);
}

TEST(ShutdownSignalsTest, SigpipeIsIgnored) {
  ShutdownSignals signals;
  struct sigaction current {};
  ASSERT_EQ(sigaction(SIGPIPE, nullptr, &current), 0);
  EXPECT_EQ(current.sa_handler, SIG_IGN);
}

}  // namespace
}  // namespace tessera::services
