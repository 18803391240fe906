#!/usr/bin/env bash
# Redemption and issuance one at a time, A against B: two checkouts (e.g. `git worktree add ../before <commit>`,
# each with `make install`), alternated ROUNDS times, each run on fresh data (make clean between runs). They
# use the same ports, so only one stack is up at a time; any stack running must be stopped first.
#   bash bench/ab_links.sh ../before . 3        # logs in bench/results/ab-<label>-<round>.log
# Extra environment for B only (e.g. tracing on): B_ENV="OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318".
set -u
a=$(cd "$1" && pwd); b=$(cd "$2" && pwd); rounds=${3:-3}
out="$b/bench/results"; mkdir -p "$out"
run() {  # dir label [env...]
  local dir=$1 label=$2; shift 2
  (cd "$dir" && env "$@" make up >"$out/ab-$label-up.log" 2>&1) || { echo "make up failed in $dir"; return 1; }
  sleep 5
  (cd "$dir" && set -a && . .run/secrets.env && set +a &&
    timeout 600 .venv/bin/python -m bench.links --cycles 2000 --sequential 2000 >"$out/ab-$label.log" 2>&1)
  (cd "$dir" && make down >/dev/null 2>&1 && bash deploy/local/clean.sh >/dev/null 2>&1)
  printf '%-4s %s\n' "$label" "$(grep -E 'redeem, measured by the proxy|generate, measured by the proxy' "$out/ab-$label.log" | tr -s ' ' | tr '\n' ';')"
}
for round in $(seq "$rounds"); do
  run "$b" "b-$round" ${B_ENV:-} || exit 1
  run "$a" "a-$round" || exit 1
done
