#!/bin/sh
# Installs the released ferry binary for this runner (linux or darwin, amd64
# or arm64) under $RUNNER_TEMP and adds it to $GITHUB_PATH, after checking
# its sha256 against the release's checksums.txt. Any failure stops the step:
# an unverified binary is never put on PATH.
set -eu

fail() {
  echo "::error title=ferry setup::$*"
  exit 1
}

case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) fail "no ferry release for $(uname -s): releases are built for Linux and macOS" ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) fail "no ferry release for the $(uname -m) architecture: releases are built for amd64 and arm64" ;;
esac
case "$FERRY_VERSION" in
  "" | *[!0-9A-Za-z.+-]*) fail "input version: \"$FERRY_VERSION\" is not a release number such as 0.1.0" ;;
esac

file="ferry_${os}_${arch}"
base="${FERRY_DOWNLOAD_URL%/}/v${FERRY_VERSION}"
dir="${RUNNER_TEMP:-/tmp}/ferry-${FERRY_VERSION}/bin"
mkdir -p "$dir"

fetch() { # URL FILE
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    fail "neither curl nor wget is on this runner"
  fi
}

fetch "$base/checksums.txt" "$dir/checksums.txt" || fail "download $base/checksums.txt failed: is v$FERRY_VERSION released?"
fetch "$base/$file" "$dir/$file.download" || fail "download $base/$file failed"

want=$(awk -v f="$file" '$2 == f || $2 == "*" f { print $1 }' "$dir/checksums.txt")
[ -n "$want" ] || fail "checksums.txt of v$FERRY_VERSION lists no $file"
if command -v sha256sum >/dev/null 2>&1; then
  got=$(sha256sum "$dir/$file.download" | awk '{ print $1 }')
else
  got=$(shasum -a 256 "$dir/$file.download" | awk '{ print $1 }')
fi
if [ "$got" != "$want" ]; then
  rm -f "$dir/$file.download"
  fail "$file of v$FERRY_VERSION has sha256 $got, but checksums.txt says $want: not installed"
fi

mv "$dir/$file.download" "$dir/ferry"
chmod 755 "$dir/ferry"
echo "$dir" >> "$GITHUB_PATH"
echo "path=$dir/ferry" >> "$GITHUB_OUTPUT"
"$dir/ferry" version
