#!/usr/bin/env bash
# `make up`: start Kafka, Postgres, Redis, the five service processes and the proxy in the background, then
# return once every /readyz answers 200 (or fail naming what is not ready). Safe to run twice.
source "$(dirname "$0")/common.sh"
here="$(dirname "$0")"
# A half-given or unreadable certificate is a one-line error before anything starts.
bash "$here/nginx.sh" check
READY_TIMEOUT_S="${PORTICO_READY_TIMEOUT_S:-90}"
started=$(date +%s.%N)

bash "$here/kafka.sh" start &
kafka_pid=$!
bash "$here/postgres.sh" start
bash "$here/redis.sh" start
wait "$kafka_pid" || die "kafka did not start"

"$PORTICO_VENV/bin/python" -m shared.topics >>"$PORTICO_RUN_DIR/logs/topics.log" 2>&1 \
  || { tail -n 20 "$PORTICO_RUN_DIR/logs/topics.log" >&2; die "could not create the Kafka topics"; }
bash "$here/services.sh" start
bash "$here/nginx.sh" start

declare -A ports=()
for service in "${SERVICES[@]}"; do
  while read -r name port; do ports[$name]=$port; done < <(instances "$service")
done
deadline=$(( $(date +%s) + READY_TIMEOUT_S ))
while :; do
  not_ready=()
  for name in "${!ports[@]}"; do
    pid_alive "$name" || die "$name exited during start-up; last lines of its log:
$(tail -n 20 "$PORTICO_RUN_DIR/logs/$name.log")"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:${ports[$name]}/readyz" || true)
    [ "$code" = 200 ] || not_ready+=("$name")
  done
  [ ${#not_ready[@]} -eq 0 ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then
    for name in "${not_ready[@]}"; do
      log "$name: $(curl -s --max-time 3 "http://127.0.0.1:${ports[$name]}/readyz" || echo 'no answer')"
    done
    die "not ready after ${READY_TIMEOUT_S}s: ${not_ready[*]} (logs in $PORTICO_RUN_DIR/logs)"
  fi
  sleep 0.2
done
# `make up METRICS=1`: Prometheus once the services answer, so its first scrapes find them all.
if [ "${PORTICO_METRICS:-0}" = 1 ]; then bash "$here/prometheus.sh" start; fi
log "Portico is up on http://127.0.0.1:${PORTICO_PROXY_PORT:-8080} in $(printf '%.1f' "$(echo "$(date +%s.%N) - $started" | bc)")s"
