#!/usr/bin/env bash
# Builds the S3 gateway's libFuzzer targets with clang (outside Bazel) and runs each for a short,
# bounded time over its seed corpus. Exits non-zero on any crash, leak or sanitizer report.
#   tests/fuzz/run_fuzzers.sh [SECONDS_PER_FUZZER]     (default 20)
# Needs clang and libFuzzer (Debian: clang, libclang-rt-14-dev). Outputs go to $FUZZ_OUT
# (default /tmp/tessera-fuzz); the seed corpus in the tree is never modified (new inputs are
# written to a scratch copy).
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds="${1:-20}"
out="${FUZZ_OUT:-/tmp/tessera-fuzz}"
mkdir -p "$out"
CXX="${CXX:-clang++}"

if ! command -v "$CXX" >/dev/null; then
  echo "run_fuzzers: $CXX not found (apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi

# Link flags of //third_party:absl, kept in one place.
absl_libs=$(sed -n '/name = "absl"/,/)/p' third_party/BUILD.bazel | grep -o '"-labsl_[a-z0-9_]*"' |
  tr -d '"' | tr '\n' ' ')

srcs=(
  base/utf8.cc
  services/s3/errors/errors.cc
  services/s3/checksum/checksum.cc
  services/s3/checksum/crc64nvme.cc
  services/s3/auth/credential_store.cc
  services/s3/auth/sigv4.cc
  services/s3/auth/chunked_decoder.cc
  services/s3/auth/payload_verifier.cc
  services/s3/request/headers.cc
  services/s3/request/request.cc
  services/s3/xml/s3_xml.cc
  tests/fuzz/fuzz_targets.cc
)
flags=(-std=c++20 -O1 -g -I. -DNOMINMAX -fno-omit-frame-pointer
       -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined)

echo "== building shared objects"
objs=()
for s in "${srcs[@]}"; do
  o="$out/$(echo "$s" | tr '/' '_').o"
  "$CXX" "${flags[@]}" -c "$s" -o "$o"
  objs+=("$o")
done

# The node's untrusted inputs (gossip datagrams, slice records on disk). The membership protos
# come from Bazel's generated sources (test.sh builds //... first).
gen="$(bazel info bazel-bin 2>/dev/null)"
node_srcs=(
  "$gen/api/membership.pb.cc"
  "$gen/api/node.pb.cc"
  base/clock.cc
  base/env_posix.cc
  base/sodium.cc
  p2p/auth/cluster_secret.cc
  p2p/auth/gossip_auth.cc
  p2p/bandwidth/summary_codec.cc
  p2p/identity/node_identity.cc
  p2p/membership/membership_view.cc
  p2p/membership/records.cc
  p2p/membership/protocol.cc
  storage/slice/crc32c.cc
  storage/slice/slice_format.cc
  storage/index/index_entry.cc
  tests/fuzz/node_fuzz_targets.cc
)
node_objs=()
for s in "${node_srcs[@]}"; do
  o="$out/node_$(basename "$s").o"
  "$CXX" "${flags[@]}" -I"$gen" -c "$s" -o "$o"
  node_objs+=("$o")
done

status=0
for name in s3_request sigv4 chunked_decoder payload_verifier s3_xml gossip slice_records; do
  echo "== $name: build"
  bin="$out/${name}_fuzzer"
  case "$name" in
    gossip|slice_records) link=("${node_objs[@]}" -lprotobuf -lsodium) ;;
    *) link=("${objs[@]}") ;;
  esac
  # shellcheck disable=SC2086
  "$CXX" "${flags[@]}" -fsanitize=fuzzer "tests/fuzz/${name}_fuzzer.cc" "${link[@]}" -o "$bin" \
    $absl_libs -lisal -lssl -lcrypto -lpugixml -lpthread
  work="$out/corpus_$name"
  rm -rf "$work"
  mkdir -p "$work"
  cp tests/fuzz/corpus/"$name"/* "$work"/
  echo "== $name: fuzzing for ${seconds}s"
  if ! ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      "$bin" -max_total_time="$seconds" -max_len=70000 -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$out/${name}-" "$work" > "$out/$name.log" 2>&1; then
    echo "run_fuzzers: $name FAILED; see $out/$name.log and $out/${name}-*" >&2
    tail -n 40 "$out/$name.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$out/$name.log" | tr '\n' ' '
    echo
  fi
done
if [ $status -eq 0 ]; then echo "run_fuzzers: all fuzzers ran clean"; fi
exit $status
