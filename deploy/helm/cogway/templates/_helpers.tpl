{{/* Name of the chart, or nameOverride. */}}
{{- define "cogway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name, with the chart name unless it contains it. */}}
{{- define "cogway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "cogway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cogway.labels" -}}
helm.sh/chart: {{ include "cogway.chart" . }}
{{ include "cogway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "cogway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cogway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cogway.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret with the database URL, Redis URL, JWT secret and admin key. */}}
{{- define "cogway.secretName" -}}
{{- default (include "cogway.fullname" .) .Values.existingSecret }}
{{- end }}

{{- define "cogway.modelsClaimName" -}}
{{- default (printf "%s-models" (include "cogway.fullname" .)) .Values.models.persistence.existingClaim }}
{{- end }}

{{- define "cogway.blobsClaimName" -}}
{{- default (printf "%s-blobs" (include "cogway.fullname" .)) .Values.blobs.persistence.existingClaim }}
{{- end }}

{{/* Whether the directory blob backend has its shared volume (a claim of this chart or an existing one). */}}
{{- define "cogway.blobsVolume" -}}
{{- if and (eq .Values.blobs.backend "directory") .Values.blobs.persistence.enabled }}true{{ end }}
{{- end }}

{{/* Fails the render on settings that cannot work. */}}
{{- define "cogway.validate" -}}
{{- if not .Values.existingSecret }}
{{- if not .Values.postgres.url }}
{{- fail "set postgres.url (postgres://user:pass@host:5432/db) or existingSecret" }}
{{- end }}
{{- if not .Values.redis.url }}
{{- fail "set redis.url (redis://host:6379/0) or existingSecret" }}
{{- end }}
{{- if and .Values.auth.jwtSecret (lt (len .Values.auth.jwtSecret) 32) }}
{{- fail "auth.jwtSecret must have at least 32 characters" }}
{{- end }}
{{- if and .Values.auth.adminKey (lt (len .Values.auth.adminKey) 16) }}
{{- fail "auth.adminKey must have at least 16 characters" }}
{{- end }}
{{- end }}
{{- if not (has .Values.blobs.backend (list "database" "directory" "s3")) }}
{{- fail "blobs.backend must be database, directory or s3" }}
{{- end }}
{{- if eq .Values.blobs.backend "s3" }}
{{- if not .Values.blobs.s3.bucket }}
{{- fail "blobs.backend s3 needs blobs.s3.bucket (an existing bucket)" }}
{{- end }}
{{- if and (not .Values.existingSecret) (not (and .Values.blobs.s3.accessKeyId .Values.blobs.s3.secretAccessKey)) }}
{{- fail "blobs.backend s3 needs blobs.s3.accessKeyId and blobs.s3.secretAccessKey (or existingSecret)" }}
{{- end }}
{{- end }}
{{- if and (eq .Values.blobs.backend "directory") (not (include "cogway.blobsVolume" .)) }}
{{- fail "blobs.backend directory needs a volume shared by every replica: set blobs.persistence.enabled (and blobs.persistence.existingClaim to use a claim of your own)" }}
{{- end }}
{{- end }}
