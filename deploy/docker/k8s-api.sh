# Sourced by the image's Kubernetes helper scripts: calls the API server with the pod's service
# account. Overridable for tests: KUBE_API (default https://$KUBERNETES_SERVICE_HOST:$..._PORT),
# KUBE_SA_DIR (default /var/run/secrets/kubernetes.io/serviceaccount).
KUBE_SA_DIR="${KUBE_SA_DIR:-/var/run/secrets/kubernetes.io/serviceaccount}"
KUBE_API="${KUBE_API:-https://${KUBERNETES_SERVICE_HOST:-kubernetes.default.svc}:${KUBERNETES_SERVICE_PORT:-443}}"

# kube_request METHOD PATH [BODY_FILE]: prints the response body to $KUBE_OUT, returns nothing;
# sets KUBE_STATUS to the HTTP status (000 when the API server cannot be reached).
kube_request() {
  local method="$1" path="$2" body="${3:-}"
  local args=(-sS -o "$KUBE_OUT" -w '%{http_code}' -X "$method"
    --cacert "$KUBE_SA_DIR/ca.crt"
    -H "Authorization: Bearer $(cat "$KUBE_SA_DIR/token")"
    -H "Accept: application/json")
  if [ -n "$body" ]; then args+=(-H "Content-Type: application/json" --data-binary "@$body"); fi
  KUBE_STATUS="$(curl "${args[@]}" "$KUBE_API$path" || true)"
  KUBE_STATUS="${KUBE_STATUS:-000}"
}
