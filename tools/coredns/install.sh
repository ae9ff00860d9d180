#!/usr/bin/env bash
# Builds a small CoreDNS for the split-DNS test (test/edge/coredns.test.ts), once, into a cache outside
# the repository; prints its path. It has only the plugins the test's Corefile uses (bind, errors,
# rewrite, hosts; `import` is part of the Corefile syntax), in CoreDNS's own order, so a few packages of
# github.com/coredns/coredns are compiled instead of all of them.
#
#   tools/coredns/install.sh            # COREDNS_VERSION or 1.10.1
#
# 1.10.1 is older than the CoreDNS current k3s releases ship (1.12 to 1.14) and was bundled with
# earlier ones: the override is checked against the oldest CoreDNS it is likely to meet.
# Cache: ${PLANE_K3S_CACHE:-$HOME/.cache/plane-k3s}/coredns/<version>/coredns (tools/lib/go-tool.sh).
set -euo pipefail
TOOLS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC2034 # read by tools/lib/go-tool.sh
TOOL_NAME=coredns
# shellcheck source=tools/lib/go-tool.sh
source "$TOOLS/lib/go-tool.sh"

version="${1:-${COREDNS_VERSION:-1.10.1}}"
version="${version#v}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { log "not a CoreDNS release: $version (expected x.y.z)"; exit 1; }

cached_go_build coredns "$version" github.com/coredns/coredns 'package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/rewrite"
)

// The order of plugin/plugin.cfg: bind, errors, then rewrite, before the plugins that answer.
func init() { dnsserver.Directives = []string{"bind", "errors", "rewrite", "hosts"} }

func main() { coremain.Run() }' -version "^CoreDNS-${version//./\\.}$"
