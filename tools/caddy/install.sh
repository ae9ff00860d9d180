#!/usr/bin/env bash
# Build the Caddy binary the edge tests run, at the version of the pinned image, once, into a cache
# outside the repository; print its path.
#
#   tools/caddy/install.sh             # version from the Javisi site's edge.caddy.image tag
#   tools/caddy/install.sh 2.11.9      # another version
#   CADDY_VERSION=2.11.9 tools/caddy/install.sh
#
# Cache: ${PLANE_K3S_CACHE:-$HOME/.cache/plane-k3s}/caddy/<version>/caddy. A warm cache (binary and
# stamp present) returns at once. Debian's caddy (2.6.2 in bookworm) is far older than the image, so
# the binary is built from github.com/caddyserver/caddy/v2/cmd/caddy with the Go module proxy.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SITE_FILE="${SITE_CONFIG:-$REPO_ROOT/site/javisi.yaml}"
PLANE_K3S_CACHE="${PLANE_K3S_CACHE:-$HOME/.cache/plane-k3s}"
CADDY_CACHE="$PLANE_K3S_CACHE/caddy"

log() { printf '[caddy] %s\n' "$*" >&2; }

# The image tag is "<version>-alpine" (or "<version>"): docker.io/library/caddy:2.11.9-alpine → 2.11.9.
image_version() {
  sed -nE 's#^[[:space:]]*image:[[:space:]]*["'\'']?[a-z0-9./-]*/caddy:v?([0-9]+\.[0-9]+\.[0-9]+)([-@].*)?["'\'']?[[:space:]]*(\#.*)?$#\1#p' "$1" | head -n1
}

version="${1:-${CADDY_VERSION:-}}"
if [[ -z "$version" ]]; then
  version="$(image_version "$SITE_FILE")"
  [[ -n "$version" ]] || { log "no caddy image with a x.y.z tag in $SITE_FILE (edge.caddy.image)"; exit 1; }
fi
version="${version#v}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { log "not a Caddy release: $version (expected x.y.z)"; exit 1; }

BIN_DIR="$CADDY_CACHE/$version"
BIN="$BIN_DIR/caddy"
STAMP="$BIN_DIR/.complete"
if [[ -x "$BIN" && -f "$STAMP" ]]; then
  log "cache hit: $BIN"
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { log "go is required to build Caddy (https://go.dev/dl, or Debian's golang-go if recent enough)"; exit 1; }

# Module downloads and compiled packages stay in the same cache, so one directory is all CI keeps.
export GOMODCACHE="$CADDY_CACHE/gomod"
export GOCACHE="$CADDY_CACHE/go-build"
export CGO_ENABLED=0
export GOFLAGS="-trimpath -buildvcs=false"
# Never download another toolchain: Caddy's go.mod states the minimum Go it needs.
export GOTOOLCHAIN=local

tmp="$(mktemp -d "${TMPDIR:-/tmp}/caddy-build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
log "cold build of Caddy v$version (go $(go env GOVERSION), -p $(nproc))"
# A throwaway module whose main package imports Caddy's command and standard modules, as Caddy's own
# release build does: Caddy is then a dependency at exactly this version (`caddy version` reports it)
# and MVS selects Caddy's own dependency versions.
cat > "$tmp/main.go" <<'GO'
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func main() { caddycmd.Main() }
GO
(
  cd "$tmp"
  go mod init plane.local/caddy-build >/dev/null 2>&1
  # Quiet when it works (it lists every module it adds); the log is shown when it does not.
  if ! { go get "github.com/caddyserver/caddy/v2@v$version" && go mod tidy; } >"$tmp/resolve.log" 2>&1; then
    cat "$tmp/resolve.log" >&2
    exit 1
  fi
  go build -ldflags "-s -w" -o "$tmp/caddy" .
)
reported="$("$tmp/caddy" version | awk '{print $1}')"
[[ "$reported" == "v$version" ]] || { log "built binary reports $reported, expected v$version"; exit 1; }

mkdir -p "$BIN_DIR"
mv -f "$tmp/caddy" "$BIN"
# The stamp is written last: an interrupted build is never taken for a warm one.
date -u +%FT%TZ > "$STAMP"
log "built Caddy v$version in $(( $(date +%s) - start ))s: $BIN"
echo "$BIN"
