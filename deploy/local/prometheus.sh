#!/usr/bin/env bash
# A local Prometheus for `make up METRICS=1`: start|stop|status. Runs /usr/bin/prometheus (Debian package
# `prometheus`) as a process of our own on 127.0.0.1:$PORTICO_PROMETHEUS_PORT (default 9090), never Debian's
# service: config, targets and data in $PORTICO_RUN_DIR/prometheus, log in logs/prometheus.log. It scrapes every
# service instance every 5 s (job = the service, as link-issuer or console; with REPLICAS=2 the second instances
# too) and loads Portico's alert rules, deploy/prometheus/alerts.yml (docs/operating.md).
source "$(dirname "$0")/common.sh"

PORT="${PORTICO_PROMETHEUS_PORT:-9090}"
HOME_DIR="$PORTICO_RUN_DIR/prometheus"
RULES="$PORTICO_ROOT/deploy/prometheus/alerts.yml"

# replicas: as many as PORTICO_REPLICAS, or as the highest instance number services.sh recorded a pid for
# (a stack started with REPLICAS=2 before this script ran without it).
replicas() {
  local most=$PORTICO_REPLICAS file n
  for file in "$PORTICO_RUN_DIR"/pids/*-[0-9]*.pid; do
    [ -e "$file" ] || continue
    n=$(basename "$file" .pid); n=${n##*-}
    [[ $n =~ ^[0-9]+$ ]] && [ "$n" -gt "$most" ] && most=$n
  done
  echo "$most"
}

# write_targets: one file_sd group per service (Prometheus rereads the file when it changes).
write_targets() {
  local service name port first=1 sep
  PORTICO_REPLICAS=$(replicas)
  {
    echo "["
    for service in "${SERVICES[@]}"; do
      [ $first -eq 1 ] || echo ","; first=0
      printf '  {"labels": {"job": "%s"}, "targets": [' "$service"
      sep=""
      while read -r name port; do printf '%s"127.0.0.1:%s"' "$sep" "$port"; sep=", "; done < <(instances "$service")
      printf ']}'
    done
    echo; echo "]"
  } >"$HOME_DIR/targets.json.tmp"
  mv "$HOME_DIR/targets.json.tmp" "$HOME_DIR/targets.json"
}

write_config() {
  cat >"$HOME_DIR/prometheus.yml" <<CONF
# Written by deploy/local/prometheus.sh at each start; edits are lost.
global:
  scrape_interval: 5s
  evaluation_interval: 15s
rule_files:
  - $RULES
scrape_configs:
  - job_name: portico
    metrics_path: /metrics
    file_sd_configs:
      - files: [$HOME_DIR/targets.json]
        refresh_interval: 30s
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:$PORT"]
CONF
}

start() {
  mkdir -p "$HOME_DIR/data"
  write_targets
  if pid_alive prometheus; then log "prometheus already running (pid $(cat "$(pid_file prometheus)")); targets refreshed"; return 0; fi
  [ -x /usr/bin/prometheus ] || die "prometheus is not installed (apt-get install prometheus, or: make install METRICS=1)"
  port_open "$PORT" && die "127.0.0.1:$PORT is taken (Debian's own prometheus service? systemctl disable --now prometheus); set PORTICO_PROMETHEUS_PORT"
  write_config
  /usr/bin/promtool check config "$HOME_DIR/prometheus.yml" >>"$PORTICO_RUN_DIR/logs/prometheus.log" 2>&1 \
    || { tail -n 20 "$PORTICO_RUN_DIR/logs/prometheus.log" >&2; die "the Prometheus config or the alert rules do not load"; }
  setsid /usr/bin/prometheus --config.file="$HOME_DIR/prometheus.yml" --storage.tsdb.path="$HOME_DIR/data" \
    --storage.tsdb.retention.time=7d --web.listen-address="127.0.0.1:$PORT" \
    --web.external-url="http://127.0.0.1:$PORT/" </dev/null >>"$PORTICO_RUN_DIR/logs/prometheus.log" 2>&1 &
  echo $! >"$(pid_file prometheus)"
  wait_for_port prometheus "$PORT" 30
  log "prometheus ready on http://127.0.0.1:$PORT (pid $(cat "$(pid_file prometheus)")), scraping $(grep -o '127.0.0.1:[0-9]*' "$HOME_DIR/targets.json" | wc -l) service instances"
}

status() {
  if pid_alive prometheus; then echo "prometheus: running (pid $(cat "$(pid_file prometheus)"), http://127.0.0.1:$PORT)"; return 0; fi
  echo "prometheus: not running"; return 3
}

case "${1:-}" in
  start) start ;; stop) stop_by_pid prometheus 20 ;; status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
