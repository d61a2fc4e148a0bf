#!/usr/bin/env bash
# Tests the image's Kubernetes helpers against a fake API server over HTTPS on 127.0.0.1:
#  - tessera-keygen-secret creates the keys Secret once, never replaces it (second run, a Secret
#    created concurrently), fails on API errors, and never prints a key;
#  - the generated keys and credentials work: a real tessera-node and tessera-s3 start on them and
#    the generated S3 user creates a bucket and round-trips an object through the aws CLI;
#  - tessera-node-location writes the node's labels (defaults for missing ones) into a config
#    file tessera-node accepts, and fails when the node cannot be read.
# Args: tessera-node tessera-s3 (paths); needs python3, openssl, curl, jq, aws (setup.sh).
set -euo pipefail
NODE_BIN="$(realpath "$1")"
S3_BIN="$(realpath "$2")"
HERE="$(cd "$(dirname "$0")" && pwd)"
for tool in python3 openssl curl jq aws; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (run ./setup.sh)"; exit 1; }
done
W="$(mktemp -d "${TEST_TMPDIR:-/tmp}/k8s-scripts.XXXXXX")"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# The fake API server's certificate and the pod's service-account directory.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$W/api.key" -out "$W/api.crt" 2>/dev/null
mkdir -p "$W/sa"
cp "$W/api.crt" "$W/sa/ca.crt"
echo "test-token-$RANDOM$RANDOM" > "$W/sa/token"
echo tessera-ns > "$W/sa/namespace"
export KUBE_SA_DIR="$W/sa"

API_N=0
start_api() {  # start_api [fake_kube_api.py flags...]: sets KUBE_API and API_LOG
  API_N=$((API_N + 1))
  API_LOG="$W/api$API_N.log"
  local pf="$W/api$API_N.port"
  python3 "$HERE/fake_kube_api.py" --cert "$W/api.crt" --key "$W/api.key" \
    --token "$(cat "$W/sa/token")" --port_file "$pf" --log "$API_LOG" "$@" &
  PIDS+=($!)
  for _ in $(seq 100); do [ -s "$pf" ] && break; sleep 0.1; done
  [ -s "$pf" ] || fail "fake API server did not start"
  export KUBE_API="https://127.0.0.1:$(cat "$pf")"
  touch "$API_LOG"
}
posts() { grep -c '"method": "POST"' "$API_LOG" || true; }

# --- keygen: creates once ---------------------------------------------------------------------
start_api
SECRET_NAME=t-keys S3_USER=alice "$HERE/keygen-secret.sh" > "$W/keygen1.out" 2>&1 ||
  { cat "$W/keygen1.out"; fail "keygen failed"; }
[ "$(posts)" = 1 ] || fail "expected one POST, got $(posts)"
body="$(grep '"method": "POST"' "$API_LOG" | head -1)"
[ "$(jq -r .path <<<"$body")" = /api/v1/namespaces/tessera-ns/secrets ] || fail "POST path"
for key in cluster.secret master.key s3-credentials.ini; do
  jq -r --arg k "$key" '.body.data[$k]' <<<"$body" | base64 -d > "$W/$key"
  chmod 600 "$W/$key"
  [ -s "$W/$key" ] || fail "generated $key is empty"
  # No key material in the script's output.
  if grep -qF "$(head -c 24 "$W/$key" | tail -c 16)" "$W/keygen1.out"; then fail "$key was printed"; fi
done
grep -qE '^[0-9a-f]{64}$' "$W/cluster.secret" || fail "cluster.secret is not 64 hex digits"
grep -q '^\[alice\]$' "$W/s3-credentials.ini" || fail "credentials are not for alice"

# --- keygen: never replaces --------------------------------------------------------------------
existing="$(jq -c '{("tessera-ns/t-keys"): .body}' <<<"$body")"
start_api --secrets "$existing"
SECRET_NAME=t-keys "$HERE/keygen-secret.sh" > "$W/keygen2.out" 2>&1 || fail "keygen rerun failed"
[ "$(posts)" = 0 ] || fail "keygen POSTed over an existing Secret"
grep -q "keeping" "$W/keygen2.out" || fail "rerun did not say it kept the Secret"
start_api --conflict_on_post
SECRET_NAME=t-keys "$HERE/keygen-secret.sh" > "$W/keygen3.out" 2>&1 || fail "409 (created meanwhile) must succeed"
start_api --fail_status 500
if SECRET_NAME=t-keys "$HERE/keygen-secret.sh" > "$W/keygen4.out" 2>&1; then fail "API error must fail"; fi
start_api
cp "$W/sa/token" "$W/token.good"
echo wrong > "$W/sa/token"
if SECRET_NAME=t-keys "$HERE/keygen-secret.sh" > "$W/keygen5.out" 2>&1; then fail "401 must fail"; fi
cp "$W/token.good" "$W/sa/token"
[ "$(posts)" = 0 ] || fail "keygen POSTed after a refused GET"

