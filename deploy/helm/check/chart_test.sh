#!/usr/bin/env bash
# Renders the Tessera Helm chart without Helm and a cluster, and validates what it renders:
#  1. builds render.go (Go text/template + the real Sprig + sigs.k8s.io/yaml, Debian packages);
#  2. renders the default values and the 3-zone production example, parses every document
#     strictly (duplicate keys fail) and validates them with validate.mjs (Kubernetes schemas via
#     kubernetes-models, plus selectors, ports, probes, volumes, RBAC, and every flag against the
#     real binaries' --helpfull);
#  3. runs validate.mjs --self-test (each deliberate break must be reported);
#  4. checks that bad values fail rendering with a message naming the value.
# Args: tessera-node tessera-s3 tessera-gateway. Needs golang-go, the Go packages and
# deploy/helm/check/node_modules (setup.sh installs them); fails when any is missing.
set -euo pipefail
HERE="$(cd "$(dirname "$(realpath "$0")")" && pwd)"   # the source tree's deploy/helm/check
CHART="$HERE/../tessera"
EXAMPLES="$HERE/../examples"
W="$(mktemp -d "${TEST_TMPDIR:-/tmp}/chart.XXXXXX")"
fail() { echo "FAIL: $*"; exit 1; }
command -v go >/dev/null || fail "go is missing (setup.sh installs golang-go)"
command -v node >/dev/null || fail "node is missing (setup.sh installs nodejs)"
[ -d "$HERE/node_modules/kubernetes-models" ] ||
  fail "$HERE/node_modules is missing: run ./setup.sh (it runs npm ci there)"

# 1. The renderer, in a GOPATH over Debian's Go sources (/usr/share/gocode). Sprig v3 and
# semver v3 are imported with their /v3 suffix, which GOPATH mode resolves only through a path
# of that name: two symbolic links.
GP="$W/gopath"
mkdir -p "$GP/src/render" "$GP/src/github.com/Masterminds/sprig" "$GP/src/github.com/Masterminds/semver"
ln -s /usr/share/gocode/src/github.com/Masterminds/sprig "$GP/src/github.com/Masterminds/sprig/v3"
ln -s /usr/share/gocode/src/github.com/Masterminds/semver "$GP/src/github.com/Masterminds/semver/v3"
cp "$HERE/render.go" "$GP/src/render/"
(cd "$GP/src/render" && GO111MODULE=off GOPATH="$GP:/usr/share/gocode" GOCACHE="$W/gocache" \
  GOFLAGS= go build -o "$W/render" .) || fail "render.go does not build"

for b in "$@"; do "$b" --helpfull > "$W/$(basename "$b").flags" 2>&1 || true; done
FLAGS=()
for b in tessera-node tessera-s3 tessera-gateway; do
  [ -s "$W/$b.flags" ] || fail "no --helpfull output for $b"
  FLAGS+=(--flags "$b=$W/$b.flags")
done

validate() {  # validate NAME [render args...] -- [validate args...]
  local name="$1"; shift
  local rargs=() vargs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do rargs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  vargs=("$@")
  "$W/render" "${rargs[@]}" "$CHART" > "$W/$name.yaml" || fail "$name: render failed"
  "$W/render" --json "${rargs[@]}" "$CHART" > "$W/$name.json" || fail "$name: render --json failed"
  grep -q "<no value>" "$W/$name.yaml" && fail "$name: rendered <no value>"
  (cd "$HERE" && node validate.mjs "$W/$name.json" "${FLAGS[@]}" "${vargs[@]}") ||
    fail "$name: validation failed"
}

# 2. Default values and the production example.
validate default --name tessera --namespace storage
grep -q "kind: StatefulSet" "$W/default.yaml" || fail "no StatefulSet rendered"
grep -q "helm.sh/hook: pre-install" "$W/default.yaml" || fail "no key-generation Job by default"
validate production --name prod --namespace tessera -f "$EXAMPLES/production-3zone.yaml" -- \
  --external-secret tessera-keys --external-secret tessera-s3-tls
grep -q "kind: ServiceMonitor" "$W/production.yaml" || fail "production: no ServiceMonitor"
grep -q "replicas: 9" "$W/production.yaml" || fail "production: not 9 storage nodes"
# The PrometheusRule carries the promtool-checked alert file, every rule of it.
grep -q "kind: PrometheusRule" "$W/production.yaml" || fail "production: no PrometheusRule"
for alert in $(sed -n 's/^ *- alert: *//p' "$CHART/files/tessera-alerts.yaml"); do
  grep -q "alert: $alert\$" "$W/production.yaml" || fail "production: PrometheusRule lacks $alert"
done
grep -q "kind: PrometheusRule" "$W/default.yaml" && fail "default: PrometheusRule rendered while disabled"
if grep -q "tessera-keygen-secret" "$W/production.yaml"; then
  fail "production: existingSecret given but the key-generation Job is rendered"
fi

# 3. The validator reports every deliberate break.
(cd "$HERE" && node validate.mjs --self-test "$W/default.json" "${FLAGS[@]}") ||
  fail "validator self-test"

# 4. Bad values fail with a message naming them.
printf 'node:\n  replicas: 4\n' > "$W/too-few.yaml"
if "$W/render" -f "$W/too-few.yaml" "$CHART" > /dev/null 2> "$W/too-few.err"; then
  fail "4 storage nodes for 4+2 coding rendered"
fi
grep -q "node.replicas" "$W/too-few.err" || fail "the error does not name node.replicas: $(cat "$W/too-few.err")"
echo "chart: PASS"
