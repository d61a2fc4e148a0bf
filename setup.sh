#!/usr/bin/env bash
# Installs every Debian 12 package Tessera needs and builds everything. Idempotent; run as root
# (or with sudo available) on a fresh machine:   ./setup.sh
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
  bazel-bootstrap g++ pkg-config python3 git ca-certificates
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev
  librocksdb-dev libisal-dev libsodium-dev libabsl-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libboost-dev libpugixml-dev
  clang-format clang libclang-rt-14-dev
  awscli python3-boto3 curl openssl jq prometheus
  nodejs
  golang-go golang-github-masterminds-sprig-dev golang-k8s-sigs-yaml-dev
)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

# The AWS SDK for JavaScript v3 for the S3 end-to-end test (versions pinned by package-lock.json).
# Debian's nodejs comes without npm (a separate package); a nodejs that bundles npm conflicts with
# Debian's npm, so it is installed only when missing.
if ! command -v npm >/dev/null; then
  $SUDO apt-get install -y -q --no-install-recommends npm
fi
if command -v npm >/dev/null; then
  echo "setup: npm ci in tests/e2e/js"
  (cd tests/e2e/js && npm ci --no-audit --no-fund --loglevel=error) ||
    echo "setup: WARNING: npm ci failed; //tests/e2e:s3_js_sdk_test will fail until it succeeds"
  # kubernetes-models (Kubernetes' OpenAPI schemas) for the Helm chart's validation.
  echo "setup: npm ci in deploy/helm/check"
  (cd deploy/helm/check && npm ci --no-audit --no-fund --loglevel=error) ||
    echo "setup: WARNING: npm ci failed; //deploy/helm:chart_test will fail until it succeeds"
fi

echo "setup: building //..."
bazel build //...
echo "setup: done. Run ./test.sh to run every test."
