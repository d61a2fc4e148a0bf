#!/bin/sh
# Starts a local Tessera cluster (6 authenticated nodes in 3 sites, the gRPC gateway on
# 127.0.0.1:7500 and the S3 endpoint on 127.0.0.1:9000) in the foreground; Ctrl-C stops it.
# Extra arguments go to `tessera dev` (see `tessera help`).
# On a fresh Debian 12 machine it first installs and builds what is missing (./setup.sh,
# idempotent); TESSERA_SKIP_SETUP=1 skips that step.
set -e
cd "$(dirname "$0")"
if [ "${TESSERA_SKIP_SETUP:-0}" != 1 ]; then ./setup.sh; fi
bazel build //services/cli:tessera
exec bazel-bin/services/cli/tessera dev "$@"
