#!/usr/bin/env bash
# `make down`: stop exactly what `make up` started (by recorded PID), in reverse order.
source "$(dirname "$0")/common.sh"
here="$(dirname "$0")"
bash "$here/prometheus.sh" stop  # only if `make up METRICS=1` started it
bash "$here/nginx.sh" stop
bash "$here/services.sh" stop
bash "$here/kafka.sh" stop
bash "$here/redis.sh" stop
bash "$here/postgres.sh" stop
