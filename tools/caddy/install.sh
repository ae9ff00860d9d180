#!/usr/bin/env bash
# Builds the Caddy the edge tests run, at the version of the pinned image, once, into a cache outside
# the repository; prints its path.
#
#   tools/caddy/install.sh             # version from the site's edge.caddy.image tag
#   tools/caddy/install.sh 2.11.9      # another version
#   CADDY_VERSION=2.11.9 tools/caddy/install.sh
#
# Cache: ${PLANE_K3S_CACHE:-$HOME/.cache/plane-k3s}/caddy/<version>/caddy (tools/lib/go-tool.sh).
# Debian's caddy (2.6.2 in bookworm) is far older than the image, so the binary is built from
# github.com/caddyserver/caddy/v2 with the Go module proxy; its main package is the one Caddy's own
# release build uses (the command and the standard modules), so `caddy version` reports the release.
set -euo pipefail
TOOLS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC2034 # read by tools/lib/go-tool.sh
TOOL_NAME=caddy
# shellcheck source=tools/lib/go-tool.sh
source "$TOOLS/lib/go-tool.sh"

SITE_FILE="${SITE_CONFIG:-$TOOLS/../site/javisi.yaml}"

# The image tag is "<version>-alpine" (or "<version>"): docker.io/library/caddy:2.11.9-alpine → 2.11.9.
# Every match read, then the first kept: `sed … | head -n1` under pipefail fails (SIGPIPE, exit 141,
# no message) when sed writes after head has exited.
image_version() {
  local versions
  versions="$(sed -nE 's#^[[:space:]]*image:[[:space:]]*["'\'']?[a-z0-9./-]*/caddy:v?([0-9]+\.[0-9]+\.[0-9]+)([-@].*)?["'\'']?[[:space:]]*(\#.*)?$#\1#p' "$1")"
  printf '%s\n' "${versions%%$'\n'*}"
}

version="${1:-${CADDY_VERSION:-}}"
if [[ -z "$version" ]]; then
  version="$(image_version "$SITE_FILE")"
  [[ -n "$version" ]] || { log "no caddy image with a x.y.z tag in $SITE_FILE (edge.caddy.image)"; exit 1; }
fi
version="${version#v}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { log "not a Caddy release: $version (expected x.y.z)"; exit 1; }

cached_go_build caddy "$version" github.com/caddyserver/caddy/v2 'package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func main() { caddycmd.Main() }' version "^v${version//./\\.} "
