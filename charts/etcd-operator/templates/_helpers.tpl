{{/*
Helpers of the etcd-operator chart. The objects are manifests/' objects with
the namespace, the image, replicas, resources and the webhook certificate
filled in; their names and selector labels stay as in manifests/, since the
controller's per-cluster NetworkPolicy admits the controller by the label
app.kubernetes.io/name: etcd-controller in its own namespace.
*/}}

{{/* Labels on every object: manifests/' labels plus Helm's bookkeeping. */}}
{{- define "etcd-operator.labels" -}}
app.kubernetes.io/part-of: etcd-k8s-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The operator image: by digest when image.digest is set, else by tag. */}}
{{- define "etcd-operator.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* The Service kube-apiserver dials, as the certificate must name it. */}}
{{- define "etcd-operator.webhookHost" -}}
{{- printf "etcd-webhook.%s.svc" .Release.Namespace -}}
{{- end -}}

{{/* Both hooks skip kube-system and the operator's own namespace, so a broken
webhook can never lock its own Deployment out. */}}
{{- define "etcd-operator.namespaceSelector" -}}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values: [kube-system, {{ .Release.Namespace }}]
{{- end -}}
