#!/usr/bin/env bash
# tessera-node-location: writes tessera-node's config file for this pod: the chart's settings
# (BASE_CONFIG) followed by the node's location (site, zone, isp) read from the labels of the
# Kubernetes node it runs on, so placement spreads slices over real failure domains.
#   NODE_NAME                          the Kubernetes node (downward API spec.nodeName; required)
#   SITE_LABEL, ZONE_LABEL, ISP_LABEL  label keys to read (empty: skip)
#   DEFAULT_SITE, DEFAULT_ZONE, DEFAULT_ISP  used when a label is missing
#   BASE_CONFIG (optional), OUTPUT (required)
# Fails (non-zero, message on stderr) when the node cannot be read: a node placed in the wrong
# failure domain would silently weaken every stripe it holds.
set -euo pipefail
: "${NODE_NAME:?NODE_NAME is required}" "${OUTPUT:?OUTPUT is required}"
source "$(dirname "$(readlink -f "$0")")/k8s-api.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
KUBE_OUT="$work/node.json"
kube_request GET "/api/v1/nodes/$NODE_NAME"
if [ "$KUBE_STATUS" != 200 ]; then
  echo "tessera-node-location: reading node $NODE_NAME: HTTP $KUBE_STATUS" >&2
  exit 1
fi
label() {  # label KEY DEFAULT
  local v=""
  if [ -n "$1" ]; then v="$(jq -r --arg k "$1" '.metadata.labels[$k] // ""' "$KUBE_OUT")"; fi
  printf '%s' "${v:-$2}"
}
site="$(label "${SITE_LABEL:-}" "${DEFAULT_SITE:-}")"
zone="$(label "${ZONE_LABEL:-}" "${DEFAULT_ZONE:-}")"
isp="$(label "${ISP_LABEL:-}" "${DEFAULT_ISP:-}")"
{
  if [ -n "${BASE_CONFIG:-}" ]; then cat "$BASE_CONFIG"; fi
  echo "# location of Kubernetes node $NODE_NAME"
  echo "site = \"$site\""
  echo "zone = \"$zone\""
  echo "isp = \"$isp\""
} > "$OUTPUT.tmp"
mv "$OUTPUT.tmp" "$OUTPUT"
echo "tessera-node-location: $NODE_NAME is site=$site zone=$zone isp=$isp"
