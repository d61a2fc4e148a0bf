{{/* Names: "<release>-tessera" unless the release is already called tessera. */}}
{{- define "tessera.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tessera.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Selector labels of one component: include "tessera.selector" (list . "node") */}}
{{- define "tessera.selector" -}}
{{- $top := index . 0 -}}
app.kubernetes.io/name: {{ $top.Chart.Name }}
app.kubernetes.io/instance: {{ $top.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "tessera.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "tessera.secretName" -}}
{{- default (printf "%s-keys" (include "tessera.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "tessera.headless" -}}
{{- printf "%s-node-headless" (include "tessera.fullname" .) -}}
{{- end -}}

{{/* gRPC addresses of the first storage nodes: the front ends' --seeds. */}}
{{- define "tessera.nodeSeeds" -}}
{{- $top := . -}}
{{- $seeds := list -}}
{{- range $i := until (int (min 3 .Values.node.replicas)) -}}
{{- $seeds = append $seeds (printf "%s-node-%d.%s.%s.svc:%d" (include "tessera.fullname" $top) $i (include "tessera.headless" $top) $top.Release.Namespace (int $top.Values.node.ports.grpc)) -}}
{{- end -}}
{{- join "," $seeds -}}
{{- end -}}

{{/* Gossip addresses of the first storage nodes: the nodes' own --seeds. */}}
{{- define "tessera.gossipSeeds" -}}
{{- $top := . -}}
{{- $seeds := list -}}
{{- range $i := until (int (min 3 .Values.node.replicas)) -}}
{{- $seeds = append $seeds (printf "%s-node-%d.%s.%s.svc:%d" (include "tessera.fullname" $top) $i (include "tessera.headless" $top) $top.Release.Namespace (int $top.Values.node.ports.gossip)) -}}
{{- end -}}
{{- join "," $seeds -}}
{{- end -}}

{{- define "tessera.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "tessera.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/*
The daemons refuse key files that group or others can read (mode & 077), as ssh does, while
Kubernetes mounts Secrets root-owned: this init container copies them, mode 0600 and owned by the
daemon's user, into a memory-backed emptyDir.
*/}}
{{- define "tessera.secretsInit" -}}
- name: install-keys
  image: {{ include "tessera.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command: ["/bin/sh", "-ec"]
  args:
    - |
      for f in cluster.secret master.key s3-credentials.ini; do
        install -m 0600 "/etc/tessera/secret/$f" "/run/tessera/keys/$f"
      done
  securityContext:
    {{- include "tessera.containerSecurityContext" . | nindent 4 }}
  volumeMounts:
    - name: secret
      mountPath: /etc/tessera/secret
      readOnly: true
    - name: keys
      mountPath: /run/tessera/keys
{{- end -}}

{{- define "tessera.keyVolumes" -}}
- name: secret
  secret:
    secretName: {{ include "tessera.secretName" . }}
    defaultMode: 0440
- name: keys
  emptyDir:
    medium: Memory
    sizeLimit: 1Mi
{{- end -}}
