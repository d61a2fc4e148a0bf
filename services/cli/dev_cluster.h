// `tessera dev`: a working local cluster with no configuration.
//
// Generates (once) the master key file, the cluster secret and a dev S3 user (random access key
// and secret; all 0600) under `dir`, starts `nodes` tessera-node processes spread over `sites`
// simulated sites (site labels site0, site1, ...; one gossip membership; every call authenticated
// with the cluster secret), one tessera-gateway on 127.0.0.1 (port 7500 by default) and one
// tessera-s3 on 127.0.0.1 (port 9000 by default), both joined to the cluster by --seeds and both
// serving the dev user (--credentials_file), all data under `dir`. Waits until the gateway sees
// every node alive, prints the endpoints and the dev user's keys, writes the S3 settings to
// <dir>/s3.env (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION;
// 0600) and the gateway endpoint and the path of s3.env to ~/.tessera/dev.env
// (TESSERA_ENDPOINT=, TESSERA_CREDENTIALS_FILE=), so the CLI needs no flag and signs as the dev
// user. Then stays in the foreground until SIGINT or SIGTERM and stops the
// front ends, then the nodes (SIGTERM; SIGKILL after 15 s).
//
// Layout of `dir`: master.key, cluster.secret, s3-credentials.ini, node<i>/ (node data),
// run/*.ports, logs/*.log, dev.env, s3.env, lock (held while running: two `tessera dev` on one
// dir are refused).
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
  int s3_port = 9000;          // 0 = pick a free one
  std::string node_binary;     // default: found next to this binary (bazel-bin layout)
  std::string gateway_binary;  // likewise
  std::string s3_binary;       // likewise
  std::string argv0;           // this program's argv[0], to find its siblings
};

// Runs the dev cluster until a signal; returns the exit code.
int RunDevCluster(const DevOptions& options);

}  // namespace tessera::cli
