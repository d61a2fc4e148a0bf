# Shared by the S3 end-to-end tests. Each test runs under s3_cluster.py (see e2e.bzl): real
# tessera-node processes (6 in 3 sites, k=4 m=2, metadata replicated on the nodes) behind the
# production tessera-s3 on 127.0.0.1, with two S3 users, alice and bob. The launcher exports PORT,
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (alice), ALICE_KEY/_SECRET, BOB_KEY/_SECRET and
# TESSERA_E2E_PIDS. Usage: source s3_e2e_lib.sh; use_s3_cluster. Sets EP and the aws CLI / boto3
# environment, and cds to a scratch directory.
# The clients are Debian's packages (setup.sh installs awscli and python3-boto3); their directory
# goes first so a user-level Python or aws install cannot change what is tested.
export PATH="/usr/bin:$PATH"

use_s3_cluster() {
  if [ -z "${PORT:-}" ] || [ -z "${TESSERA_E2E_PIDS:-}" ]; then
    echo "no cluster: run this script under tests/e2e/s3_cluster.py (bazel test //tests/e2e/...)"
    exit 1
  fi
  T="${TEST_TMPDIR:-$(mktemp -d)}/client"
  mkdir -p "$T"
  cd "$T"
  EP="--endpoint-url http://127.0.0.1:$PORT"
  export AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
  export AWS_MAX_ATTEMPTS=1 AWS_PAGER=""
}

require_aws_boto3() {
  if ! command -v aws >/dev/null || ! python3 -c "import boto3" 2>/dev/null; then
    echo "aws CLI / boto3 missing (setup.sh installs them)"; exit 1
  fi
}

# Every server process is alive and the S3 endpoint answers a signed request.
assert_server_alive() {
  local pid
  for pid in $TESSERA_E2E_PIDS; do
    kill -0 "$pid" || { echo "server process $pid died"; exit 1; }
  done
  aws $EP s3api list-buckets > /dev/null || { echo "gateway no longer serves"; exit 1; }
}
