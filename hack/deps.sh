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
# @duckdb/node-api, which reads the Parquet ferry writes), Azurite (the npm
# package azurite, the Azure Storage emulator az:// is tested against). Go tools (staticcheck, actionlint) come from the Go
# module proxy through `go run pkg@version` and need no install.
set -euo pipefail

# `hack/deps.sh bench` installs the benchmarks' references instead: Debian's
# XGBoost, scikit-learn and PyTorch for /usr/bin/python3, and DuckDB (npm) in
# bin/duckdb; `hack/deps.sh testdata` adds ONNX; PyTorch and ONNX write the
# interop fixtures with DuckDB, which writes the Parquet ones.

missing=()
if [ "${1:-}" = bench ] || [ "${1:-}" = testdata ]; then
  mods="xgboost sklearn torch"
  # `hack/deps.sh testdata`: the producers of the interop fixtures as well;
  # bench/onnxbench exports its networks with PyTorch.
  [ "$1" = testdata ] && mods="$mods onnx"
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
# npm_tool DIR PACKAGE VERSION [npm flags]: installs an npm package into
# bin/DIR, once per version.
npm_tool() {
  local dir version=$3
  dir="$(cd "$(dirname "$0")/.." && pwd)/bin/$1"
  if [ "$(cat "$dir/version" 2>/dev/null)" = "$version" ]; then
    return 0
  fi
  echo "deps: installing $2 $version into bin/$1"
  rm -rf "$dir" && mkdir -p "$dir" && echo '{}' > "$dir/package.json"
  npm install --prefix "$dir" "${@:4}" --no-audit --no-fund --loglevel=error "$2@$version" >/dev/null
  echo "$version" > "$dir/version"
}
extras() {
  if [ -z "${1:-}" ]; then
    # ONNX Runtime, the independent reference for ONNX models: the npm
    # package onnxruntime-node bundles the runtime's CPU library (its
    # install script, which would fetch more, is not run).
    npm_tool ort onnxruntime-node 1.30.0 --ignore-scripts
    # Azurite, Microsoft's Azure Storage emulator: the real server the az://
    # tests read from.
    npm_tool azurite azurite 3.37.0
  fi
  # DuckDB, the independent writer of the Parquet fixtures and the
  # reference of the Parquet benchmark: the npm package @duckdb/node-api.
  npm_tool duckdb @duckdb/node-api 1.5.6-r.1
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
