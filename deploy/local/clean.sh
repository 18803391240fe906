#!/usr/bin/env bash
# `make clean` (after `make down`): remove the run directory and the state kept outside it for this
# run directory (common.sh system_state_dir), nothing else.
source "$(dirname "$0")/common.sh"
# `make down` leaves the test suite's Keycloak alone; its pid file is about to go, so stop it first.
if [ -f "$(pid_file keycloak)" ]; then bash "$(dirname "$0")/keycloak.sh" stop; fi
state=$(system_state_dir postgres)
if [ "$state" != "$PORTICO_RUN_DIR" ] && [ -f "$state/run-dir" ]; then
  rm -rf "$state"
  rmdir --ignore-fail-on-non-empty "$(dirname "$state")"
fi
rm -rf "$PORTICO_RUN_DIR"
