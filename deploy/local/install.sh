#!/usr/bin/env bash
# What `make up` / `make run` (and, with --tests, `make test` and CI) need on this machine, installed once:
# Debian packages (as root: one `apt-get update`, then `apt-get install` of what is missing; otherwise the
# exact command to run, and exit 1) and the Kafka jars (Maven, into $PORTICO_CACHE_DIR; with --tests also
# Keycloak and a Java 21+ for it where Debian has one). The virtualenv
# is the Makefile's part. The one list of packages lives here.
#
#   bash deploy/local/install.sh           # to run Portico
#   bash deploy/local/install.sh --tests   # and to run its tests (Chromium, NSS tools, helm, Keycloak)
#   bash deploy/local/install.sh --bench   # and to run make bench (wrk)
source "$(dirname "$0")/common.sh"

# command-or-path → Debian package
RUN_PACKAGES=(
  "redis-server:redis-server"
  "nginx:nginx-light"
  "/usr/lib/postgresql/*/bin/pg_ctl:postgresql"
  "java:openjdk-17-jre-headless"
  "mvn:maven"
  "envsubst:gettext-base"
  "bc:bc"
  "curl:curl"
  "openssl:openssl"
  "runuser:util-linux"
)
TEST_PACKAGES=(
  "/usr/bin/chromium:chromium"            # the portal's and console's browser tests (tests/e2e)
  "certutil:libnss3-tools"                # the https suite's Chromium trusts its test CA
  "unzip:unzip"                           # unpacks Keycloak (deploy/local/keycloak.sh)
  "/usr/bin/promtool:prometheus"          # promtool checks and tests the alert rules (tests/unit/deploy)
)
METRICS_PACKAGES=(
  "/usr/bin/prometheus:prometheus"        # make up METRICS=1 (deploy/local/prometheus.sh)
)
BENCH_PACKAGES=(
  "wrk:wrk"                               # make bench's capacity figures: a native load generator
)

have() {
  case $1 in
    /*) compgen -G "$1" >/dev/null ;;
    *) command -v "$1" >/dev/null ;;
  esac
}

missing_packages() {
  local entry
  for entry in "$@"; do have "${entry%%:*}" || echo "${entry##*:}"; done
}

wanted=("${RUN_PACKAGES[@]}")
[ "${1:-}" = --tests ] && wanted+=("${TEST_PACKAGES[@]}")
[ "${1:-}" = --bench ] && wanted+=("${BENCH_PACKAGES[@]}")
[ "${PORTICO_METRICS:-0}" = 1 ] && wanted+=("${METRICS_PACKAGES[@]}")
mapfile -t missing < <(missing_packages "${wanted[@]}")
# Keycloak, the sign-in tests' identity provider, needs Java 21+. Debian packages it from trixie on
# (bookworm stops at 17): ask for it where the package lists have it; elsewhere keycloak.sh says what to do.
if [ "${1:-}" = --tests ] && ! bash "$(dirname "$0")/keycloak.sh" java-home >/dev/null 2>&1; then
  for jdk in openjdk-21-jre-headless openjdk-25-jre-headless; do
    apt-cache policy "$jdk" 2>/dev/null | grep -q 'Candidate: [0-9]' && { missing+=("$jdk"); break; }
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    log "missing Debian packages: ${missing[*]}"
    echo "run: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  log "installing ${missing[*]} (apt-get)"
  apt-get update -q >"$PORTICO_RUN_DIR/logs/apt.log" 2>&1 || { tail -n 20 "$PORTICO_RUN_DIR/logs/apt.log" >&2; die "apt-get update failed"; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$PORTICO_RUN_DIR/logs/apt.log" 2>&1 \
    || { tail -n 20 "$PORTICO_RUN_DIR/logs/apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
  # Debian's prometheus package enables its own service (every interface, port 9090); ours is
  # deploy/local/prometheus.sh, on loopback. Stop and disable the one we just installed.
  if [[ " ${missing[*]} " == *" prometheus "* ]]; then
    if [ -d /run/systemd/system ]; then systemctl disable --now prometheus >>"$PORTICO_RUN_DIR/logs/apt.log" 2>&1 || true
    else { service prometheus stop; update-rc.d prometheus disable; } >>"$PORTICO_RUN_DIR/logs/apt.log" 2>&1 || true; fi
  fi
fi

bash "$(dirname "$0")/kafka.sh" fetch

if [ "${1:-}" = --tests ]; then
  bash "$(dirname "$0")/keycloak.sh" fetch
  bash "$(dirname "$0")/keycloak.sh" java-home >/dev/null || log "the sign-in tests need Keycloak and fail until then"
  # helm renders the chart for tests/unit/deploy/test_helm_chart.py and the https suite; built from source with Go.
  bash "$PORTICO_ROOT/deploy/helm/tools.sh" install >"$PORTICO_RUN_DIR/logs/helm-install.log" 2>&1 \
    || log "helm could not be built (see $PORTICO_RUN_DIR/logs/helm-install.log); the tests that need it will say so"
fi
