#!/usr/bin/env bash
# `make clean` (after `make down`): remove the run directory and the state kept outside it for this
# run directory (common.sh system_state_dir), nothing else.
source "$(dirname "$0")/common.sh"
state=$(system_state_dir postgres)
if [ "$state" != "$PORTICO_RUN_DIR" ] && [ -f "$state/run-dir" ]; then
  rm -rf "$state"
  rmdir --ignore-fail-on-non-empty "$(dirname "$state")"
fi
rm -rf "$PORTICO_RUN_DIR"
