#!/usr/bin/env bash
# End-to-end: AWS SDK for JavaScript v3 (@aws-sdk/client-s3 + lib-storage from npm, pinned by
# js/package-lock.json; setup.sh runs `npm ci` in tests/e2e/js) against tessera-s3.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/s3_e2e_lib.sh"
# Node resolves imports from the script's real path: the source tree's tests/e2e/js.
JS="$(realpath "$HERE/js/s3_sdk_test.mjs")"
if ! command -v node >/dev/null; then
  echo "node missing (setup.sh installs nodejs)"; exit 1
fi
if [ ! -d "$(dirname "$JS")/node_modules/@aws-sdk/client-s3" ]; then
  echo "$(dirname "$JS")/node_modules is missing: run ./setup.sh (it runs npm ci there)"; exit 1
fi
use_s3_cluster
node --no-warnings "$JS"
require_aws_boto3
assert_server_alive
echo "e2e JS SDK: PASS"
