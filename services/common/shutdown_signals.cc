#include "services/common/shutdown_signals.h"

#include <pthread.h>

namespace tessera::services {

ShutdownSignals::ShutdownSignals(Options options) {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGTERM);
  sigaddset(&signals_, SIGINT);
  if (options == kReloadOnSighup) sigaddset(&signals_, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int ShutdownSignals::Wait() {
  int sig = 0;
  while (sigwait(&signals_, &sig) != 0) {
  }
  return sig;
}

}  // namespace tessera::services
