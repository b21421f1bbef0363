{{/*
Named templates of the tidemark chart.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "tidemark.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 52 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every resource name: <release>-<chart>, or the release name
alone when it already contains the chart name. 52 characters at most: the
StatefulSet's controller-revision-hash label is "<name>-<10 chars>", and a
label value holds 63.
*/}}
{{- define "tidemark.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "tidemark.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The labels that select this release's pods (immutable in a StatefulSet). */}}
{{- define "tidemark.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tidemark.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tidemark.labels" -}}
helm.sh/chart: {{ include "tidemark.chart" . }}
{{ include "tidemark.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "tidemark.headlessServiceName" -}}
{{ include "tidemark.fullname" . }}-headless
{{- end }}

{{- define "tidemark.metricsServiceName" -}}
{{ include "tidemark.fullname" . }}-metrics
{{- end }}

{{/* The image reference: digest, else tag, else the chart's appVersion. */}}
{{- define "tidemark.image" -}}
{{- $repo := required "image.repository is required" .Values.image.repository }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- $tag := toString (default .Chart.AppVersion .Values.image.tag) }}
{{- if eq $tag "latest" }}
{{- fail "image.tag: \"latest\" is refused: pin a version (default: the chart's appVersion) or image.digest" }}
{{- end }}
{{- printf "%s:%s" $repo $tag }}
{{- end }}
{{- end }}

{{/*
A value as text for an environment variable or a check. A number from a
values file is a float64, which prints 1000000 as "1e+06": integral floats
print as integers.
*/}}
{{- define "tidemark.text" -}}
{{- if and (kindIs "float64" .) (eq . (floor .)) }}
{{- int64 . }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/*
A non-negative integer value, whatever its YAML/--set type (a number in a
values file is a float64, an integer from --set an int64, --set-string a
string). Prints the integer, or fails naming the key.
Call: include "tidemark.int" (list "replicaCount" .Values.replicaCount)
*/}}
{{- define "tidemark.int" -}}
{{- $key := index . 0 }}
{{- $v := index . 1 }}
{{- if kindIs "invalid" $v }}
{{- fail (printf "%s is required" $key) }}
{{- end }}
{{- $s := include "tidemark.text" $v }}
{{- if not (regexMatch "^[0-9]+$" $s) }}
{{- fail (printf "%s must be a non-negative integer (got %q)" $key $s) }}
{{- end }}
{{- $s }}
{{- end }}

{{/*
Refuses values that cannot work. Included by the StatefulSet, so that every
render (install, upgrade, template) checks them.
*/}}
{{- define "tidemark.validate" -}}
{{- if kindIs "invalid" .Values.partitions }}
{{- fail "partitions is required: set it to the partition count of the input topics (--set partitions=N); replicaCount may not exceed it" }}
{{- end }}
{{- $partitions := include "tidemark.int" (list "partitions" .Values.partitions) | atoi }}
{{- if lt $partitions 1 }}
{{- fail "partitions must be at least 1 (the partition count of the input topics)" }}
{{- end }}
{{- $replicas := include "tidemark.int" (list "replicaCount" .Values.replicaCount) | atoi }}
{{- if gt $replicas $partitions }}
{{- fail (printf "replicaCount (%d) exceeds partitions (%d): tidemark runs one task per input partition, so pods beyond the partition count would get no task and never become ready. Lower replicaCount, or add partitions to the input topics (and the output and changelog topics) first, then raise partitions" $replicas $partitions) }}
{{- end }}
{{- $port := include "tidemark.int" (list "metrics.port" .Values.metrics.port) | atoi }}
{{- if or (lt $port 1) (gt $port 65535) }}
{{- fail (printf "metrics.port must be 1..65535 (got %d): the probes and the metrics Service use it" $port) }}
{{- end }}
{{- if not .Values.stateDir }}
{{- fail "stateDir is required (state.dir, the mount path of the state volume)" }}
{{- end }}
{{- $_ := include "tidemark.int" (list "terminationGracePeriodSeconds" .Values.terminationGracePeriodSeconds) }}
{{- $cfg := .Values.config | default dict }}
{{- if not (kindIs "map" $cfg) }}
{{- fail "config must be a map (the pipeline configuration)" }}
{{- end }}
{{- $_ := required "config.application_id is required: it names the consumer group, the changelog topic and the transactional ids" (get $cfg "application_id") }}
{{- if or (hasKey $cfg "metrics.port") (and (kindIs "map" (get $cfg "metrics")) (hasKey (get $cfg "metrics") "port")) }}
{{- fail "config: do not set metrics.port in config; set the value metrics.port (the probes and Services use it)" }}
{{- end }}
{{- if or (hasKey $cfg "state.dir") (and (kindIs "map" (get $cfg "state")) (hasKey (get $cfg "state") "dir")) }}
{{- fail "config: do not set state.dir in config; set the value stateDir (the state volume is mounted there)" }}
{{- end }}
{{- range $name, $_ := .Values.kafka.properties }}
{{- if not (regexMatch "^[a-z0-9]+(\\.[a-z0-9]+)*$" $name) }}
{{- fail (printf "kafka.properties: %q cannot be passed as a TIDEMARK_KAFKA_* variable (lower case, digits and dots only): set it under config.kafka" $name) }}
{{- end }}
{{- end }}
{{- range $name, $key := .Values.kafka.secretProperties }}
{{- if not (regexMatch "^[a-z0-9]+(\\.[a-z0-9]+)*$" $name) }}
{{- fail (printf "kafka.secretProperties: %q cannot be passed as a TIDEMARK_KAFKA_* variable (lower case, digits and dots only)" $name) }}
{{- end }}
{{- if hasKey ($.Values.kafka.properties | default dict) $name }}
{{- fail (printf "kafka: %q is in both properties and secretProperties" $name) }}
{{- end }}
{{- if $.Values.secret.create }}
{{- if not (hasKey ($.Values.secret.data | default dict) (toString $key)) }}
{{- fail (printf "kafka.secretProperties.%s: key %q is not in secret.data" $name (toString $key)) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and .Values.secret.create .Values.kafka.existingSecret }}
{{- fail "secret.create and kafka.existingSecret are both set: choose one Secret for kafka.secretProperties" }}
{{- end }}
{{- if and .Values.kafka.secretProperties (not .Values.secret.create) (not .Values.kafka.existingSecret) }}
{{- fail "kafka.secretProperties needs a Secret: set kafka.existingSecret (recommended) or secret.create with secret.data" }}
{{- end }}
{{- range .Values.extraEnv }}
{{- if has .name (list "TIDEMARK_METRICS_PORT" "TIDEMARK_STATE_DIR") }}
{{- fail (printf "extraEnv: %s would move what the chart mounts and probes: set metrics.port / stateDir instead" .name) }}
{{- end }}
{{- end }}
{{- end }}

{{/* The Secret that kafka.secretProperties read from. */}}
{{- define "tidemark.secretName" -}}
{{- if .Values.secret.create }}
{{- include "tidemark.fullname" . }}-kafka
{{- else }}
{{- .Values.kafka.existingSecret }}
{{- end }}
{{- end }}

{{/* The TIDEMARK_KAFKA_* variable of a librdkafka property name. */}}
{{- define "tidemark.kafkaEnvName" -}}
TIDEMARK_KAFKA_{{ . | upper | replace "." "_" }}
{{- end }}

{{/*
The pipeline configuration as JSON: .Values.config with metrics.port and
state.dir set from the values the Pod spec uses.
*/}}
{{- define "tidemark.configJson" -}}
{{- $cfg := deepCopy (.Values.config | default dict) }}
{{- $port := include "tidemark.int" (list "metrics.port" .Values.metrics.port) | atoi }}
{{- $_ := set $cfg "metrics" (merge (dict "port" $port) (get $cfg "metrics" | default dict)) }}
{{- $_ := set $cfg "state" (merge (dict "dir" .Values.stateDir) (get $cfg "state" | default dict)) }}
{{- toPrettyJson $cfg }}
{{- end }}

{{/*
What every pod of the chart shares, the StatefulSet's and the verify
CronJob's: the service account without a token, no Service links, the
image pull Secrets and the pod securityContext. At the indentation of a
pod spec's keys (nindent it).
*/}}
{{- define "tidemark.podCommon" -}}
{{- with .Values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
# tidemark never calls the Kubernetes API.
automountServiceAccountToken: false
# No <SERVICE>_PORT/_SERVICE_HOST variables: a Service named
# "tidemark..." would inject TIDEMARK_* variables, which tidemark
# refuses as unknown options.
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{/*
The environment every tidemark container gets: the kafka.properties and
kafka.secretProperties as TIDEMARK_KAFKA_* variables, then extraEnv. A list
of EnvVar objects (nindent it under env:).
*/}}
{{- define "tidemark.env" -}}
{{- range $name, $value := .Values.kafka.properties }}
- name: {{ include "tidemark.kafkaEnvName" $name }}
  value: {{ include "tidemark.text" $value | quote }}
{{- end }}
{{- range $name, $key := .Values.kafka.secretProperties }}
- name: {{ include "tidemark.kafkaEnvName" $name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "tidemark.secretName" $ }}
      key: {{ toString $key | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Where the ConfigMap's config.json is mounted, read-only. */}}
{{- define "tidemark.configDir" -}}
/etc/tidemark
{{- end }}

{{/* The config volume (a list item, nindent it under volumes:). */}}
{{- define "tidemark.configVolume" -}}
- name: config
  configMap:
    name: {{ include "tidemark.fullname" . }}
{{- end }}

{{/* The verify CronJob's name: at most 52 characters, as its Jobs add 11. */}}
{{- define "tidemark.verifyName" -}}
{{ include "tidemark.fullname" . | trunc 45 | trimSuffix "-" }}-verify
{{- end }}

{{/*
The labels of the verify CronJob's Jobs and pods. Not the StatefulSet's
selector labels (its name is "<name>-verify"): the Services and the
PodDisruptionBudget must not select a verify pod.
*/}}
{{- define "tidemark.verifyLabels" -}}
helm.sh/chart: {{ include "tidemark.chart" . }}
app.kubernetes.io/name: {{ include "tidemark.name" . }}-verify
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: verify
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
