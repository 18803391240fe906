{{/* Names, labels and the settings every Portico pod shares. */}}

{{- define "portico.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The four services and the console: what each runs, where it listens, whom it talks to. */}}
{{- define "portico.components" -}}
linkIssuer:
  name: link-issuer
  module: link_issuer
  port: 8101
  portSetting: PORTICO_LINK_ISSUER_PORT
  needs: [postgres, kafka]  # Redis was the console's (sessions, sign-in counters)
  callers: [proxy, portal-session]  # portal-session asks link-issuer before a link opens a session
portalSession:
  name: portal-session
  module: portal_session
  port: 8102
  portSetting: PORTICO_PORTAL_SESSION_PORT
  needs: [redis, kafka]
  calls: [connectionConfig, linkIssuer]
  callers: [proxy]
connectionConfig:
  name: connection-config
  module: connection_config
  port: 8103
  portSetting: PORTICO_CONNECTION_CONFIG_PORT
  needs: [postgres, kafka, identityProviders]
  callers: [proxy, portal-session, console]
audit:
  name: audit
  module: audit
  port: 8104
  portSetting: PORTICO_AUDIT_PORT
  needs: [postgres, kafka]
  callers: [proxy, console]
# The operator console: link-issuer's code, database and secrets in a Deployment of its own, so that
# sign-in storms (argon2) and audit exports get their own CPU instead of link issuance's. Its events
# go through link-issuer's outbox table: no Kafka.
console:
  name: console
  module: link_issuer.console
  port: 8105
  portSetting: PORTICO_CONSOLE_PORT
  secretsOf: linkIssuer
  needs: [postgres, redis]
  calls: [connectionConfig, audit]  # connections as of now; the audit log, its verification and exports
  callers: [proxy]
{{- end -}}

{{/* shared/events.py ALL_TOPICS */}}
{{- define "portico.topics" -}}
[portico.links, portico.sessions, portico.connections]
{{- end -}}

{{- define "portico.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: portico
app.kubernetes.io/version: {{ .root.Values.image.tag | quote }}
{{ include "portico.selectorLabels" . }}
{{- end -}}

{{- define "portico.selectorLabels" -}}
app.kubernetes.io/name: portico
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "portico.image" -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}

{{/* Pod-level lock-down shared by every pod: no API token, no service links, seccomp. */}}
{{- define "portico.podSecurity" -}}
automountServiceAccountToken: false
# Kubernetes would otherwise inject PORTICO_LINK_ISSUER_PORT=tcp://… for the Service of that name,
# which the settings read as the port number.
enableServiceLinks: false
securityContext:
  runAsNonRoot: true
  runAsUser: {{ .uid }}
  runAsGroup: {{ .uid }}
  fsGroup: {{ .uid }}
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{- define "portico.containerSecurity" -}}
securityContext:
  runAsNonRoot: true
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: [ALL]
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{- define "portico.topologySpread" -}}
{{- $constraints := list -}}
{{- $selector := dict "matchLabels" (include "portico.selectorLabels" . | fromYaml) -}}
{{- range .root.Values.topologySpreadConstraints -}}
{{- $constraints = append $constraints (merge (dict "labelSelector" $selector "matchLabelKeys" (list "pod-template-hash")) .) -}}
{{- end -}}
{{- with $constraints }}
topologySpreadConstraints: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Settings the chart owns: refused in .Values.config so each has one source. */}}
{{- define "portico.reservedSettings" -}}
[PORTICO_PUBLIC_URL, PORTICO_HTTP_HOST, PORTICO_LINK_ISSUER_PORT, PORTICO_PORTAL_SESSION_PORT,
 PORTICO_CONNECTION_CONFIG_PORT, PORTICO_AUDIT_PORT, PORTICO_CONSOLE_PORT, PORTICO_CONNECTION_CONFIG_INTERNAL_URL,
 PORTICO_AUDIT_INTERNAL_URL, PORTICO_LINK_ISSUER_INTERNAL_URL,
 PORTICO_REDIS_URL, PORTICO_KAFKA_BOOTSTRAP_SERVERS, PORTICO_KAFKA_TOPIC_PARTITIONS,
 PORTICO_KAFKA_REPLICATION_FACTOR, PORTICO_KAFKA_SECURITY_PROTOCOL, PORTICO_KAFKA_SASL_MECHANISM,
 PORTICO_KAFKA_SASL_USERNAME, PORTICO_KAFKA_SSL_CA_FILE]
{{- end -}}

