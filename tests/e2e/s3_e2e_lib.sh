# Shared by the S3 end-to-end tests: starts s3_dev_server (6 real nodes, k=4 m=2, S3 on
# 127.0.0.1:0) with two users, alice and bob, and exports the aws CLI / boto3 environment for
# alice. Usage: source s3_e2e_lib.sh; start_s3_server PATH_TO_SERVER. Sets PORT, EP, SERVER_PID.
# The clients are Debian's packages (setup.sh installs awscli and python3-boto3); their directory
# goes first so a user-level Python or aws install cannot change what is tested.
export PATH="/usr/bin:$PATH"
ALICE_KEY=AKIAALICE00000000001
ALICE_SECRET=alicesecretalicesecret0123456789
BOB_KEY=AKIABOB0000000000001
BOB_SECRET=bobsecretbobsecretbob0123456789x

start_s3_server() {
  local server
  server="$(realpath "$1")"
  T="${TEST_TMPDIR:-$(mktemp -d)}"
  cd "$T"
  printf '[alice]\naccess_key = %s\nsecret_key = %s\n[bob]\naccess_key = %s\nsecret_key = %s\n' \
    "$ALICE_KEY" "$ALICE_SECRET" "$BOB_KEY" "$BOB_SECRET" > creds.ini
  chmod 600 creds.ini
  rm -f port
  "$server" --credentials_file=creds.ini --port_file=port < /dev/null > server.out 2> server.err &
  SERVER_PID=$!
  # On failure, show what the gateway logged (its stderr) before stopping it.
  trap 'rc=$?; [ $rc -ne 0 ] && { echo "--- s3_dev_server stderr (tail) ---"; tail -n 40 server.err; }
        kill $SERVER_PID 2>/dev/null || true' EXIT
  for _ in $(seq 600); do
    [ -f port ] && break
    kill -0 $SERVER_PID 2>/dev/null || { cat server.err; exit 1; }
    sleep 0.1
  done
  [ -f port ] || { echo "s3_dev_server did not start"; exit 1; }
  PORT=$(cat port)
  EP="--endpoint-url http://127.0.0.1:$PORT"
  export PORT AWS_ACCESS_KEY_ID=$ALICE_KEY AWS_SECRET_ACCESS_KEY=$ALICE_SECRET
  export BOB_KEY BOB_SECRET
  export AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
  export AWS_MAX_ATTEMPTS=1 AWS_PAGER=""
}

require_aws_boto3() {
  if ! command -v aws >/dev/null || ! python3 -c "import boto3" 2>/dev/null; then
    echo "aws CLI / boto3 missing (setup.sh installs them)"; exit 1
  fi
}

# The gateway process is alive and answers a signed request.
assert_server_alive() {
  kill -0 $SERVER_PID || { echo "s3_dev_server died"; cat server.err; exit 1; }
  aws $EP s3api list-buckets > /dev/null || { echo "gateway no longer serves"; exit 1; }
}