# --- node-location ----------------------------------------------------------------------------
start_api --nodes '{"k8s-a": {"topology.kubernetes.io/region": "eu-1", "topology.kubernetes.io/zone": "eu-1b"}}'
printf 'log_level = warning\n' > "$W/base.conf"
NODE_NAME=k8s-a SITE_LABEL=topology.kubernetes.io/region ZONE_LABEL=topology.kubernetes.io/zone \
  ISP_LABEL=tessera.io/isp DEFAULT_SITE=s0 DEFAULT_ZONE=z0 DEFAULT_ISP=isp0 \
  BASE_CONFIG="$W/base.conf" OUTPUT="$W/node.conf" "$HERE/node-location.sh" > /dev/null
grep -qx 'log_level = warning' "$W/node.conf" || fail "base config not copied"
grep -qx 'site = "eu-1"' "$W/node.conf" || fail "site label not read: $(cat "$W/node.conf")"
grep -qx 'zone = "eu-1b"' "$W/node.conf" || fail "zone label not read"
grep -qx 'isp = "isp0"' "$W/node.conf" || fail "missing isp label did not fall back to the default"
if NODE_NAME=nope OUTPUT="$W/x.conf" "$HERE/node-location.sh" > /dev/null 2>&1; then
  fail "an unreadable node must fail"
fi
[ ! -e "$W/x.conf" ] || fail "a failed run left a config file"

# --- the generated keys run a cluster ---------------------------------------------------------
"$NODE_BIN" --config="$W/node.conf" --data_dir="$W/node" --listen=127.0.0.1:0 \
  --admin_listen=127.0.0.1:0 --gossip_listen=127.0.0.1:0 --reserved_bytes=0 \
  --cluster_secret_file="$W/cluster.secret" --port_file="$W/node.ports" > "$W/node.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do [ -s "$W/node.ports" ] && break; sleep 0.2; done
[ -s "$W/node.ports" ] || { cat "$W/node.log"; fail "tessera-node did not start on the generated config"; }
grpc="$(tr ' ' '\n' < "$W/node.ports" | sed -n 's/^grpc_port=//p')"
"$S3_BIN" --listen=127.0.0.1:0 --admin_listen=127.0.0.1:0 --seeds="127.0.0.1:$grpc" \
  --cluster_secret_file="$W/cluster.secret" --master_key_file="$W/master.key" \
  --credentials_file="$W/s3-credentials.ini" --k=1 --m=0 --log_level=warning \
  --port_file="$W/s3.ports" > "$W/s3.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do [ -s "$W/s3.ports" ] && break; sleep 0.2; done
[ -s "$W/s3.ports" ] || { cat "$W/s3.log"; fail "tessera-s3 did not start on the generated keys"; }
s3="$(tr ' ' '\n' < "$W/s3.ports" | sed -n 's/^s3_port=//p')"
export AWS_ACCESS_KEY_ID="$(sed -n 's/^access_key = //p' "$W/s3-credentials.ini")"
export AWS_SECRET_ACCESS_KEY="$(sed -n 's/^secret_key = //p' "$W/s3-credentials.ini")"
export AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
head -c 100000 /dev/urandom > "$W/obj"
aws --endpoint-url "http://127.0.0.1:$s3" s3 mb s3://generated > /dev/null
aws --endpoint-url "http://127.0.0.1:$s3" s3 cp "$W/obj" s3://generated/obj > /dev/null
aws --endpoint-url "http://127.0.0.1:$s3" s3 cp s3://generated/obj "$W/obj.back" > /dev/null
cmp "$W/obj" "$W/obj.back" || fail "object did not round-trip"
echo "k8s helper scripts: PASS"
