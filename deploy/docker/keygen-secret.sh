#!/usr/bin/env bash
# tessera-keygen-secret: creates the Tessera keys Secret once (the Helm chart's pre-install Job).
#
# Never replaces an existing Secret: new keys would make every stored object unreadable. Keys are
# generated in memory (openssl rand), sent to the API server and never printed.
#   SECRET_NAME  the Secret to create (required)
#   S3_USER      the S3 user id of the generated credentials (default admin)
# Exit 0 when the Secret exists afterwards (created now, before, or by a concurrent Job).
set -euo pipefail
: "${SECRET_NAME:?SECRET_NAME is required}"
S3_USER="${S3_USER:-admin}"
source "$(dirname "$(readlink -f "$0")")/k8s-api.sh"
NAMESPACE="${NAMESPACE:-$(cat "$KUBE_SA_DIR/namespace")}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
KUBE_OUT="$work/response"

kube_request GET "/api/v1/namespaces/$NAMESPACE/secrets/$SECRET_NAME"
case "$KUBE_STATUS" in
  200) echo "tessera-keygen-secret: Secret $SECRET_NAME exists; keeping its keys"; exit 0 ;;
  404) ;;
  *) echo "tessera-keygen-secret: reading Secret $SECRET_NAME: HTTP $KUBE_STATUS" >&2; exit 1 ;;
esac

b64() { base64 -w0; }
cluster_secret="$(openssl rand -hex 32)"
master_key="$(printf '# Tessera master keys. Keep this file mode 0600.\n1 %s\nactive 1\n' "$(openssl rand -hex 32)")"
access_key="$(openssl rand -hex 10 | tr 'a-f' 'A-F')"
secret_key="$(openssl rand -base64 30)"
credentials="$(printf '[%s]\naccess_key = %s\nsecret_key = %s\n' "$S3_USER" "$access_key" "$secret_key")"
cat > "$work/body" <<JSON
{"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
 "metadata": {"name": "$SECRET_NAME", "labels": {"app.kubernetes.io/name": "tessera"}},
 "data": {"cluster.secret": "$(printf '%s\n' "$cluster_secret" | b64)",
          "master.key": "$(printf '%s' "$master_key" | b64)",
          "s3-credentials.ini": "$(printf '%s' "$credentials" | b64)"}}
JSON
kube_request POST "/api/v1/namespaces/$NAMESPACE/secrets" "$work/body"
case "$KUBE_STATUS" in
  201) echo "tessera-keygen-secret: created Secret $SECRET_NAME" ;;
  409) echo "tessera-keygen-secret: Secret $SECRET_NAME was created meanwhile; keeping it" ;;
  *) echo "tessera-keygen-secret: creating Secret $SECRET_NAME: HTTP $KUBE_STATUS" >&2; exit 1 ;;
esac
