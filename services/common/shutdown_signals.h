// ShutdownSignals: how every Tessera daemon learns it should stop.
//
// Construct it first thing in main(), before any thread starts: it blocks SIGTERM and SIGINT in
// the calling thread, so every thread started later inherits the mask and only Wait() receives
// them (no handler runs on some random gRPC thread), and it ignores SIGPIPE (a peer closing a
// socket is an error return, not a crash).
#pragma once

#include <csignal>

namespace tessera::services {

//
// A daemon that reloads files on SIGHUP (tessera-s3: credentials and TLS certificates) passes
// kReloadOnSighup: SIGHUP is then blocked the same way and Wait() returns it as well. Otherwise
// SIGHUP keeps its default action (terminate).
class ShutdownSignals {
 public:
  enum Options { kStopOnly = 0, kReloadOnSighup = 1 };
  explicit ShutdownSignals(Options options = kStopOnly);
  // Blocks until SIGTERM or SIGINT (or, with kReloadOnSighup, SIGHUP) arrives and returns its
  // number.
  int Wait();

 private:
  sigset_t signals_;
};

}  // namespace tessera::services
