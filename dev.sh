#!/bin/sh
# Starts a local Tessera cluster (6 authenticated nodes in 3 sites, the gRPC gateway on
# 127.0.0.1:7500 and the S3 endpoint on 127.0.0.1:9000) in the foreground; Ctrl-C stops it.
# Extra arguments go to `tessera dev` (see `tessera help`).
set -e
cd "$(dirname "$0")"
bazel build //services/cli:tessera
exec bazel-bin/services/cli/tessera dev "$@"
