#!/usr/bin/env bash
# Checks the Dockerfile's runtime stage without a container engine: applies its steps to a fresh
# Debian 12 root made by mmdebstrap (same packages), then runs the binaries in it as the image's
# unprivileged user: tessera-node and tessera-s3 start on keys made with the image's openssl, and
# the aws CLI (on the host) round-trips an object through them. Run as root from the repository
# root after `bazel build //services/...`:
#
#   mmdebstrap --variant=minbase --include=$(deploy/docker/verify_runtime_rootfs.sh --packages) \
#     bookworm /tmp/rootfs http://deb.debian.org/debian
#   deploy/docker/verify_runtime_rootfs.sh /tmp/rootfs
set -euo pipefail
PACKAGES=$(sed -n '/^FROM debian:bookworm-slim/,/^COPY/p' "$(dirname "$0")/Dockerfile" |
  sed -n '/apt-get install/,/rm -rf/p' | tr ' \\' '\n\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' |
  grep -vE '^(apt-get|install|update|rm|q|y|no|recommends|and|deploy)$' | paste -sd, -)
if [ "${1:-}" = --packages ]; then echo "$PACKAGES"; exit 0; fi
ROOT="$(realpath "$1")"
[ -x "$ROOT/usr/bin/tini" ] || { echo "not a rootfs with the runtime packages: $ROOT"; exit 1; }
# The Dockerfile's RUN step after apt-get, then its COPY steps.
chroot "$ROOT" sh -ec 'getent group tessera >/dev/null || groupadd --system --gid 10001 tessera
  id tessera >/dev/null 2>&1 || useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/tessera --shell /usr/sbin/nologin tessera
  mkdir -p /var/lib/tessera && chown tessera:tessera /var/lib/tessera'
install -m 0755 bazel-bin/services/node/tessera-node bazel-bin/services/s3/tessera-s3 \
  bazel-bin/services/gatewayd/tessera-gateway bazel-bin/services/cli/tessera "$ROOT/usr/local/bin/"
install -m 0755 deploy/docker/k8s-api.sh "$ROOT/usr/local/bin/k8s-api.sh"
install -m 0755 deploy/docker/keygen-secret.sh "$ROOT/usr/local/bin/tessera-keygen-secret"
install -m 0755 deploy/docker/node-location.sh "$ROOT/usr/local/bin/tessera-node-location"
as_user() { chroot --userspec=10001:10001 "$ROOT" env HOME=/var/lib/tessera "$@"; }
for b in tessera-node tessera-s3 tessera-gateway tessera; do
  if as_user ldd "/usr/local/bin/$b" | grep -q "not found"; then
    echo "FAIL: $b misses libraries:"; as_user ldd "/usr/local/bin/$b" | grep "not found"; exit 1
  fi
done
W=/var/lib/tessera/verify
as_user sh -ec "rm -rf $W && mkdir -p $W && cd $W && umask 077
  openssl rand -hex 32 > cluster.secret
  printf '1 %s\nactive 1\n' \$(openssl rand -hex 32) > master.key
  printf '[admin]\naccess_key = %s\nsecret_key = %s\n' \$(openssl rand -hex 10 | tr a-f A-F) \$(openssl rand -base64 30) > s3.ini"
chroot --userspec=10001:10001 "$ROOT" /usr/local/bin/tessera-node --data_dir=$W/node --listen=127.0.0.1:0 --admin_listen=127.0.0.1:0 \
  --gossip_listen=127.0.0.1:0 --reserved_bytes=0 --cluster_secret_file=$W/cluster.secret \
  --port_file=$W/node.ports --log_level=warning &
NODE=$!
trap 'kill $NODE ${S3:-} 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$ROOT$W/node.ports" ] && break; sleep 0.2; done
grpc=$(tr ' ' '\n' < "$ROOT$W/node.ports" | sed -n 's/^grpc_port=//p')
chroot --userspec=10001:10001 "$ROOT" /usr/local/bin/tessera-s3 --listen=127.0.0.1:0 --admin_listen=127.0.0.1:0 --seeds=127.0.0.1:$grpc \
  --cluster_secret_file=$W/cluster.secret --master_key_file=$W/master.key --credentials_file=$W/s3.ini \
  --k=1 --m=0 --port_file=$W/s3.ports --log_level=warning &
S3=$!
for _ in $(seq 100); do [ -s "$ROOT$W/s3.ports" ] && break; sleep 0.2; done
s3=$(tr ' ' '\n' < "$ROOT$W/s3.ports" | sed -n 's/^s3_port=//p')
export AWS_ACCESS_KEY_ID=$(sed -n 's/^access_key = //p' "$ROOT$W/s3.ini")
export AWS_SECRET_ACCESS_KEY=$(sed -n 's/^secret_key = //p' "$ROOT$W/s3.ini")
export AWS_DEFAULT_REGION=us-east-1
head -c 3000000 /dev/urandom > /tmp/verify-obj
aws --endpoint-url http://127.0.0.1:$s3 s3 mb s3://verify >/dev/null
aws --endpoint-url http://127.0.0.1:$s3 s3 cp /tmp/verify-obj s3://verify/o >/dev/null
aws --endpoint-url http://127.0.0.1:$s3 s3 cp s3://verify/o /tmp/verify-obj.back >/dev/null
cmp /tmp/verify-obj /tmp/verify-obj.back
echo "runtime rootfs: PASS (binaries run as uid 10001 with only the Dockerfile's packages)"
