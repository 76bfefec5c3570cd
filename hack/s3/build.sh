#!/usr/bin/env bash
# Builds versitygw (the Versity S3 Gateway, Apache 2.0), the S3-compatible
# server the object storage tests read from, into bin/s3/versitygw from the
# Go module proxy (hack/s3, a module of its own). About two minutes the first
# time; after that a stamp of the module's go.mod/go.sum skips it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/bin/s3
stamp=$(cat "$root"/hack/s3/go.{mod,sum} | sha256sum | cut -c1-16)
if [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ] && [ -x "$out/versitygw" ]; then
  exit 0
fi
mkdir -p "$out"
echo "building versitygw into $out (about two minutes the first time)" >&2
(cd "$root/hack/s3" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/versitygw" github.com/versity/versitygw/cmd/versitygw)
echo "$stamp" > "$out/.stamp"