{{- define "portico.kafkaUsesSasl" -}}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol }}true{{ end -}}
{{- end -}}

{{- define "portico.kafkaUsesTls" -}}
{{- if has .Values.kafka.securityProtocol (list "SSL" "SASL_SSL") }}true{{ end -}}
{{- end -}}

{{/* Non-secret Kafka settings: the ConfigMap's, and the topic job's inline env. */}}
{{- define "portico.kafkaSettings" -}}
PORTICO_KAFKA_BOOTSTRAP_SERVERS: {{ .Values.kafka.bootstrapServers | quote }}
PORTICO_KAFKA_TOPIC_PARTITIONS: {{ .Values.kafka.topics.partitions | quote }}
PORTICO_KAFKA_REPLICATION_FACTOR: {{ .Values.kafka.topics.replicationFactor | quote }}
PORTICO_KAFKA_SECURITY_PROTOCOL: {{ .Values.kafka.securityProtocol | quote }}
{{- if include "portico.kafkaUsesSasl" . }}
PORTICO_KAFKA_SASL_MECHANISM: {{ .Values.kafka.sasl.mechanism | quote }}
PORTICO_KAFKA_SASL_USERNAME: {{ .Values.kafka.sasl.username | quote }}
{{- end }}
{{- if and (include "portico.kafkaUsesTls" .) .Values.kafka.tls.caSecret }}
PORTICO_KAFKA_SSL_CA_FILE: {{ printf "/etc/portico/kafka-ca/%s" .Values.kafka.tls.caKey | quote }}
{{- end }}
{{- end -}}

