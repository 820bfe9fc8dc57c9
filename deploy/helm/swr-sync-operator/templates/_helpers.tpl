{{/* Names, labels and the operator's environment, shared by the templates. */}}

{{/* The chart name (nameOverride wins). */}}
{{- define "swr-sync-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object names: the release name when it already names the chart, else release-chart. */}}
{{- define "swr-sync-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := include "swr-sync-operator.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels that select the release's pods (immutable in a Deployment's selector). */}}
{{- define "swr-sync-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "swr-sync-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "swr-sync-operator.labels" -}}
{{ include "swr-sync-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: swr-sync-operator
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* The metrics Service's name: a DNS label, so the suffix must fit in 63 characters. */}}
{{- define "swr-sync-operator.metricsServiceName" -}}
{{- printf "%s-metrics" (include "swr-sync-operator.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{/* Whether the operator elects a leader (its default). */}}
{{- define "swr-sync-operator.elects" -}}
{{- if ne .Values.operator.leaderElect false }}true{{ end }}
{{- end }}

{{- define "swr-sync-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "swr-sync-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The namespace the operator watches in namespace scope (its Role lives there). */}}
{{- define "swr-sync-operator.watchNamespace" -}}
{{- default .Release.Namespace .Values.operator.watchNamespace }}
{{- end }}

{{/* The namespace of the leader-election Lease (its Role lives there). */}}
{{- define "swr-sync-operator.leaseNamespace" -}}
{{- default .Release.Namespace .Values.operator.leaderElectionNamespace }}
{{- end }}

{{/*
A value as text; whole numbers as integers (values from JSON or --set-json are float64, which
Go would print as 1e+06 or 2.0240101e+07).
*/}}
{{- define "swr-sync-operator.scalar" -}}
{{- if and (kindIs "float64" .) (eq (floor .) .) }}{{ . | int64 }}{{ else }}{{ . }}{{ end }}
{{- end }}

{{- define "swr-sync-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "swr-sync-operator.scalar" (default .Chart.AppVersion .Values.image.tag)) }}
{{- end }}
{{- end }}

{{/*
The operator's flags as its environment variables: one per value that is set (null leaves
the operator's own default). The value's name is the flag's, in camelCase.
*/}}
{{- define "swr-sync-operator.flagEnv" -}}
{{- $flags := dict
  "logLevel" "SWR_SYNC_LOG"
  "labelSelector" "SWR_SYNC_LABEL_SELECTOR"
  "concurrency" "SWR_SYNC_CONCURRENCY"
  "hssEnterpriseProjectId" "SWR_SYNC_HSS_ENTERPRISE_PROJECT_ID"
  "hssDebounce" "SWR_SYNC_HSS_DEBOUNCE"
  "swrListTtl" "SWR_SYNC_SWR_LIST_TTL"
  "shutdownGrace" "SWR_SYNC_SHUTDOWN_GRACE"
  "verifyGrace" "SWR_SYNC_VERIFY_GRACE"
  "leaderElect" "SWR_SYNC_LEADER_ELECT"
  "leaderElectionNamespace" "SWR_SYNC_LEADER_ELECTION_NAMESPACE"
  "leaderElectionLeaseName" "SWR_SYNC_LEADER_ELECTION_LEASE_NAME"
  "leaderElectionLeaseDuration" "SWR_SYNC_LEADER_ELECTION_LEASE_DURATION"
  "leaderElectionRenewDeadline" "SWR_SYNC_LEADER_ELECTION_RENEW_DEADLINE"
  "leaderElectionRetryPeriod" "SWR_SYNC_LEADER_ELECTION_RETRY_PERIOD"
  "swrEndpoint" "SWR_SYNC_SWR_ENDPOINT"
  "hssEndpoint" "SWR_SYNC_HSS_ENDPOINT"
  "iamEndpoint" "SWR_SYNC_IAM_ENDPOINT"
  "swrQps" "SWR_SYNC_SWR_QPS"
  "swrBurst" "SWR_SYNC_SWR_BURST"
  "swrMaxInFlight" "SWR_SYNC_SWR_MAX_IN_FLIGHT"
  "swrTimeout" "SWR_SYNC_SWR_TIMEOUT"
  "swrMaxRetries" "SWR_SYNC_SWR_MAX_RETRIES" }}
{{- range $key := keys $flags | sortAlpha }}
{{- $value := index $.Values.operator $key }}
{{- if not (kindIs "invalid" $value) }}
- name: {{ index $flags $key }}
  value: {{ include "swr-sync-operator.scalar" $value | quote }}
{{- end }}
{{- end }}
{{- with .Values.operator.endpointOverrides }}
- name: SWR_SYNC_ENDPOINT_OVERRIDES
  value: {{ join "," . | quote }}
{{- end }}
{{- if eq .Values.rbac.scope "namespace" }}
{{- if .Values.operator.watchNamespace }}
- name: SWR_SYNC_NAMESPACE
  value: {{ .Values.operator.watchNamespace | quote }}
{{- else }}
- name: SWR_SYNC_NAMESPACE
  valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
{{- end }}
{{- else if .Values.operator.watchNamespace }}
- name: SWR_SYNC_NAMESPACE
  value: {{ .Values.operator.watchNamespace | quote }}
{{- end }}
{{- end }}
