#!/usr/bin/env bash
# Installs what ferry's integration tests run against, from Debian's
# repositories, when it is not installed yet: podman with runc (runs the
# action image), skopeo (checks images independently), the CNCF
# distribution registry, XGBoost for /usr/bin/python3 (a real producer
# of models that ferry imports and scores) and scikit-learn (the reference
# the metrics are checked against). Go tools (staticcheck, actionlint) come from the Go
# module proxy through `go run pkg@version` and need no install.
set -euo pipefail

# `hack/deps.sh bench` installs the benchmarks' references instead: Debian's
# XGBoost and scikit-learn for /usr/bin/python3; `hack/deps.sh testdata` adds
# PyTorch and ONNX, which write the interop fixtures.

missing=()
if [ "${1:-}" = bench ] || [ "${1:-}" = testdata ]; then
  mods="xgboost sklearn"
  # `hack/deps.sh testdata`: the producers of the interop fixtures as well.
  [ "$1" = testdata ] && mods="$mods torch onnx"
  for mod in $mods; do
    /usr/bin/python3 -c "import $mod" >/dev/null 2>&1 || missing+=("python3-$mod")
  done
  what="python3 modules: $mods"
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
  )
  for cmd in "${!want[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${want[$cmd]}")
  done
  /usr/bin/python3 -c "import xgboost" >/dev/null 2>&1 || missing+=(python3-xgboost)
  /usr/bin/python3 -c "import sklearn" >/dev/null 2>&1 || missing+=(python3-sklearn)
  what="podman, runc, skopeo, docker-registry, busybox-static (act's job image), python3-xgboost and python3-sklearn"
fi
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: $what are installed"
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
