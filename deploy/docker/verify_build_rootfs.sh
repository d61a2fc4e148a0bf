#!/usr/bin/env bash
# Checks the Dockerfile's build stage without a container engine: runs its steps in a fresh
# Debian 12 root made by mmdebstrap with exactly the stage's packages, from a clean export of the
# repository (git archive HEAD, as `COPY . .` of a clean checkout), and checks that the four
# binaries come out and run. Run as root from the repository root (about 20 min on 2 cores):
#
#   mmdebstrap --variant=apt --include=$(deploy/docker/verify_build_rootfs.sh --packages) \
#     bookworm /tmp/buildroot http://deb.debian.org/debian
#   deploy/docker/verify_build_rootfs.sh /tmp/buildroot
set -euo pipefail
DOCKERFILE="$(dirname "$0")/Dockerfile"
PACKAGES=$(sed -n '/^FROM debian:bookworm AS build/,/^WORKDIR/p' "$DOCKERFILE" |
  sed -n '/apt-get install/,/rm -rf/p' | tr ' \\' '\n\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' |
  grep -vE '^(apt-get|install|update|rm|q|y|no|recommends|and)$' | paste -sd, -)
if [ "${1:-}" = --packages ]; then echo "$PACKAGES"; exit 0; fi
ROOT="${1:?usage: $0 ROOTFS | --packages}"
[ -x "$ROOT/usr/bin/bazel" ] || { echo "FAIL: $ROOT has no bazel (made with --packages?)"; exit 1; }
# The stage's build command, as the Dockerfile writes it.
BUILD=$(sed -n '/^RUN bazel build/,/\/out\/$/p' "$DOCKERFILE" | sed 's/^RUN //; s/\\$//' | tr '\n' ' ')
rm -rf "$ROOT/src" "$ROOT/out"
mkdir -p "$ROOT/src"
git archive HEAD | tar -x -C "$ROOT/src"
cleanup() { umount "$ROOT/proc" "$ROOT/dev" 2>/dev/null || true; }
trap cleanup EXIT
mount -t proc proc "$ROOT/proc"
mount --bind /dev "$ROOT/dev"
chroot "$ROOT" /bin/sh -c "cd /src && HOME=/root $BUILD && bazel shutdown"
for b in tessera-node tessera-s3 tessera-gateway tessera; do
  [ -x "$ROOT/out/$b" ] || { echo "FAIL: no /out/$b"; exit 1; }
done
chroot "$ROOT" /out/tessera-node --help | grep -q -- "--data_dir" || { echo "FAIL: tessera-node --help"; exit 1; }
echo "build stage: PASS (4 binaries in $ROOT/out)"
