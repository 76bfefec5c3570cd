#!/usr/bin/env bash
# Installs what ferry's integration tests run against, from Debian's
# repositories, when it is not installed yet: podman with runc (runs the
# action image), skopeo (checks images independently), the CNCF
# distribution registry, containerd and the CNI plugins (the local
# cluster's real node), XGBoost for /usr/bin/python3 (a real producer
# of models that ferry imports and scores) and scikit-learn (the reference
# the metrics are checked against), Prometheus (a source of the live counts
# ferry monitor reads), node with ONNX Runtime (the npm package
# onnxruntime-node, the reference for ONNX models), DuckDB (the npm package
# @duckdb/node-api, which reads the Parquet ferry writes). Go tools (staticcheck, actionlint) come from the Go
# module proxy through `go run pkg@version` and need no install.
set -euo pipefail

# `hack/deps.sh bench` installs the benchmarks' references instead: Debian's
# XGBoost and scikit-learn for /usr/bin/python3, and DuckDB (npm) in
# bin/duckdb; `hack/deps.sh testdata` adds PyTorch and ONNX, which write the
# interop fixtures with DuckDB, which writes the Parquet ones.

missing=()
if [ "${1:-}" = bench ] || [ "${1:-}" = testdata ]; then
  mods="xgboost sklearn"
  # `hack/deps.sh testdata`: the producers of the interop fixtures as well.
  [ "$1" = testdata ] && mods="$mods torch onnx"
  for mod in $mods; do
    /usr/bin/python3 -c "import $mod" >/dev/null 2>&1 || missing+=("python3-$mod")
  done
  what="python3 modules: $mods"
  command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
  what="$what, node and npm (DuckDB)"
  if [ "$1" = bench ]; then
    /usr/bin/python3 -c "import flask" >/dev/null 2>&1 || missing+=(python3-flask)
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
    what="$what, flask and wrk"
  fi
else
  # command -> Debian package
  declare -A want=(
    [podman]=podman
    [runc]=runc
    [skopeo]=skopeo
    [docker-registry]=docker-registry
    [busybox]=busybox-static
    [containerd]=containerd
    [ip]=iproute2
    [prometheus]=prometheus
  )
  for cmd in "${!want[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${want[$cmd]}")
  done
  /usr/bin/python3 -c "import xgboost" >/dev/null 2>&1 || missing+=(python3-xgboost)
  /usr/bin/python3 -c "import sklearn" >/dev/null 2>&1 || missing+=(python3-sklearn)
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  what="podman, runc, skopeo, docker-registry, busybox-static (act's job image), containerd, iproute2 and the CNI plugins (the local cluster's real node), prometheus (a source of ferry monitor's counts), python3-xgboost, python3-sklearn, node and npm"
fi
# ONNX Runtime, the independent reference for ONNX models: the npm package
# onnxruntime-node bundles the runtime's CPU library (its install script,
# which would fetch more, is not run), into bin/ort.
ort() {
  local version=1.30.0 dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/bin/ort"
  if [ "$(cat "$dir/version" 2>/dev/null)" = "$version" ]; then
    return 0
  fi
  echo "deps: installing onnxruntime-node $version into bin/ort"
  rm -rf "$dir" && mkdir -p "$dir"
  npm install --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error "onnxruntime-node@$version" >/dev/null
  echo "$version" > "$dir/version"
}
# DuckDB, the independent writer of the Parquet fixtures and the reference
# of the Parquet benchmark: the npm package @duckdb/node-api, into bin/duckdb.
duckdb() {
  local version=1.5.6-r.1 dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/bin/duckdb"
  if [ "$(cat "$dir/version" 2>/dev/null)" = "$version" ]; then
    return 0
  fi
  echo "deps: installing @duckdb/node-api $version into bin/duckdb"
  rm -rf "$dir" && mkdir -p "$dir" && echo '{}' > "$dir/package.json"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "@duckdb/node-api@$version" >/dev/null
  echo "$version" > "$dir/version"
}
extras() {
  if [ -z "${1:-}" ]; then ort; fi
  duckdb
}
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: $what are installed"
  extras "${1:-}"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
extras "${1:-}"
