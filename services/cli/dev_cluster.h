// `tessera dev`: a working local cluster with no configuration.
//
// Generates (once) the master key file and the cluster secret (0600) under `dir`, starts `nodes`
// tessera-node processes spread over `sites` simulated sites (site labels site0, site1, ...) and
// one tessera-gateway on 127.0.0.1 (port 7500 by default), all data under `dir`, waits until the
// gateway sees every node alive, prints the endpoints and writes the gateway endpoint to
// ~/.tessera/dev.env (so the CLI needs no flag). Then stays in the foreground until SIGINT or
// SIGTERM and stops the gateway, then the nodes (SIGTERM; SIGKILL after 15 s).
//
// Layout of `dir`: master.key, cluster.secret, node<i>/ (node data), run/*.ports, logs/*.log,
// dev.env, lock (held while running: two `tessera dev` on one dir are refused).
#pragma once

#include <cstdint>
#include <string>

namespace tessera::cli {

struct DevOptions {
  std::string dir;  // default: ~/.tessera/dev, or ./.tessera-dev without HOME
  int nodes = 6;
  int sites = 3;
  int k = 4;
  int m = 2;
  uint64_t stripe_size = 0;    // 0 = the gateway's default
  int gateway_port = 7500;     // 0 = pick a free one
  std::string node_binary;     // default: found next to this binary (bazel-bin layout)
  std::string gateway_binary;  // likewise
  std::string argv0;           // this program's argv[0], to find its siblings
};

// Runs the dev cluster until a signal; returns the exit code.
int RunDevCluster(const DevOptions& options);

}  // namespace tessera::cli
