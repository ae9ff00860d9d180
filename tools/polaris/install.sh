#!/usr/bin/env bash
# Builds Polaris (FairwindsOps) once from the Go module proxy into the go-tools cache outside the
# repository (tools/go-tools/install.sh, folder tools/go-tools/polaris). A cached run builds nothing.
# Prints the path of the polaris executable.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bin="$("$here/../go-tools/install.sh" polaris)"
version="$(awk '$1 == "require" && $2 == "github.com/fairwindsops/polaris" { print $3 }' "$here/../go-tools/polaris/go.mod")"
[[ -n "$version" && -x "$bin/polaris-$version" ]] || { echo "polaris $version was not built" >&2; exit 1; }
echo "$bin/polaris-$version"