{{- define "portico.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
{{- end -}}

{{- define "portico.kafkaSecretEnv" -}}
{{- if include "portico.kafkaUsesSasl" . }}
{{ include "portico.secretEnv" (dict "name" "PORTICO_KAFKA_SASL_PASSWORD" "secret" .Values.kafka.sasl.existingSecret "key" .Values.kafka.sasl.passwordKey) }}
{{- end }}
{{- end -}}

{{/* Secrets one service reads: each gets only its own (the console link-issuer's, Kafka's aside). */}}
{{- define "portico.serviceSecretEnv" -}}
{{- $root := .root -}}
{{- $s := $root.Values.secrets -}}
{{- $pg := $root.Values.postgres -}}
{{- $key := .component.secretsOf | default .key -}}
{{ include "portico.secretEnv" (dict "name" "PORTICO_INTERNAL_TOKEN" "secret" $s.existingSecret "key" $s.keys.internalToken) }}
{{- if has $key (list "linkIssuer" "portalSession") }}
{{ include "portico.secretEnv" (dict "name" "PORTICO_LINK_SIGNING_KEY" "secret" $s.existingSecret "key" $s.keys.linkSigningKey) }}
{{- end }}
{{- if eq $key "linkIssuer" }}
{{ include "portico.secretEnv" (dict "name" "PORTICO_LINK_ISSUER_DATABASE_URL" "secret" $pg.linkIssuer.existingSecret "key" $pg.linkIssuer.key) }}
{{- if $s.keys.bootstrapApiKey }}
{{ include "portico.secretEnv" (dict "name" "PORTICO_BOOTSTRAP_API_KEY" "secret" $s.existingSecret "key" $s.keys.bootstrapApiKey) }}
{{- end }}
{{- end }}
{{- if eq $key "connectionConfig" }}
{{ include "portico.secretEnv" (dict "name" "PORTICO_ENCRYPTION_KEYS" "secret" $s.existingSecret "key" $s.keys.encryptionKeys) }}
{{ include "portico.secretEnv" (dict "name" "PORTICO_CONNECTION_CONFIG_DATABASE_URL" "secret" $pg.connectionConfig.existingSecret "key" $pg.connectionConfig.key) }}
{{- end }}
{{- if eq $key "audit" }}
{{ include "portico.secretEnv" (dict "name" "PORTICO_AUDIT_DATABASE_URL" "secret" $pg.audit.existingSecret "key" $pg.audit.key) }}
{{ include "portico.secretEnv" (dict "name" "PORTICO_AUDIT_WRITER_DATABASE_URL" "secret" $pg.auditWriter.existingSecret "key" $pg.auditWriter.key) }}
{{- if $s.keys.auditCheckpointSigningKey }}
{{ include "portico.secretEnv" (dict "name" "PORTICO_AUDIT_CHECKPOINT_SIGNING_KEY" "secret" $s.existingSecret "key" $s.keys.auditCheckpointSigningKey) }}
{{- end }}
{{- end }}
{{- if and (has "redis" .component.needs) $root.Values.redis.existingSecret }}
{{ include "portico.secretEnv" (dict "name" "PORTICO_REDIS_URL" "secret" $root.Values.redis.existingSecret "key" $root.Values.redis.urlKey) }}
{{- end }}
{{- if has "kafka" .component.needs }}
{{- include "portico.kafkaSecretEnv" $root }}
{{- end }}
{{- end -}}

{{/* CA bundles for Kafka, Redis and Postgres TLS, each mounted where the settings point. */}}
{{- define "portico.caVolumes" -}}
{{- $root := .root -}}
{{- if and (include "portico.kafkaUsesTls" $root) $root.Values.kafka.tls.caSecret (has "kafka" .needs) }}
- name: kafka-ca
  secret:
    secretName: {{ $root.Values.kafka.tls.caSecret }}
    items: [{key: {{ $root.Values.kafka.tls.caKey }}, path: {{ $root.Values.kafka.tls.caKey }}}]
{{- end }}
{{- if and $root.Values.redis.tls.caSecret (has "redis" .needs) }}
- name: redis-ca
  secret:
    secretName: {{ $root.Values.redis.tls.caSecret }}
    items: [{key: {{ $root.Values.redis.tls.caKey }}, path: {{ $root.Values.redis.tls.caKey }}}]
{{- end }}
{{- if and $root.Values.postgres.tls.caSecret (has "postgres" .needs) }}
- name: postgres-ca
  secret:
    secretName: {{ $root.Values.postgres.tls.caSecret }}
    items: [{key: {{ $root.Values.postgres.tls.caKey }}, path: {{ $root.Values.postgres.tls.caKey }}}]
{{- end }}
{{- end -}}

{{- define "portico.caMounts" -}}
{{- $root := .root -}}
{{- if and (include "portico.kafkaUsesTls" $root) $root.Values.kafka.tls.caSecret (has "kafka" .needs) }}
- {name: kafka-ca, mountPath: /etc/portico/kafka-ca, readOnly: true}
{{- end }}
{{- if and $root.Values.redis.tls.caSecret (has "redis" .needs) }}
- {name: redis-ca, mountPath: /etc/portico/redis-ca, readOnly: true}
{{- end }}
{{- if and $root.Values.postgres.tls.caSecret (has "postgres" .needs) }}
- {name: postgres-ca, mountPath: /etc/portico/postgres-ca, readOnly: true}
{{- end }}
{{- end -}}

{{/* Egress rules for the dependencies a pod needs, from .Values.networkPolicy. */}}
{{- define "portico.egressRules" -}}
{{- $np := .root.Values.networkPolicy -}}
{{- range (prepend .needs "dns") }}
{{- $rule := get $np . }}
- ports: {{- toYaml $rule.ports | nindent 4 }}
  {{- with $rule.to }}
  to: {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end -}}
