#!/usr/bin/env bash
# Helm for the chart in deploy/helm/portico: `install` builds the pinned helm into a cache outside git
# (from the Go module proxy, once), `check` lints and renders the chart with the defaults and with
# the production-like values, `path` prints where helm is.
set -euo pipefail
cd "$(dirname "$0")/../.."

HELM_VERSION=v3.22.0
CACHE_DIR="${PORTICO_CACHE_DIR:-$HOME/.cache/portico}"
HELM="$CACHE_DIR/bin/helm"
CHART=deploy/helm/portico
KUBE_VERSION=1.31.0

installed_version() {
  [ -x "$HELM" ] && "$HELM" version --template '{{.Version}}' 2>/dev/null || true
}

install() {
  if [ "$(installed_version)" = "$HELM_VERSION" ]; then return 0; fi
  local go
  go="$(command -v go || echo /usr/local/go/bin/go)"
  [ -x "$go" ] || { echo "helm: Go is needed to build helm $HELM_VERSION (go install); none found" >&2; return 1; }
  echo "helm: building $HELM_VERSION into $CACHE_DIR/bin (a few minutes, once)" >&2
  mkdir -p "$CACHE_DIR/bin"
  # The version is stamped the way helm's own release build does, so `helm version` names it.
  GOBIN="$CACHE_DIR/bin" CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod \
    "$go" install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  [ "$(installed_version)" = "$HELM_VERSION" ] || { echo "helm: built, but it does not report $HELM_VERSION" >&2; return 1; }
}

check() {
  install
  "$HELM" lint --strict "$CHART"
  "$HELM" lint --strict "$CHART" -f "$CHART/ci/production-values.yaml"
  "$HELM" template portico "$CHART" --kube-version "$KUBE_VERSION" >/dev/null
  "$HELM" template portico "$CHART" --kube-version "$KUBE_VERSION" -f "$CHART/ci/production-values.yaml" >/dev/null
  echo "helm: $CHART lints and renders with the defaults and ci/production-values.yaml"
}

case "${1:-}" in
  install) install ;;
  check) check ;;
  path) echo "$HELM" ;;
  *) echo "usage: $0 install|check|path" >&2; exit 2 ;;
esac
